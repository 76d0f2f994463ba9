"""Event-driven waits on DRS (lambdas/domain/waits.py): a workflow parks its task token until a DRS event,
or the fallback timeout, resumes it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from lambdas.adapters import drs, executions, state_store
from lambdas.domain import waits
from lambdas.handlers.common import RunTask, logger, now, task
from lambdas.inputs import DrsWaitEvent
from lambdas.validation import parse_input


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


def ports() -> waits.WaitPorts:
    return waits.WaitPorts(drs=drs, store=state_store.store(), executions=executions, clock=now)


@task(RegisterWaitInput)
def register_handler(event: RegisterWaitInput) -> dict[str, Any]:
    """Park the execution's task token until a DRS event (or the fallback timeout) resumes it."""
    run = event.run
    wait = waits.Wait(
        run_sk=run.run_sk,
        execution_arn=run.execution_arn,
        task_token=event.task_token,
        kind=event.kind,
        wave=event.wave,
        job_ids=event.job_ids,
        settled=event.settled,
    )
    return waits.register(wait, run.load_plan(), ports())


@logger.inject_lambda_context(log_event=False, clear_state=True)
def event_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge target for DRS launch-result and failback-state events."""
    parsed = parse_input(DrsEvent, event, "DRS event")
    resumed = waits.resume(parsed.detail_type, parsed.resources, parsed.detail, ports())
    logger.info("DRS event handled", extra={"detail_type": parsed.detail_type, "resumed": resumed})
    return {"resumed": resumed}
