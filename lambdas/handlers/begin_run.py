"""First task of every workflow: validate the input, take the plan's lock, open the run record.

Refusals (bad input, wrong lifecycle state, another execution running, a duplicate trigger event)
raise before anything changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lambdas.adapters import executions, notify, state_store
from lambdas.domain import lifecycle
from lambdas.domain.records import RunRecord
from lambdas.errors import InvalidInput, Refused
from lambdas.handlers.common import RunContext, TaskInput, iso, load_plan, logger, now, task
from lambdas.inputs import StartRequest, Workflow, parse_start_request
from lambdas.plan import Plan
from lambdas.validation import to_document


class BeginInput(TaskInput, frozen=True):
    workflow: Workflow
    input: Any  # checked by parse_start_request, which names what is wrong
    execution_arn: str
    execution_name: str
    started_at: datetime


def _check_trigger(request: StartRequest, workflow: str, execution_arn: str) -> None:
    plan = load_plan(request.plan)
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
        expires = int(now().timestamp()) + 30 * 86_400
        handled_by = state_store.store().claim_event(request.event_id, execution_arn, expires)
        if handled_by != execution_arn:
            raise Refused(
                f"event {request.event_id} was already handled by {handled_by}; "
                "a duplicate delivery does not start a second run"
            )


def _take_lock(request: StartRequest, plan: Plan, workflow: str, execution_arn: str) -> str | None:
    """Take the plan's lock; returns the execution whose stale lock was taken over, if any."""
    try:
        _conditional_lock(request, plan, workflow, execution_arn, stale=None)
        return None
    except Refused:
        holder = state_store.store().plan_state(request.plan).active_execution
        if not holder or holder == execution_arn or not executions.has_ended(holder):
            raise
    # The holder was stopped or timed out before its last task: take over, under the same conditions.
    _conditional_lock(request, plan, workflow, execution_arn, stale=holder)
    for old_run in state_store.store().runs(plan.name, limit=50):
        if old_run.execution_arn == holder and old_run.status == "RUNNING":
            state_store.store().mark_taken_over(plan.name, old_run.sk, execution_arn, iso(now()))
    logger.warning("took over the lock of an execution that ended without it", extra={"stale": holder})
    return str(holder)


def _conditional_lock(
    request: StartRequest, plan: Plan, workflow: str, execution_arn: str, stale: str | None
) -> None:
    """One conditional write: the plan's lock, its lifecycle state, and (for an alarm) the flapping guard."""
    started = now()
    cutoff: str | None = None
    if request.trigger == "alarm":
        # The guard counts only alarm-started runs that changed production: fence_source stamps
        # lastAutomaticFailover as it starts fencing, so an unconfirmed or rejected alarm does not hold
        # off a real outage minutes later.
        cutoff = iso(started - timedelta(minutes=plan.triggers.min_minutes_between_automatic))
    store = state_store.store()
    taken = store.take_lock(
        request.plan, workflow, execution_arn, iso(started), stale=stale, automatic_cutoff=cutoff
    )
    if taken is None:
        state = store.plan_state(request.plan)
        last = state.last_automatic_failover
        if cutoff is not None and last and last >= cutoff:
            raise Refused(
                f"an automatic failover of plan {plan.name} already began at {last}; alarms within "
                f"triggers.min_minutes_between_automatic ({plan.triggers.min_minutes_between_automatic}) "
                "do not start another (flapping guard)"
            )
        raise Refused(lifecycle.refusal_reason(workflow, request.plan, state, execution_arn))


def _announce_refusal(
    request: StartRequest, plan: Plan, workflow: str, execution_arn: str, reason: str
) -> None:
    """A refused automatic start (alarm, schedule) is never silent: notify and keep it for drctl status."""
    refusal = {
        "at": iso(now()),
        "workflow": workflow,
        "trigger": request.trigger,
        "alarmName": request.alarm_name,
        "execution": execution_arn,
        "reason": reason,
    }
    state_store.store().record_refusal(plan.name, refusal)
    source = f"alarm {request.alarm_name}" if request.alarm_name else f"the {request.trigger}"
    notify.publish(f"[DR] {workflow} refused for {plan.name}: {source} started nothing", refusal)


@task(BeginInput)
def handler(event: BeginInput) -> dict[str, Any]:
    request = parse_start_request(event.input)
    plan = load_plan(request.plan)
    try:
        _check_trigger(request, event.workflow, event.execution_arn)
        took_over = _take_lock(request, plan, event.workflow, event.execution_arn)
    except (Refused, InvalidInput) as exc:
        if request.trigger in ("alarm", "schedule"):
            _announce_refusal(request, plan, event.workflow, event.execution_arn, str(exc))
        raise

    started = iso(event.started_at)
    run = RunContext(
        plan=plan.name,
        workflow=event.workflow,
        run_id=event.execution_name,
        execution_arn=event.execution_arn,
        started_at=event.started_at,
        run_sk=state_store.run_sort_key(started, event.execution_name),
        trigger=request.trigger,
        snapshot=iso(moment) if (moment := request.snapshot_time) else "latest",
        is_drill=event.workflow == "drill",
        poll_seconds=plan.timing.poll_seconds,
        fallback_poll_seconds=plan.timing.fallback_poll_seconds,
        wave_count=len(plan.waves),
        approval_required=(
            event.workflow == "recovery"
            and request.trigger == "alarm"
            and plan.approval.required_for_automatic
        ),
        approval_timeout_seconds=plan.approval.timeout_minutes * 60,
        approval_on_timeout=plan.approval.on_timeout,
    )
    state_store.store().open_run(
        RunRecord(
            sk=run.run_sk,
            run_id=run.run_id,
            plan=plan.name,
            workflow=event.workflow,
            execution_arn=event.execution_arn,
            status="RUNNING",
            started_at=started,
            trigger={
                "kind": request.trigger,
                "alarmName": request.alarm_name,
                "eventId": request.event_id,
                "requestedBy": request.requested_by,
                "reason": request.reason,
            },
            snapshot=run.snapshot,
            took_over_from=took_over,
            servers={},
            waves={},
            errors=[],
        )
    )
    logger.info(
        "run started", extra={"plan": plan.name, "workflow": event.workflow, "trigger": request.trigger}
    )
    notify.publish(
        f"[DR] {event.workflow} started for {plan.name}",
        {
            "plan": plan.name,
            "workflow": event.workflow,
            "execution": event.execution_arn,
            "trigger": request.trigger,
        },
    )
    document: dict[str, Any] = to_document(run)
    return document
