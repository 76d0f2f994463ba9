"""Checking a wave's launch (lambdas/domain/wave_check.py) against the in-memory state store and a DRS fake:
each server's launch or failure recorded once, the wave failed by a critical server or the launch timeout."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec import UNSET

from lambdas.domain import wave_check
from lambdas.domain.records import ServerRecord
from lambdas.errors import LaunchFailed
from lambdas.plan import Plan, parse_plan
from lambdas.progress import WaveLaunch
from tests.fakes.runs import RUN_SK, STARTED, open_run
from tests.fakes.state_store import InMemoryStateStore

# The sample plan's second wave: shop-app-1 and shop-app-2 (critical), shop-reports (optional).
APPLICATION = 1
REQUESTED_AT = "2026-03-01T11:05:00.000Z"  # when the wave's last job started
JOB_ID = "drsjob-1"


@dataclass
class FakeDrs:
    job_status: str = "STARTED"
    # source server -> its launchStatus in the job
    launch_status: dict[str, str] = field(default_factory=dict)
    # the source servers of each recovery_instances call
    lookups: list[list[str]] = field(default_factory=list)

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        assert job_ids == [JOB_ID]
        servers = [
            {"sourceServerID": sid, "launchStatus": status, "recoveryInstanceID": _instance(sid)}
            for sid, status in self.launch_status.items()
        ]
        return [{"jobID": JOB_ID, "status": self.job_status, "participatingServers": servers}]

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        assert drill
        self.lookups.append(source_server_ids)
        return [
            {
                "sourceServerID": sid,
                "recoveryInstanceID": _instance(sid),
                "ec2InstanceID": f"i-{sid}",
                "pointInTimeSnapshotDateTime": "2026-03-01T10:55:00+00:00",
            }
            for sid in source_server_ids
        ]


def _instance(source_server_id: str) -> str:
    return f"ri-{source_server_id}"


@dataclass
class World:
    plan: Plan
    drs: FakeDrs = field(default_factory=FakeDrs)
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    now: datetime = datetime(2026, 3, 1, 11, 10, tzinfo=UTC)

    def __post_init__(self) -> None:
        open_run(self.store, self.plan.name, "drill", servers={}, waves={})
        # The wave's servers as launch_wave recorded them.
        self.store.update_run(
            self.plan.name,
            RUN_SK,
            {
                f"servers.{s.source_server_id}": {
                    "name": s.name,
                    "wave": APPLICATION,
                    "launchRequestedAt": REQUESTED_AT,
                }
                for s in self.plan.waves[APPLICATION].servers
            },
        )

    def check(self, requested_at: str = REQUESTED_AT) -> WaveLaunch:
        run = wave_check.CheckRun(self.plan, RUN_SK, STARTED, True)
        ports = wave_check.CheckPorts(drs=self.drs, store=self.store, clock=lambda: self.now)
        return wave_check.check_wave(run, APPLICATION, [JOB_ID], requested_at, ports)

    def server(self, name: str) -> ServerRecord:
        return (self.store.run_record(self.plan.name, RUN_SK).servers or {})[self.id_of(name)]

    def id_of(self, name: str) -> str:
        return next(s.source_server_id for s in self.plan.waves[APPLICATION].servers if s.name == name)

    def launches(self, **statuses: str) -> None:
        """Set launch statuses by server name (hyphens as underscores)."""
        for name, status in statuses.items():
            self.drs.launch_status[self.id_of(name.replace("_", "-"))] = status


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    return World(parse_plan(sample_plan_document))


def test_a_launched_server_is_recorded_once_with_its_instances_and_snapshot_time(world: World) -> None:
    world.launches(shop_app_1="LAUNCHED", shop_app_2="PENDING")
    world.check()
    app = world.server("shop-app-1")
    assert app.recovery_instance_id == _instance(world.id_of("shop-app-1"))
    assert app.ec2_instance_id == f"i-{world.id_of('shop-app-1')}"
    assert app.snapshot_at == "2026-03-01T10:55:00+00:00"
    assert app.launched_at == "2026-03-01T11:10:00.000Z"
    assert world.server("shop-app-2").launched_at is UNSET
    assert world.drs.lookups == [[world.id_of("shop-app-1")]]

    # Later: the first server's record stays as it was; only the newly launched one is looked up.
    world.now += timedelta(minutes=5)
    world.launches(shop_app_2="LAUNCHED")
    world.check()
    assert world.server("shop-app-1").launched_at == "2026-03-01T11:10:00.000Z"
    assert world.server("shop-app-2").launched_at == "2026-03-01T11:15:00.000Z"
    assert world.drs.lookups == [[world.id_of("shop-app-1")], [world.id_of("shop-app-2")]]
    world.check()  # nothing new: no lookup
    assert len(world.drs.lookups) == 2


def test_an_optional_server_that_failed_is_recorded_without_failing_the_wave(world: World) -> None:
    world.launches(shop_app_1="LAUNCHED", shop_app_2="LAUNCHED", shop_reports="FAILED")
    world.drs.job_status = "COMPLETED"
    result = world.check()
    assert (result.status, result.launched, result.failed, result.settled) == ("DONE", 2, 1, 3)
    reports = world.server("shop-reports")
    assert reports.launch_failed is True and reports.launch_failed_at == "2026-03-01T11:10:00.000Z"

    world.now += timedelta(minutes=5)
    world.check()
    assert world.server("shop-reports").launch_failed_at == "2026-03-01T11:10:00.000Z"


def test_a_critical_server_that_failed_fails_the_wave_naming_it(world: World) -> None:
    # The optional server failed too: the wave fails for the critical one only.
    world.launches(shop_app_1="LAUNCHED", shop_app_2="FAILED", shop_reports="FAILED")
    with pytest.raises(
        LaunchFailed, match=r"^wave application: critical servers failed to launch: shop-app-2$"
    ):
        world.check()
    # The failure is recorded before the wave fails.
    assert world.server("shop-app-2").launch_failed is True


def test_the_launch_timeout_runs_from_the_request_and_names_the_pending_servers(world: World) -> None:
    world.launches(shop_app_1="LAUNCHED", shop_app_2="PENDING", shop_reports="PENDING")
    timeout = timedelta(minutes=world.plan.timing.launch_timeout_minutes)
    # Past the timeout from the run's start, within it from the wave's request: still waiting.
    world.now = STARTED + timeout + timedelta(minutes=1)
    assert world.check().status == "PENDING"
    # A request time that does not parse: the timeout runs from the run's start.
    with pytest.raises(LaunchFailed, match=r"timing\.launch_timeout_minutes"):
        world.check(requested_at="")

    world.now = datetime(2026, 3, 1, 11, 5, tzinfo=UTC) + timeout + timedelta(seconds=1)
    with pytest.raises(LaunchFailed) as failed:
        world.check()
    assert str(failed.value) == (
        "wave application: not launched within timing.launch_timeout_minutes "
        f"({world.plan.timing.launch_timeout_minutes}): shop-app-2, shop-reports"
    )


def test_a_completed_wave_answers_done_with_its_counts(world: World) -> None:
    world.launches(shop_app_1="LAUNCHED", shop_app_2="LAUNCHED", shop_reports="LAUNCHED")
    world.drs.job_status = "COMPLETED"
    assert world.check() == WaveLaunch(status="DONE", launched=3, failed=0, pending=0, settled=3)


def test_a_wave_still_launching_answers_pending_with_its_counts(world: World) -> None:
    world.launches(shop_app_1="LAUNCHED", shop_app_2="PENDING")
    assert world.check() == WaveLaunch(status="PENDING", launched=1, failed=0, pending=2, settled=1)
