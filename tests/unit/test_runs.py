"""The run service (lambdas/domain/runs.py) against the in-memory state store and port-level fakes: one
execution per plan, the lock released at the finish, and the lifecycle rules for an incomplete run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import lifecycle, runs
from lambdas.domain.measure import iso
from lambdas.domain.records import RunRecord
from lambdas.errors import InvalidInput, Refused
from lambdas.inputs import parse_start_request
from lambdas.plan import Plan, parse_plan
from tests.conftest import SAMPLE_PLAN
from tests.fakes.state_store import InMemoryStateStore

PLAN = parse_plan(json.loads(SAMPLE_PLAN.read_text()))
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


class Notify:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self.subjects.append(subject)


class Executions:
    def __init__(self) -> None:
        self.ended: set[str] = set()

    def has_ended(self, execution_arn: str) -> bool:
        return execution_arn in self.ended


class Reports:
    def __init__(self) -> None:
        self.kept: dict[str, dict[str, Any]] = {}

    def report_prefix(self, plan: str, started_at: str, run_id: str) -> str:
        return f"reports/{plan}/{run_id}"

    def put_report(self, prefix: str, report: dict[str, Any], page: str) -> dict[str, str]:
        self.kept[prefix] = report
        return {
            "bucket": "b",
            "json": f"{prefix}.json",
            "html": f"{prefix}.html",
            "uri": f"s3://b/{prefix}.html",
        }


class Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def info(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None:
        pass

    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None:
        self.warnings.append(msg)


@dataclass(frozen=True)
class Run:
    """The run context's fields finish_run reads."""

    plan: str
    workflow: str
    run_id: str
    execution_arn: str
    started_at: datetime
    run_sk: str
    is_drill: bool


@dataclass
class World:
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    notify: Notify = field(default_factory=Notify)
    executions: Executions = field(default_factory=Executions)
    reports: Reports = field(default_factory=Reports)
    log: Log = field(default_factory=Log)
    metrics: list[tuple[str, str, bool]] = field(default_factory=list)
    clock: datetime = T0

    def now(self) -> datetime:
        return self.clock

    def start(self, workflow: str, name: str, plan: Plan = PLAN, **request: str) -> Run:
        execution = runs.Execution(arn(name), name, self.clock, f"RUN#{self.clock.isoformat()}#{name}")
        ports = runs.StartPorts(
            store=self.store, notify=self.notify, log=self.log, clock=self.now, executions=self.executions
        )
        start = parse_start_request({"plan": plan.name, **request})
        runs.start_run(ports, start, plan, workflow, execution)
        self.clock += timedelta(minutes=1)
        return Run(
            plan.name,
            workflow,
            name,
            execution.arn,
            execution.started_at,
            execution.run_sk,
            workflow == "drill",
        )

    def finish(self, run: Run, succeeded: bool, error: dict[str, Any] | None = None) -> dict[str, Any]:
        ports = runs.FinishPorts(
            store=self.store,
            notify=self.notify,
            log=self.log,
            clock=self.now,
            reports=self.reports,
            metrics=lambda plan, workflow, ok, measured: self.metrics.append((plan, workflow, ok)),
        )
        self.clock += timedelta(minutes=1)
        return runs.finish_run(ports, run, PLAN, succeeded, error)

    def record(self, run: Run) -> RunRecord:
        return self.store.run_record(run.plan, run.run_sk)


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:111122223333:execution:dr-drill:{name}"


def test_a_start_takes_the_lock_and_opens_the_run_record() -> None:
    world = World()
    run = world.start("drill", "d1", requested_by="alice")
    state = world.store.plan_state("shop")
    assert (state.active_execution, state.active_workflow, state.lifecycle) == (arn("d1"), "drill", "NORMAL")
    record = world.record(run)
    assert (record.status, record.run_id, record.snapshot, record.took_over_from) == (
        "RUNNING",
        "d1",
        "latest",
        None,
    )
    assert record.trigger == {
        "kind": "manual",
        "alarmName": "",
        "eventId": "",
        "requestedBy": "alice",
        "reason": "",
    }
    assert world.notify.subjects == ["[DR] drill started for shop"]


def test_a_second_start_while_one_runs_is_refused_and_changes_nothing() -> None:
    world = World()
    world.start("drill", "d1")
    before = world.store.plan_state("shop")
    with pytest.raises(Refused) as refused:
        world.start("drill", "d2")
    assert str(refused.value) == (
        f"plan shop already has a running drill execution ({arn('d1')}); wait for it to finish or stop it, "
        "then start again"
    )
    assert world.store.plan_state("shop") == before
    assert [r.run_id for r in world.store.runs("shop")] == ["d1"]
    assert world.notify.subjects == ["[DR] drill started for shop"]  # a manual start is refused to its caller


def test_a_refused_scheduled_start_is_announced_and_kept_for_status() -> None:
    world = World()
    world.start("drill", "d1")
    with pytest.raises(Refused, match="already has a running drill execution"):
        world.start("drill", "d2", trigger="schedule")
    refusal = world.store.plan_state("shop").last_refusal
    assert isinstance(refusal, dict)
    assert (refusal["execution"], refusal["trigger"]) == (arn("d2"), "schedule")
    assert refusal["reason"].startswith("plan shop already has a running drill execution")
    assert world.notify.subjects[-1] == "[DR] drill refused for shop: the schedule started nothing"
    assert world.store.plan_state("shop").active_execution == arn("d1")


def test_a_trigger_pairing_is_checked_before_the_lock() -> None:
    world = World()
    with pytest.raises(InvalidInput, match=r"^trigger: a schedule can only start a drill, not recovery$"):
        world.start("recovery", "r1", trigger="schedule")
    state = world.store.plan_state("shop")
    assert not state.active_execution and not state.lifecycle
    assert isinstance(state.last_refusal, dict) and state.last_refusal["reason"].startswith("trigger: ")
    assert world.store.runs("shop") == []


def test_a_duplicate_trigger_event_starts_no_second_run() -> None:
    world = World()
    run = world.start("drill", "d1", trigger="schedule", event_id="ev-1")
    world.finish(run, succeeded=True)
    with pytest.raises(Refused, match=f"^event ev-1 was already handled by {arn('d1')}; "):
        world.start("drill", "d2", trigger="schedule", event_id="ev-1")
    assert [r.run_id for r in world.store.runs("shop")] == ["d1"]


def test_the_lock_of_an_execution_that_ended_without_it_is_taken_over() -> None:
    world = World()
    stale = world.start("drill", "d1")
    world.executions.ended.add(arn("d1"))
    run = world.start("drill", "d2")
    assert world.store.plan_state("shop").active_execution == arn("d2")
    assert world.record(run).took_over_from == arn("d1")
    assert world.record(stale).taken_over_by == arn("d2")
    assert world.log.warnings == ["took over the lock of an execution that ended without it"]


def test_the_finish_releases_the_lock_and_closes_the_run() -> None:
    world = World()
    run = world.start("drill", "d1")
    summary = world.finish(run, succeeded=True)
    state = world.store.plan_state("shop")
    assert not state.active_execution and not state.active_workflow
    assert (state.lifecycle, state.incomplete, state.last_execution) == ("NORMAL", False, arn("d1"))
    assert isinstance(state.last_drill, dict) and state.last_drill["result"] == "SUCCEEDED"
    assert {k: summary[k] for k in ("status", "lifecycle", "incomplete", "failure", "report")} == {
        "status": "SUCCEEDED",
        "lifecycle": "NORMAL",
        "incomplete": False,
        "failure": None,
        "report": "s3://b/reports/shop/d1.html",
    }
    record = world.record(run)
    assert (record.status, record.lifecycle_after) == ("SUCCEEDED", "NORMAL")
    assert record.report == {
        "bucket": "b",
        "json": "reports/shop/d1.json",
        "html": "reports/shop/d1.html",
        "uri": "s3://b/reports/shop/d1.html",
    }
    assert world.reports.kept["reports/shop/d1"]["status"] == "SUCCEEDED"
    assert world.metrics == [("shop", "drill", True)]
    assert world.notify.subjects[-1] == "[DR] drill succeeded for shop"
    world.start("drill", "d2")  # the plan is free again
    assert world.store.plan_state("shop").active_execution == arn("d2")


def test_a_failure_is_reported_with_the_task_error_message() -> None:
    world = World()
    run = world.start("drill", "d1")
    cause = json.dumps({"errorMessage": "wave 1: 2 servers failed", "errorType": "LaunchFailed"})
    summary = world.finish(run, succeeded=False, error={"Error": "LaunchFailed", "Cause": cause})
    assert summary["failure"] == {"error": "LaunchFailed", "message": "wave 1: 2 servers failed"}
    assert world.record(run).failure == summary["failure"]
    assert not world.store.plan_state("shop").active_execution
    assert world.notify.subjects[-1] == "[DR] drill failed for shop"


def test_a_finish_without_the_lock_leaves_the_lifecycle_to_its_holder() -> None:
    world = World()
    stale = world.start("drill", "d1")
    world.executions.ended.add(arn("d1"))
    world.start("drill", "d2")
    summary = world.finish(stale, succeeded=True)
    assert world.store.plan_state("shop").active_execution == arn("d2")
    assert summary["lifecycle"] == "NORMAL"
    assert world.log.warnings[-1] == "lock no longer held by this execution; lifecycle left unchanged"


def _changed_production(world: World, run: Run) -> None:
    world.store.update_run(run.plan, run.run_sk, {"fencing": {"vm-web-1": {"fenced": True}}})


def test_a_failed_recovery_that_changed_production_leaves_the_plan_incomplete_and_reenterable() -> None:
    world = World()
    first = world.start("recovery", "r1")
    _changed_production(world, first)
    summary = world.finish(first, succeeded=False, error={"Error": "LaunchFailed", "Cause": "no capacity"})
    assert (summary["lifecycle"], summary["incomplete"]) == ("FAILED_OVER", True)
    state = world.store.plan_state("shop")
    assert (state.lifecycle, state.incomplete) == ("FAILED_OVER", True)
    assert lifecycle.may_start("recovery", state) and not lifecycle.may_start("drill", state)

    with pytest.raises(Refused) as refused:
        world.start("drill", "d1")
    assert str(refused.value) == (
        "drill needs plan shop in state NORMAL, but it is FAILED_OVER; "
        "run failback when Azure is healthy again"
    )
    again = world.start("recovery", "r2")  # an incomplete recovery may be re-run
    summary = world.finish(again, succeeded=True)
    assert (summary["lifecycle"], summary["incomplete"]) == ("FAILED_OVER", False)
    with pytest.raises(Refused, match=r"^recovery needs plan shop in state NORMAL, but it is FAILED_OVER"):
        world.start("recovery", "r3")  # complete now: no second recovery
    world.start("failback", "f1")


def test_a_failed_recovery_that_changed_nothing_returns_the_plan_to_normal() -> None:
    world = World()
    run = world.start("recovery", "r1")
    summary = world.finish(run, succeeded=False, error={"Error": "OutageNotConfirmed", "Cause": "healthy"})
    assert (summary["lifecycle"], summary["incomplete"]) == ("NORMAL", False)
    assert world.notify.subjects[-1] == "[DR] outage alarm not confirmed for shop: nothing failed over"
    world.start("drill", "d1")


def test_alarms_within_the_flapping_guard_start_nothing() -> None:
    world = World()
    run = world.start("recovery", "r1", trigger="alarm", alarm_name="azure-down")
    world.store.record_automatic_failover("shop", iso(T0))
    world.finish(run, succeeded=False, error={"Error": "LaunchFailed", "Cause": "x"})
    with pytest.raises(Refused, match="flapping guard"):
        world.start("recovery", "r2", trigger="alarm", alarm_name="azure-down")
    assert world.notify.subjects[-1] == "[DR] recovery refused for shop: alarm azure-down started nothing"


def test_an_alarm_start_asks_for_approval_when_the_plan_does() -> None:
    start = parse_start_request({"plan": "shop", "trigger": "alarm"})
    assert runs.approval_required("recovery", start, PLAN) is PLAN.approval.required_for_automatic is True
    assert not runs.approval_required("recovery", parse_start_request({"plan": "shop"}), PLAN)
    assert runs.snapshot_of(start) == "latest"
