"""Event-driven waits. A workflow that waits for DRS registers its task token under the ids the awaited
events name (source servers for launches, recovery instances for failback); the DRS event handler resumes
it at once. Delivery of DRS events is best effort, so every wait also times out into a regular check
(timing.fallback_poll_seconds). A late or duplicate event finds no token, or a used one, and does nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from lambdas.adapters import drs, executions, state_store
from lambdas.domain.records import Waiter
from lambdas.domain.waves import wave_of, wave_progress
from lambdas.errors import InvalidInput
from lambdas.handlers.common import RunTask, iso, logger, now, task
from lambdas.inputs import DrsWaitEvent
from lambdas.validation import parse_input

WAIT_TTL_SECONDS = 7 * 86_400


class DrsEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The EventBridge envelope fields this handler reads (EventBridge adds others: ignored)."""

    source: Literal["aws.drs"]
    detail_type: DrsWaitEvent = msgspec.field(name="detail-type")
    resources: Annotated[list[Annotated[str, Meta(max_length=256)]], Meta(max_length=200)]
    detail: dict[str, Any]


class RegisterWaitInput(RunTask, frozen=True):
    task_token: str
    kind: Literal["wave", "failback"]
    wave: int | None = None
    job_ids: list[str] = msgspec.field(default_factory=list)
    # Servers the last check saw settled (launched or failed): more than that means news already.
    settled: int = 0


def resources_awaited(event: RegisterWaitInput) -> list[str]:
    run = event.run
    if event.kind == "wave":
        if event.wave is None:
            raise InvalidInput("register_wait input: wave is required for kind 'wave'")
        return [s.source_server_id for s in wave_of(run.load_plan(), event.wave).servers]
    return [entry["recoveryInstanceId"] for entry in run.record().failback_servers().values()]


def _news_since_last_check(event: RegisterWaitInput) -> bool:
    """Whatever happened between the last check and this registration would be missed by the events
    (they may have fired already): look once more, after the token is in place."""
    run = event.run
    if event.kind == "wave" and event.wave is not None:
        progress = wave_progress(wave_of(run.load_plan(), event.wave), drs.jobs(event.job_ids))
        return (
            progress.status != "IN_PROGRESS" or len(progress.launched) + len(progress.failed) > event.settled
        )
    states = {
        (ri.get("failback") or {}).get("state")
        for ri in drs.recovery_instances([s.source_server_id for s in run.load_plan().servers()], drill=False)
    }
    return bool(states & {"FAILBACK_COMPLETED", "FAILBACK_ERROR"})


@task(RegisterWaitInput)
def register_handler(event: RegisterWaitInput) -> dict[str, Any]:
    """Park the execution's task token until a DRS event (or the fallback timeout) resumes it."""
    resources = resources_awaited(event)
    expires = int(now().timestamp()) + WAIT_TTL_SECONDS
    waiter = Waiter(
        execution_arn=event.run.execution_arn,
        task_token=event.task_token,
        kind=event.kind,
        since=iso(now()),
        ttl=expires,
    )
    store = state_store.store()
    for resource_id in resources:
        store.add_waiter(resource_id, waiter)
    if _news_since_last_check(event):
        executions.resume_task(
            event.task_token, {"resumed_by": "register_wait", "resource": None, "detail": {}}
        )
        return {"waiting_on": 0, "resumed": True}
    return {"waiting_on": len(resources), "resumed": False}


def _resource_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@logger.inject_lambda_context(log_event=False, clear_state=True)
def event_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge target for DRS launch-result and failback-state events."""
    parsed = parse_input(DrsEvent, event, "DRS event")
    resumed = 0
    store = state_store.store()
    for arn in parsed.resources:
        resource_id = _resource_id(arn)
        for waiter in store.waiters(resource_id):
            output = {"resumed_by": parsed.detail_type, "resource": resource_id, "detail": parsed.detail}
            if executions.resume_task(waiter.task_token, output):
                resumed += 1
            store.remove_waiter(resource_id, waiter.execution_arn)
    logger.info("DRS event handled", extra={"detail_type": parsed.detail_type, "resumed": resumed})
    return {"resumed": resumed}
