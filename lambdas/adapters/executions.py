"""Step Functions: the status of this stack's executions (a run's own record can outlive its execution), and
answering the task tokens of the workflows' waits."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambdas.adapters.aws import client, error_code

# DescribeExecution statuses (Step Functions API reference); MISSING: the execution does not exist (any more).
RUNNING = "RUNNING"
MISSING = "MISSING"


def describe(execution_arn: str) -> dict[str, Any]:
    """status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE or MISSING), stopDate, error,
    cause as DescribeExecution reports them."""
    try:
        described: dict[str, Any] = client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return {"status": MISSING}
        raise
    return {k: described[k] for k in ("status", "stopDate", "error", "cause") if described.get(k) is not None}


def has_ended(execution_arn: str) -> bool:
    return describe(execution_arn)["status"] != RUNNING


# SendTaskSuccess errors of a token whose wait is over: timed out, or its execution ended (API reference).
FINISHED_TOKEN_ERRORS = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def resume_task(token: str, output: dict[str, Any]) -> bool:
    """Answer a waiting task with `output`; False when its wait had already ended."""
    try:
        client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        if error_code(exc) in FINISHED_TOKEN_ERRORS:
            return False
        raise
    return True
