"""A run's start and finish: validate the trigger, take the plan's lock, open the run record; at the end
settle the lifecycle state, release the lock, close the record with measured RTO/RPO, and notify.

Refusals (wrong trigger, wrong lifecycle state, another execution running, a duplicate trigger event)
raise before anything changes. The service reaches the cloud only through the ports it is handed (the
begin_run and finish_run handlers build them from the adapters).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from lambdas.domain import lifecycle
from lambdas.domain.measure import iso, measurements
from lambdas.domain.records import PlanState, RunRecord
from lambdas.domain.report import build_report, render_html
from lambdas.errors import InvalidInput, Refused
from lambdas.inputs import StartRequest
from lambdas.plan import Plan

# A trigger event is remembered this long, so a late duplicate delivery still starts nothing.
EVENT_MEMORY_SECONDS = 30 * 86_400


class RunStore(Protocol):
    """The part of the StateStore (lambdas/adapters/state_store.py) a run's start and finish use."""

    def plan_state(self, plan: str) -> PlanState: ...

    def take_lock(
        self,
        plan: str,
        workflow: str,
        execution_arn: str,
        at: str,
        *,
        stale: str | None = None,
        automatic_cutoff: str | None = None,
    ) -> PlanState | None: ...

    def release_lock(
        self,
        plan: str,
        execution_arn: str,
        lifecycle: str,
        incomplete: bool,
        at: str,
        *,
        last_drill: dict[str, Any] | None = None,
    ) -> PlanState | None: ...

    def record_refusal(self, plan: str, refusal: dict[str, Any]) -> None: ...

    def claim_event(self, event_id: str, execution_arn: str, expires: int) -> str | None: ...

    def open_run(self, record: RunRecord) -> bool: ...

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def runs(self, plan: str, limit: int = 20) -> list[RunRecord]: ...

    def mark_taken_over(self, plan: str, run_sk: str, by: str, at: str) -> None: ...

    def finish_run(self, plan: str, run_sk: str, closing: dict[str, Any]) -> None: ...


class Notify(Protocol):
    """The on-call channel (lambdas/adapters/notify.py)."""

    def publish(self, subject: str, message: dict[str, Any]) -> None: ...


class Executions(Protocol):
    """The workflows' executions (lambdas/adapters/executions.py)."""

    def has_ended(self, execution_arn: str) -> bool: ...


class Reports(Protocol):
    """Where run reports are kept (lambdas/adapters/reports.py)."""

    def report_prefix(self, plan: str, started_at: str, run_id: str) -> str: ...

    def put_report(self, prefix: str, report: dict[str, Any], page: str) -> dict[str, str]: ...


class Log(Protocol):
    def info(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...

    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...


# (plan, workflow, succeeded, measurements): the metrics of a finished run.
RunMetrics = Callable[[str, str, bool, dict[str, Any]], None]


@dataclass(frozen=True)
class RunPorts:
    store: RunStore
    notify: Notify
    log: Log
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class StartPorts(RunPorts):
    executions: Executions


@dataclass(frozen=True)
class FinishPorts(RunPorts):
    reports: Reports
    metrics: RunMetrics


@dataclass(frozen=True)
class Execution:
    """The execution a run is: its ARN, name (the run id), start, and its run record's sort key."""

    arn: str
    name: str
    started_at: datetime
    run_sk: str


class FinishingRun(Protocol):
    """What finish_run needs of the run context begin_run handed over."""

    @property
    def plan(self) -> str: ...
    @property
    def workflow(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def execution_arn(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def run_sk(self) -> str: ...
    @property
    def is_drill(self) -> bool: ...


# --- the start -------------------------------------------------------------------------------------------


def snapshot_of(request: StartRequest) -> str:
    """The snapshot a run launches from, as its record and context name it."""
    return iso(moment) if (moment := request.snapshot_time) else "latest"


def approval_required(workflow: str, request: StartRequest, plan: Plan) -> bool:
    """An alarm-started recovery waits for a person when the plan asks for it."""
    return workflow == "recovery" and request.trigger == "alarm" and plan.approval.required_for_automatic


def start_run(
    ports: StartPorts, request: StartRequest, plan: Plan, workflow: str, execution: Execution
) -> RunRecord:
    """Check the trigger, take the lock, open the run record and announce the start; a refused automatic
    start (alarm, schedule) is announced and recorded, then raised."""
    try:
        check_trigger(ports.store, ports.clock(), request, plan, workflow, execution.arn)
        took_over = _take_lock(ports, request, plan, workflow, execution.arn)
    except (Refused, InvalidInput) as exc:
        if request.trigger in ("alarm", "schedule"):
            _announce_refusal(ports, request, plan, workflow, execution.arn, str(exc))
        raise

    record = RunRecord(
        sk=execution.run_sk,
        run_id=execution.name,
        plan=plan.name,
        workflow=workflow,
        execution_arn=execution.arn,
        status="RUNNING",
        started_at=iso(execution.started_at),
        trigger={
            "kind": request.trigger,
            "alarmName": request.alarm_name,
            "eventId": request.event_id,
            "requestedBy": request.requested_by,
            "reason": request.reason,
        },
        snapshot=snapshot_of(request),
        took_over_from=took_over,
        servers={},
        waves={},
        errors=[],
    )
    ports.store.open_run(record)
    ports.log.info("run started", extra={"plan": plan.name, "workflow": workflow, "trigger": request.trigger})
    ports.notify.publish(
        f"[DR] {workflow} started for {plan.name}",
        {"plan": plan.name, "workflow": workflow, "execution": execution.arn, "trigger": request.trigger},
    )
    return record


def check_trigger(
    store: RunStore, at: datetime, request: StartRequest, plan: Plan, workflow: str, execution_arn: str
) -> None:
    """Whether the trigger may start this workflow; claims its event (a duplicate delivery is refused)."""
    if request.trigger == "alarm":
        if workflow != "recovery":
            raise InvalidInput(f"trigger: an alarm can only start recovery, not {workflow}")
        if not plan.triggers.automatic_failover:
            raise Refused(
                f"plan {plan.name} has triggers.automatic_failover off: alarm {request.alarm_name or '?'} "
                "was recorded, start recovery by hand if a failover is wanted"
            )
    if request.trigger == "schedule" and workflow != "drill":
        raise InvalidInput(f"trigger: a schedule can only start a drill, not {workflow}")
    if request.event_id:
        expires = int(at.timestamp()) + EVENT_MEMORY_SECONDS
        handled_by = store.claim_event(request.event_id, execution_arn, expires)
        if handled_by != execution_arn:
            raise Refused(
                f"event {request.event_id} was already handled by {handled_by}; "
                "a duplicate delivery does not start a second run"
            )


def _take_lock(
    ports: StartPorts, request: StartRequest, plan: Plan, workflow: str, execution_arn: str
) -> str | None:
    """Take the plan's lock; returns the execution whose stale lock was taken over, if any."""
    try:
        _conditional_lock(ports, request, plan, workflow, execution_arn, stale=None)
        return None
    except Refused:
        holder = ports.store.plan_state(request.plan).active_execution
        if not holder or holder == execution_arn or not ports.executions.has_ended(holder):
            raise
    # The holder was stopped or timed out before its last task: take over, under the same conditions.
    _conditional_lock(ports, request, plan, workflow, execution_arn, stale=holder)
    for old_run in ports.store.runs(plan.name, limit=50):
        if old_run.execution_arn == holder and old_run.status == "RUNNING":
            ports.store.mark_taken_over(plan.name, old_run.sk, execution_arn, iso(ports.clock()))
    ports.log.warning("took over the lock of an execution that ended without it", extra={"stale": holder})
    return str(holder)


def _conditional_lock(
    ports: StartPorts, request: StartRequest, plan: Plan, workflow: str, execution_arn: str, stale: str | None
) -> None:
    """One conditional write: the plan's lock, its lifecycle state, and (for an alarm) the flapping guard."""
    started = ports.clock()
    cutoff: str | None = None
    if request.trigger == "alarm":
        # The guard counts only alarm-started runs that changed production: fence_source stamps
        # lastAutomaticFailover as it starts fencing, so an unconfirmed or rejected alarm does not hold
        # off a real outage minutes later.
        cutoff = iso(started - timedelta(minutes=plan.triggers.min_minutes_between_automatic))
    taken = ports.store.take_lock(
        request.plan, workflow, execution_arn, iso(started), stale=stale, automatic_cutoff=cutoff
    )
    if taken is None:
        state = ports.store.plan_state(request.plan)
        last = state.last_automatic_failover
        if cutoff is not None and last and last >= cutoff:
            raise Refused(
                f"an automatic failover of plan {plan.name} already began at {last}; alarms within "
                f"triggers.min_minutes_between_automatic ({plan.triggers.min_minutes_between_automatic}) "
                "do not start another (flapping guard)"
            )
        raise Refused(lifecycle.refusal_reason(workflow, request.plan, state, execution_arn))


def _announce_refusal(
    ports: StartPorts, request: StartRequest, plan: Plan, workflow: str, execution_arn: str, reason: str
) -> None:
    """A refused automatic start (alarm, schedule) is never silent: notify and keep it for drctl status."""
    refusal = {
        "at": iso(ports.clock()),
        "workflow": workflow,
        "trigger": request.trigger,
        "alarmName": request.alarm_name,
        "execution": execution_arn,
        "reason": reason,
    }
    ports.store.record_refusal(plan.name, refusal)
    source = f"alarm {request.alarm_name}" if request.alarm_name else f"the {request.trigger}"
    ports.notify.publish(f"[DR] {workflow} refused for {plan.name}: {source} started nothing", refusal)


# --- the finish ------------------------------------------------------------------------------------------


def error_message(error: dict[str, Any] | None) -> dict[str, str] | None:
    """Step Functions hands over {"Error", "Cause"}; a Lambda's Cause is JSON with its errorMessage."""
    if not error:
        return None
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = str(parsed.get("errorMessage", cause))
    except json.JSONDecodeError:
        pass
    return {"error": str(error.get("Error", "Unknown")), "message": cause[:2000]}


def finish_run(
    ports: FinishPorts, run: FinishingRun, plan: Plan, succeeded: bool, error: dict[str, Any] | None
) -> dict[str, Any]:
    """Settle the lifecycle, release the lock, close the run record with its report; the run's summary."""
    store = ports.store
    record = store.run_record(run.plan, run.run_sk)
    failure = error_message(error)
    new_state: str  # as the plan's state item has it once settled
    new_state, incomplete = lifecycle.lifecycle_after(
        run.workflow, succeeded, run.workflow == "recovery" and lifecycle.changed_production(record)
    )
    ended = iso(ports.clock())
    measured = measurements(record.to_document(), plan.targets.rto_minutes, plan.targets.rpo_minutes)

    last_drill: dict[str, Any] | None = None
    if run.is_drill:
        last_drill = {
            "at": ended,
            "result": "SUCCEEDED" if succeeded else "FAILED",
            "executionArn": run.execution_arn,
            "rtoSeconds": measured["rto_seconds"],
            "rpoSeconds": measured["rpo_seconds"],
        }
    released = store.release_lock(
        run.plan, run.execution_arn, new_state, incomplete, ended, last_drill=last_drill
    )
    if released is None:
        state = store.plan_state(run.plan)
        if state.last_execution != run.execution_arn:
            ports.log.warning("lock no longer held by this execution; lifecycle left unchanged")
        new_state = state.lifecycle or new_state

    status = "SUCCEEDED" if succeeded else "FAILED"
    closing = {
        "status": status,
        "endedAt": ended,
        "lifecycleAfter": new_state,
        "measurements": measured,
        **({"failure": failure} if failure else {}),
    }
    report = build_report(plan, {**record.to_document(), **closing})
    stored = ports.reports.put_report(
        ports.reports.report_prefix(run.plan, iso(run.started_at), run.run_id), report, render_html(report)
    )
    store.finish_run(run.plan, run.run_sk, {**closing, "report": stored})
    ports.metrics(run.plan, run.workflow, succeeded, measured)
    summary = {
        "plan": run.plan,
        "workflow": run.workflow,
        "status": status,
        "lifecycle": new_state,
        "incomplete": incomplete,
        "rto_seconds": measured["rto_seconds"],
        "rpo_seconds": measured["rpo_seconds"],
        "failure": failure,
        "report": stored["uri"],
    }
    subject = f"[DR] {run.workflow} {status.lower()} for {run.plan}"
    if failure and failure["error"] == "OutageNotConfirmed":
        subject = f"[DR] outage alarm not confirmed for {run.plan}: nothing failed over"
    ports.notify.publish(subject, {**summary, "execution": run.execution_arn})
    return summary
