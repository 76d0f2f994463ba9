"""Drill cleanup (lambdas/domain/drill_cleanup.py) against the in-memory state store and a DRS fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import drill_cleanup
from lambdas.errors import CleanupIncomplete
from lambdas.plan import Plan, parse_plan
from tests.fakes.runs import RUN_SK, STARTED, open_run
from tests.fakes.state_store import InMemoryStateStore


@dataclass
class FakeDrs:
    drill: list[dict[str, Any]] = field(default_factory=list)
    recovery: list[dict[str, Any]] = field(default_factory=list)  # a failover's instances: never touched
    terminated: list[list[str]] = field(default_factory=list)

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        found = self.drill if drill else self.recovery
        return [ri for ri in found if ri["sourceServerID"] in source_server_ids]

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]:
        self.terminated.append(recovery_instance_ids)
        return ["drsjob-terminate"]


@dataclass
class World:
    plan: Plan
    drs: FakeDrs = field(default_factory=FakeDrs)
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    now: datetime = STARTED + timedelta(minutes=30)

    def __post_init__(self) -> None:
        open_run(self.store, self.plan.name, "drill")

    @property
    def ports(self) -> drill_cleanup.CleanupPorts:
        return drill_cleanup.CleanupPorts(drs=self.drs, store=self.store, clock=lambda: self.now)

    @property
    def run(self) -> drill_cleanup.DrillRun:
        return drill_cleanup.DrillRun(self.plan, RUN_SK, STARTED)

    def cleanup(self) -> Any:
        return self.store.run_record(self.plan.name, RUN_SK).cleanup


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    return World(parse_plan(sample_plan_document))


def test_every_drill_instance_of_the_plans_servers_is_terminated_recorded_or_not(world: World) -> None:
    ids = [s.source_server_id for s in world.plan.servers()]
    world.drs.drill = [
        {"sourceServerID": ids[0], "recoveryInstanceID": "i-recorded"},
        {"sourceServerID": ids[1], "recoveryInstanceID": "i-unrecorded"},
        {"sourceServerID": "s-other-plan", "recoveryInstanceID": "i-other"},
    ]
    world.drs.recovery = [{"sourceServerID": ids[2], "recoveryInstanceID": "i-failover"}]

    assert drill_cleanup.terminate(world.run, world.ports) == {
        "terminating": 2,
        "job_ids": ["drsjob-terminate"],
    }
    assert world.drs.terminated == [["i-recorded", "i-unrecorded"]]
    assert world.cleanup() == {
        "requestedAt": "2026-03-01T11:30:00.000Z",
        "recoveryInstanceIds": ["i-recorded", "i-unrecorded"],
        "jobIds": ["drsjob-terminate"],
    }


def test_nothing_to_terminate_starts_no_job(world: World) -> None:
    assert drill_cleanup.terminate(world.run, world.ports) == {"terminating": 0, "job_ids": []}
    assert world.drs.terminated == []


def test_the_check_waits_while_instances_remain_and_records_when_none_is_left(world: World) -> None:
    sid = world.plan.servers()[0].source_server_id
    world.drs.drill = [{"sourceServerID": sid, "recoveryInstanceID": "i-going"}]
    drill_cleanup.terminate(world.run, world.ports)

    pending = drill_cleanup.check(world.run, world.ports)
    assert (pending.status, pending.remaining) == ("PENDING", 1)
    assert "completedAt" not in world.cleanup()

    world.drs.drill = []
    world.now += timedelta(minutes=1)
    done = drill_cleanup.check(world.run, world.ports)
    assert (done.status, done.remaining) == ("DONE", 0)
    assert world.cleanup()["completedAt"] == "2026-03-01T11:31:00.000Z"


def test_instances_left_after_twice_the_launch_timeout_fail_the_check_naming_the_plan(world: World) -> None:
    sid = world.plan.servers()[0].source_server_id
    world.drs.drill = [{"sourceServerID": sid, "recoveryInstanceID": "i-stuck"}]
    limit = timedelta(minutes=world.plan.timing.launch_timeout_minutes * 2)

    world.now = STARTED + limit
    assert drill_cleanup.check(world.run, world.ports).status == "PENDING"  # at the limit: not yet
    world.now = STARTED + limit + timedelta(seconds=1)
    with pytest.raises(CleanupIncomplete, match=r"1 drill instances still not terminated: .* plan shop"):
        drill_cleanup.check(world.run, world.ports)
