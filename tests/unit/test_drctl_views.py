"""What drctl shows a person: the status table and the styled progress lines (plain text in a pipe)."""

from __future__ import annotations

from typing import Any

import pytest

from drctl import views


def report(waiting: bool = False) -> dict[str, Any]:
    return {
        "shop": {
            "lifecycle": "FAILED_OVER",
            "running": "arn:aws:states:eu-west-1:1:execution:x" if waiting else None,
            "running_workflow": "recovery" if waiting else None,
            "waiting_for_approval": waiting,
            "last_drill": {"result": "SUCCEEDED", "at": "2026-12-01T03:00:00Z", "rtoSeconds": 312.4},
            "replication": {
                "at": "2026-12-03T10:00:00Z",
                "max_lag_seconds": 4,
                "servers": {
                    "s-0a1b2c3d4e5f60002": {"state": "STALLED", "lagSeconds": None},
                    "s-0a1b2c3d4e5f60001": {"state": "CONTINUOUS", "lagSeconds": 4.2},
                },
            },
        }
    }


def rendered(capsys: pytest.CaptureFixture[str], view: Any) -> list[str]:
    views.console().print(view)
    return capsys.readouterr().out.splitlines()


def test_status_is_a_summary_and_a_table_row_per_server(capsys: pytest.CaptureFixture[str]) -> None:
    lines = rendered(capsys, views.status_view(report()))
    assert lines[:2] == ["plan shop: FAILED_OVER", "  last drill: SUCCEEDED 2026-12-01T03:00:00Z RTO 312s"]
    assert "replication (as of 2026-12-03T10:00:00Z)" in lines
    rows = [line.split() for line in lines if "s-0a1b" in line]
    # Sorted by server, with the cell borders between the columns.
    assert [[cell for cell in row if cell not in "│|"] for row in rows] == [
        ["s-0a1b2c3d4e5f60001", "CONTINUOUS", "4s"],
        ["s-0a1b2c3d4e5f60002", "STALLED", "-"],
    ]
    assert not any("\x1b[" in line for line in lines)  # a pipe gets no colour codes


def test_status_says_a_run_waits_for_approval(capsys: pytest.CaptureFixture[str]) -> None:
    lines = rendered(capsys, views.status_view(report(waiting=True)))
    arn = "arn:aws:states:eu-west-1:1:execution:x"
    assert lines[1] == f"  running: recovery {arn} (waiting for approval: drctl approve|abort)"


def styles(line: str) -> dict[str, str]:
    text = views.progress_line(line)
    return {text.plain[span.start : span.end]: str(span.style) for span in text.spans}


def test_progress_lines_stand_out_by_outcome() -> None:
    assert styles("  [  12.3s] drill            shop-db-1: LAUNCH FAILED") == {
        "  [  12.3s]": "dim",
        "LAUNCH FAILED": "bold red",
    }
    assert styles("  [   1.0s] recovery         run SUCCEEDED")["SUCCEEDED"] == "green"
    assert styles("  [   2.0s] recovery         waiting for operator approval") == {
        "  [   2.0s]": "dim",
        "waiting for operator approval": "bold yellow",
    }
    fence = styles("  [   3.0s] recovery         azure source vm-1: NOT fenced: unreachable")
    assert fence["NOT fenced: unreachable"] == "bold red"
    assert views.progress_line("[literal] text [/b]").plain == "[literal] text [/b]"  # never read as markup
