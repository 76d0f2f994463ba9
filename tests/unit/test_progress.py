"""The progress an operator sees while a run goes on (drctl watch, start --wait, the local demo)."""

from __future__ import annotations

from typing import Any

from drctl.progress import PER_SERVER_LINES_UP_TO, ProgressPrinter, progress_bar


def servers(count: int, launched: int, healthy: int = 0, failed: int = 0) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for i in range(count):
        entry: dict[str, Any] = {"name": f"srv-{i}", "wave": 0, "launchRequestedAt": "t"}
        if i < launched:
            entry["launchedAt"] = "t"
        if i < healthy:
            entry["healthyAt"] = "t"
        if launched <= i < launched + failed:
            entry["launchFailed"] = "boom"
        entries[f"s-{i:017d}"] = entry
    return entries


def lines_for(*runs: dict[str, Any]) -> list[str]:
    said: list[str] = []
    printer = ProgressPrinter("shop", "drill", emit=said.append)
    for run in runs:
        printer.update(run)
    return said


def test_progress_bar_fills_in_proportion() -> None:
    assert progress_bar(0, 10, width=10) == "[----------]"
    assert progress_bar(5, 10, width=10) == "[#####-----]"
    assert progress_bar(10, 10, width=10) == "[##########]"


def test_small_waves_get_a_line_per_server_and_step_once() -> None:
    run = {"servers": servers(3, launched=2, healthy=1)}
    said = lines_for(run, run)
    assert sum("launched" in line for line in said) == 2
    assert sum("healthy" in line for line in said) == 1
    assert not any("[#" in line for line in said)


def test_large_waves_show_a_bar_per_tenth_and_every_failure() -> None:
    total = PER_SERVER_LINES_UP_TO * 10
    said = lines_for(
        {"servers": servers(total, launched=total // 2)},
        {"servers": servers(total, launched=total // 2 + 1)},  # same tenth: nothing new
        {"servers": servers(total, launched=total - 1, failed=1)},
    )
    bars = [line for line in said if "launched" in line]
    assert len(bars) == 2 and f"{total // 2}/{total} launched" in bars[0]
    assert f"{total - 1}/{total} launched" in bars[1]
    assert sum("LAUNCH FAILED" in line for line in said) == 1
    assert not any("srv-3: launched" in line for line in said)
