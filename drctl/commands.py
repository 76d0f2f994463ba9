"""The operator commands: status, start, approve, abort, watch, report."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from drctl.progress import ProgressPrinter
from drctl.stack import OperatorError, Stack
from lambdas.adapters import state_store
from lambdas.domain.records import PlanState, RunRecord
from lambdas.errors import InvalidInput
from lambdas.inputs import StartRequest, parse_start_request
from lambdas.validation import to_document


def plan_state(stack: Stack, plan: str) -> PlanState:
    return state_store.plan_state(plan, dynamodb=stack.client("dynamodb"), table=stack.table)


def runs(stack: Stack, plan: str, limit: int = 10) -> list[RunRecord]:
    return state_store.query_runs(plan, limit, dynamodb=stack.client("dynamodb"), table=stack.table)


def status(stack: Stack, plan: str | None) -> dict[str, Any]:
    plans = [plan] if plan else stack.plans
    if plan:
        stack.check_plan(plan)
    result: dict[str, Any] = {}
    for name in plans:
        state = plan_state(stack, name)
        replication = state.replication or {}
        result[name] = {
            "lifecycle": state.lifecycle or "NORMAL",
            "running": state.active_execution or None,
            "running_workflow": state.active_workflow or None,
            "waiting_for_approval": bool(state.pending_approval),
            "last_drill": state.last_drill or None,
            "last_refusal": state.last_refusal or None,
            "replication": {
                "at": replication.get("at"),
                "max_lag_seconds": replication.get("maxLagSeconds"),
                "servers": replication.get("servers", {}),
            },
        }
    return result


def start_request(document: dict[str, Any]) -> StartRequest:
    """The start document, checked as the workflow checks it: bad input is refused before anything runs."""
    try:
        return parse_start_request(document)
    except InvalidInput as exc:
        raise OperatorError(str(exc)) from None


def start(stack: Stack, workflow: str, request: StartRequest) -> str:
    stack.check_plan(request.plan)
    # A readable execution name: what the console lists and what the reports are named after.
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    name = f"{request.plan}-{workflow.replace('_', '-')}-{stamp}-{uuid.uuid4().hex[:6]}"
    response = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine(workflow),
        input=json.dumps(to_document(request)),
        name=name[:80],
    )
    return str(response["executionArn"])


def _pending_approval(stack: Stack, plan: str) -> dict[str, Any]:
    stack.check_plan(plan)
    pending = plan_state(stack, plan).pending_approval
    if not pending:
        raise OperatorError(f"plan {plan} has no failover waiting for approval")
    return dict(pending)


def approve(stack: Stack, plan: str, by: str) -> str:
    pending = _pending_approval(stack, plan)
    try:
        stack.client("stepfunctions").send_task_success(
            taskToken=pending["taskToken"], output=json.dumps({"approved_by": by})
        )
    except ClientError as exc:
        raise OperatorError(
            f"the approval request is no longer open ({exc.response['Error']['Code']})"
        ) from None
    return str(pending["executionArn"])


def abort(stack: Stack, plan: str, reason: str) -> str:
    pending = _pending_approval(stack, plan)
    try:
        stack.client("stepfunctions").send_task_failure(
            taskToken=pending["taskToken"], error="Rejected", cause=reason[:256]
        )
    except ClientError as exc:
        raise OperatorError(
            f"the approval request is no longer open ({exc.response['Error']['Code']})"
        ) from None
    return str(pending["executionArn"])


def find_run(stack: Stack, plan: str, execution_arn: str | None) -> dict[str, Any]:
    """The run record as stored: the progress view and the report read it."""
    run = state_store.run_of_execution(runs(stack, plan, limit=50), execution_arn)
    if run is not None:
        return run.to_document()
    raise OperatorError(f"no run of plan {plan}" + (f" for {execution_arn}" if execution_arn else ""))


def watch(
    stack: Stack, plan: str, execution_arn: str | None, emit: Any = print, timeout: float = 86_400
) -> tuple[str, str]:
    """Follow a run (default: the latest of the plan) until it ends: its execution ARN and final status."""
    stack.check_plan(plan)
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    arn = execution_arn
    printer: ProgressPrinter | None = None
    while True:
        try:
            run = find_run(stack, plan, arn)
        except OperatorError:
            run = {}
        if run and printer is None:
            arn = str(run["executionArn"])
            printer = ProgressPrinter(plan, str(run.get("workflow")), emit)
        if printer is not None:
            printer.update(run)
        if arn is not None:
            status = str(sfn.describe_execution(executionArn=arn)["status"])
            if status != "RUNNING":
                if printer is not None:
                    printer.update(find_run(stack, plan, arn))
                return arn, status
        if time.monotonic() > deadline:
            raise OperatorError("still running; watch again later")
        time.sleep(1.0)


def report(stack: Stack, plan: str, execution_arn: str | None, out: Path) -> list[Path]:
    stack.check_plan(plan)
    run = find_run(stack, plan, execution_arn)
    stored = run.get("report")
    if not stored:
        raise OperatorError("this run has no report yet (it is still running, or ended before its last task)")
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    for key in (stored["json"], stored["html"]):
        target = out / Path(key).name
        body = stack.client("s3").get_object(Bucket=stored["bucket"], Key=key)["Body"].read()
        target.write_bytes(body)
        saved.append(target)
    return saved
