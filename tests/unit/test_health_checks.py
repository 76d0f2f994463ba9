"""Validation of recovered instances (lambdas/domain/health_checks.py) against a fake EC2 and run record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import health_checks
from lambdas.domain.records import ServerRecord
from lambdas.errors import ValidationFailed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSING = {"state": "running", "system": "ok", "instance": "ok"}


class Run:
    """The run record's servers, and the updates the check makes to it."""

    def __init__(self, health: dict[str, dict[str, str]], now: datetime = NOW) -> None:
        self.health = health
        self.updates: list[dict[str, Any]] = []
        self.asked: list[list[str]] = []
        self.ports = health_checks.HealthPorts(
            instance_health=self.instance_health, update_record=self.updates.append, now=lambda: now
        )

    def instance_health(self, instance_ids: list[str]) -> dict[str, dict[str, str]]:
        self.asked.append(instance_ids)
        return {i: self.health[i] for i in instance_ids if i in self.health}


SERVERS = {
    "s-1": ServerRecord(name="web", ec2_instance_id="i-1"),
    "s-2": ServerRecord(name="db", ec2_instance_id="i-2", healthy_at="2026-03-01T11:50:00.000Z"),
    "s-3": ServerRecord(name="batch", ec2_instance_id=None),  # not launched: not checked
}


def test_done_when_every_launched_instance_passes_and_healthy_at_is_set_once() -> None:
    run = Run({"i-1": PASSING, "i-2": PASSING})

    result = health_checks.validate(SERVERS, 30, None, run.ports)

    assert result.status == "DONE" and result.healthy == 2
    assert result.first_checked_at == "2026-03-01T12:00:00.000Z"
    assert run.asked == [["i-1", "i-2"]]
    assert run.updates == [{"servers.s-1.healthyAt": "2026-03-01T12:00:00.000Z"}]  # s-2 keeps its own


def test_pending_while_a_status_check_fails_and_the_first_check_is_kept() -> None:
    run = Run({"i-1": {**PASSING, "instance": "initializing"}, "i-2": PASSING})

    result = health_checks.validate(SERVERS, 30, "2026-03-01T11:45:00.000Z", run.ports)

    assert result.status == "PENDING" and result.waiting == 1
    assert result.first_checked_at == "2026-03-01T11:45:00.000Z"
    assert run.updates == []


def test_an_instance_ec2_does_not_report_is_waited_for() -> None:
    run = Run({"i-2": PASSING})

    result = health_checks.validate(SERVERS, 30, None, run.ports)

    assert result.status == "PENDING" and result.waiting == 1


def test_fails_once_the_checks_have_not_passed_for_longer_than_the_timeout() -> None:
    run = Run({"i-1": {**PASSING, "state": "stopped"}, "i-2": PASSING})
    first = (NOW - timedelta(minutes=31)).isoformat()

    with pytest.raises(ValidationFailed) as failed:
        health_checks.validate(SERVERS, 30, first, run.ports)

    assert str(failed.value) == "status checks not passing after timing.validation_timeout_minutes (30): web"
