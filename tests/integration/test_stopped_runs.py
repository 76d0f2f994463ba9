"""A run stopped from the console (StopExecution) ends ABORTED, and the sweep cleans up after it."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import event, wait_until

pytestmark = pytest.mark.integration


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = cloud.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def parked_in_task_token_wait(cloud: LocalCloud, execution_arn: str) -> bool:
    """Whether the execution's last event is a submitted `waitForTaskToken` task (no outcome yet)."""
    events = history(cloud, execution_arn)
    last = events[-1] if events else {}
    return last.get("type") == "TaskSubmitted" and "waitForTaskToken" in str(
        last.get("taskSubmittedEventDetails", {}).get("resource")
    )


def test_stopping_an_execution_parked_on_a_task_token_aborts_it(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs_events = "drop"  # nothing resumes the wait: it stays parked until its fallback timeout
    arn = cloud.start_workflow("drill", event("drill.json"))
    wait_until(lambda: parked_in_task_token_wait(cloud, arn), message="a task-token wait")

    cloud.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")

    described = cloud.wait(arn)
    assert described["status"] == "ABORTED"
    types = [e["type"] for e in history(cloud, arn)]
    assert types[-1] == "ExecutionAborted"
    # The wait was not run to its timeout and caught as a task failure after the stop.
    assert "TaskTimedOut" not in types and "ExecutionFailed" not in types
