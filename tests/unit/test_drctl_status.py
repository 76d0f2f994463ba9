"""`drctl status` shows a refused automatic start with its reason."""

from __future__ import annotations

from typing import Any

from drctl.commands import format_status


def status_of(**overrides: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "lifecycle": "NORMAL",
        "running": None,
        "running_workflow": None,
        "waiting_for_approval": False,
        "last_drill": None,
        "last_refusal": None,
        "replication": {"at": None, "max_lag_seconds": None, "servers": {}},
    }
    return {"shop": {**plan, **overrides}}


def test_a_refused_alarm_start_is_shown_with_its_reason() -> None:
    refusal = {
        "at": "2026-12-03T03:12:00Z",
        "workflow": "recovery",
        "trigger": "alarm",
        "alarmName": "dr-shop-azure-outage",
        "reason": "an automatic failover of plan shop already began at ... (flapping guard)",
    }
    text = format_status(status_of(last_refusal=refusal))
    line = next(line for line in text.splitlines() if "refused" in line)
    assert "2026-12-03T03:12:00Z" in line and "dr-shop-azure-outage" in line and "flapping guard" in line


def test_no_refusal_line_when_nothing_was_refused() -> None:
    assert "refused" not in format_status(status_of())
