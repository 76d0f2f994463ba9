"""The sweep's domain services against the in-memory state store and port-level fakes (no cloud)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from msgspec import UNSET

from lambdas.domain import sweep
from lambdas.domain.records import RunRecord, ServerRecord
from lambdas.domain.waves import job_tags
from lambdas.errors import DrsRefused
from tests.fakes.state_store import InMemoryStateStore

PLAN = "shop"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STOPPED = datetime(2026, 3, 1, 11, 58, tzinfo=UTC)


@dataclass
class FakeExecutions:
    RUNNING = "RUNNING"
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    described: list[str] = field(default_factory=list)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        self.described.append(execution_arn)
        return self.statuses.get(execution_arn, {"status": "MISSING"})


@dataclass
class FakeDrs:
    instances: list[dict[str, Any]] = field(default_factory=list)
    job_list: list[dict[str, Any]] = field(default_factory=list)
    active: list[dict[str, Any]] = field(default_factory=list)
    refuse: bool = False
    terminated: list[list[str]] = field(default_factory=list)

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        assert drill
        return [ri for ri in self.instances if ri["sourceServerID"] in source_server_ids]

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        return [job for job in self.job_list if job["jobID"] in job_ids]

    def active_jobs(self) -> list[dict[str, Any]]:
        return self.active

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]:
        if self.refuse:
            raise DrsRefused("StartTerminateRecoveryInstances", "ConflictException", "server in a job")
        self.terminated.append(recovery_instance_ids)
        return ["drsjob-terminate"]


@dataclass
class Recorder:
    """The on-call channel, the log and the credential clearing, as calls recorded."""

    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self.published.append((subject, message))

    def warning(self, msg: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self.warnings.append((msg, dict(extra or {})))

    def clear_failback_credentials(self, servers: dict[str, Any]) -> dict[str, Any]:
        self.cleared.append(servers)
        return {"at": "2026-03-01T12:00:00.000Z", "cleared": len(servers), "failed": []}


@dataclass
class World:
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    drs: FakeDrs = field(default_factory=FakeDrs)
    seen: Recorder = field(default_factory=Recorder)

    @property
    def ports(self) -> sweep.SweepPorts:
        return sweep.SweepPorts(
            store=self.store,
            executions=self.executions,
            drs=self.drs,
            publish=self.seen.publish,
            clear_failback_credentials=self.seen.clear_failback_credentials,
            log=self.seen,
            now=lambda: NOW,
        )

    def run(self, run_id: str, workflow: str = "drill", status: str = "RUNNING", **fields: Any) -> RunRecord:
        """A run record, holding the plan's lock when RUNNING."""
        arn = f"arn:aws:states:us-east-1:111111111111:execution:dr-{workflow}:{run_id}"
        record = RunRecord(
            sk=f"RUN#2026-03-01T11:00:00.000Z#{run_id}",
            run_id=run_id,
            plan=PLAN,
            workflow=workflow,
            execution_arn=arn,
            status=status,
            started_at="2026-03-01T11:00:00.000Z",
            **fields,
        )
        assert self.store.open_run(record)
        if status == "RUNNING":
            self.store.plans.setdefault(
                PLAN, {"lifecycle": "FAILED_OVER" if workflow == "failback" else "NORMAL"}
            )
            assert self.store.take_lock(PLAN, workflow, arn, "2026-03-01T11:00:00.000Z")
        return record


@pytest.fixture
def world() -> World:
    return World()


def test_a_running_run_whose_execution_ended_is_closed_aborted_exactly_once(world: World) -> None:
    run = world.run("run-1")
    world.executions.statuses[run.execution_arn] = {"status": "ABORTED", "stopDate": STOPPED}

    assert sweep.ended_without_closing(PLAN, world.ports) == ["run-1"]
    assert sweep.ended_without_closing(PLAN, world.ports) == []

    closed = world.store.run_record(PLAN, run.sk)
    assert closed.status == "ABORTED" and closed.closed_by == "sweep"
    assert closed.ended_at == "2026-03-01T12:00:00.000Z"
    assert closed.execution == {"status": "ABORTED", "stoppedAt": "2026-03-01T11:58:00.000Z"}
    state = world.store.plan_state(PLAN)
    assert not state.active_execution and state.lifecycle == "NORMAL" and state.incomplete is False
    [(subject, message)] = world.seen.published
    assert subject == "[DR] drill aborted for shop: run closed ABORTED"
    assert message["lockReleased"] is True and message["lifecycle"] == "NORMAL"
    assert [msg for msg, _ in world.seen.warnings] == [
        "closed a run whose execution ended without closing it"
    ]


def test_runs_still_running_or_already_closed_are_left_alone(world: World) -> None:
    running = world.run("run-running")
    world.run("run-done", status="SUCCEEDED")
    world.executions.statuses[running.execution_arn] = {"status": "RUNNING"}

    assert sweep.ended_without_closing(PLAN, world.ports) == []
    assert world.executions.described == [running.execution_arn]  # a closed run is not asked about
    assert world.store.run_record(PLAN, running.sk).status == "RUNNING"
    assert world.store.plan_state(PLAN).active_execution == running.execution_arn
    assert world.seen.published == []


def test_a_stopped_recovery_that_launched_leaves_the_plan_failed_over_and_incomplete(world: World) -> None:
    run = world.run("run-r", "recovery", servers={"s-1": ServerRecord(recovery_instance_id="ri-1")})
    world.executions.statuses[run.execution_arn] = {
        "status": "FAILED",
        "error": "States.TaskFailed",
        "cause": "x" * 3000,
    }

    assert sweep.ended_without_closing(PLAN, world.ports) == ["run-r"]
    execution = world.store.run_record(PLAN, run.sk).execution
    assert isinstance(execution, dict) and len(execution["cause"]) == 2000
    state = world.store.plan_state(PLAN)
    assert state.lifecycle == "FAILED_OVER" and state.incomplete is True


def test_a_run_closed_whose_lock_another_execution_holds_releases_nothing(world: World) -> None:
    run = world.run("run-old", status="RUNNING")
    world.store.plans[PLAN]["activeExecution"] = (
        "arn:aws:states:us-east-1:111111111111:execution:dr-drill:new"
    )
    world.executions.statuses[run.execution_arn] = {"status": "TIMED_OUT"}

    assert sweep.ended_without_closing(PLAN, world.ports) == ["run-old"]
    [(_, message)] = world.seen.published
    assert message["lockReleased"] is False and message["lifecycle"] is None
    assert world.store.plan_state(PLAN).active_execution.endswith(":new")  # type: ignore[union-attr]


def test_a_stopped_failback_has_its_credentials_cleared(world: World) -> None:
    servers = {"s-1": {"vmId": "/subscriptions/x/vm-1", "name": "web"}}
    run = world.run("run-f", "failback", failback={"servers": servers})
    world.executions.statuses[run.execution_arn] = {"status": "ABORTED"}

    assert sweep.ended_without_closing(PLAN, world.ports) == ["run-f"]
    assert world.seen.cleared == [servers]
    failback = world.store.run_record(PLAN, run.sk).failback
    assert isinstance(failback, dict) and failback["credentialsCleared"]["cleared"] == 1
    assert world.store.plan_state(PLAN).lifecycle == "FAILED_OVER"
    assert world.seen.published[0][1]["credentialsCleared"]["cleared"] == 1


def _drill_instances(world: World) -> None:
    """Instances of an ended drill (on s-1 and s-2), of a running drill (s-3) and from the console (s-4)."""
    world.run("run-ended", status="FAILED")
    world.run("run-live")
    world.drs.job_list = [
        {"jobID": "drsjob-ended", "tags": job_tags(PLAN, "run-ended", 0, 0)},
        {"jobID": "drsjob-live", "tags": job_tags(PLAN, "run-live", 0, 0)},
        {"jobID": "drsjob-console", "tags": {}},
    ]
    world.drs.instances = [
        {"recoveryInstanceID": "i-1", "sourceServerID": "s-1", "jobID": "drsjob-ended"},
        {"recoveryInstanceID": "i-2", "sourceServerID": "s-2", "jobID": "drsjob-ended"},
        {"recoveryInstanceID": "i-3", "sourceServerID": "s-3", "jobID": "drsjob-live"},
        {"recoveryInstanceID": "i-4", "sourceServerID": "s-4", "jobID": "drsjob-console"},
    ]


SERVERS = ["s-1", "s-2", "s-3", "s-4"]


def test_drill_instances_of_ended_drills_are_terminated_and_recorded(world: World) -> None:
    _drill_instances(world)
    world.drs.active = [{"jobID": "drsjob-other", "participatingServers": [{"sourceServerID": "s-2"}]}]

    assert sweep.drill_instances_left(PLAN, SERVERS, world.ports) == ["i-1"]
    assert world.drs.terminated == [["i-1"]]  # s-2 is in a job: left for the next sweep
    assert world.store.plan_state(PLAN).last_drill_sweep == {
        "at": "2026-03-01T12:00:00.000Z",
        "terminated": ["i-1"],
    }


def test_a_termination_drs_refuses_is_left_for_the_next_sweep(world: World) -> None:
    _drill_instances(world)
    world.drs.refuse = True

    assert sweep.drill_instances_left(PLAN, SERVERS, world.ports) == []
    assert world.store.plan_state(PLAN).last_drill_sweep is UNSET
    [(msg, extra)] = world.seen.warnings
    assert msg == "drill instances left for the next sweep" and "ConflictException" in extra["reason"]


def test_without_drill_instances_nothing_is_terminated_or_recorded(world: World) -> None:
    world.run("run-ended", status="FAILED")
    world.drs.job_list = [{"jobID": "drsjob-ended", "tags": job_tags(PLAN, "run-ended", 0, 0)}]

    assert sweep.drill_instances_left(PLAN, SERVERS, world.ports) == []
    assert world.drs.terminated == [] and world.store.plan_state(PLAN).last_drill_sweep is UNSET
