"""First task of every workflow: validate the input, take the plan's lock, open the run record
(lambdas/domain/runs.py); its answer is the run context every later task gets.

Refusals (bad input, wrong lifecycle state, another execution running, a duplicate trigger event)
raise before anything changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.adapters import executions, notify, state_store
from lambdas.domain import runs
from lambdas.handlers.common import RunContext, TaskInput, iso, load_plan, logger, now, task
from lambdas.inputs import Workflow, parse_start_request
from lambdas.validation import to_document


class BeginInput(TaskInput, frozen=True):
    workflow: Workflow
    input: Any  # checked by parse_start_request, which names what is wrong
    execution_arn: str
    execution_name: str
    started_at: datetime


@task(BeginInput)
def handler(event: BeginInput) -> dict[str, Any]:
    request = parse_start_request(event.input)
    plan = load_plan(request.plan)
    run_sk = state_store.run_sort_key(iso(event.started_at), event.execution_name)
    execution = runs.Execution(event.execution_arn, event.execution_name, event.started_at, run_sk)
    ports = runs.StartPorts(
        store=state_store.store(), notify=notify, log=logger, clock=now, executions=executions
    )
    runs.start_run(ports, request, plan, event.workflow, execution)
    run = RunContext(
        plan=plan.name,
        workflow=event.workflow,
        run_id=event.execution_name,
        execution_arn=event.execution_arn,
        started_at=event.started_at,
        run_sk=run_sk,
        trigger=request.trigger,
        snapshot=runs.snapshot_of(request),
        is_drill=event.workflow == "drill",
        poll_seconds=plan.timing.poll_seconds,
        fallback_poll_seconds=plan.timing.fallback_poll_seconds,
        wave_count=len(plan.waves),
        approval_required=runs.approval_required(event.workflow, request, plan),
        approval_timeout_seconds=plan.approval.timeout_minutes * 60,
        approval_on_timeout=plan.approval.on_timeout,
    )
    document: dict[str, Any] = to_document(run)
    return document
