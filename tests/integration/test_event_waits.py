"""Waits on DRS are resumed by DRS events, fall back to checking by themselves when no event comes, and
shrug off duplicate deliveries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import drs_calls, event, recovery_instances, run, wait_until

pytestmark = pytest.mark.integration


def wait_outcomes(cloud: LocalCloud, execution_arn: str) -> list[str]:
    """How each event wait ended: the event type that resumed it, or 'timeout' for the fallback check."""
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    outcomes: list[str] = []
    for item in history["events"]:
        if (
            item["type"] == "TaskSucceeded"
            and "waitForTaskToken" in item["taskSucceededEventDetails"]["resource"]
        ):
            outcomes.append(json.loads(item["taskSucceededEventDetails"]["output"])["resumed_by"])
        elif item["type"] == "TaskTimedOut":
            outcomes.append("timeout")
    return outcomes


def handler_errors(cloud: LocalCloud, handler: str) -> list[Any]:
    return [i.error for i in cloud.bridge.invocations if i.handler == handler and i.error]


def test_launch_waits_are_resumed_by_drs_events(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    outcomes = wait_outcomes(cloud, result["executionArn"])
    assert "DRS Source Server Launch Result" in outcomes
    assert "timeout" not in outcomes
    launch_events = [
        e for e in cloud.drs_events_seen if e["detail-type"] == "DRS Source Server Launch Result"
    ]
    assert len(launch_events) == len(plan.servers())


def test_without_events_the_fallback_check_finishes_the_wait(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs_events = "drop"
    result = run(cloud, "drill", event("drill.json"), timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    outcomes = wait_outcomes(cloud, result["executionArn"])
    assert outcomes and set(outcomes) <= {"timeout", "register_wait"}
    assert recovery_instances(cloud, plan) == []


def test_duplicate_events_are_harmless(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs_events = "duplicate"
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert drs_calls(cloud, "StartRecovery").count(202) == 2
    assert handler_errors(cloud, "lambdas.handlers.waits.event_handler") == []
    assert recovery_instances(cloud, plan) == []


def test_failback_completion_is_event_driven(cloud: LocalCloud, plan: Plan) -> None:
    assert run(cloud, "recovery", event("recovery.json"))["status"] == "SUCCEEDED"
    result = run(cloud, "failback", event("failback.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    outcomes = wait_outcomes(cloud, result["executionArn"])
    assert "DRS Recovery Instance Failback State Change" in outcomes or "register_wait" in outcomes
    assert "timeout" not in outcomes


def test_a_late_event_for_a_finished_run_changes_nothing(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED"
    late = next(e for e in cloud.drs_events_seen if e["detail-type"] == "DRS Source Server Launch Result")
    before = len(cloud.bridge.invocations)
    cloud.client("events").put_events(
        Entries=[
            {
                "Source": late["source"],
                "DetailType": late["detail-type"],
                "Detail": json.dumps(late["detail"]),
                "Resources": late["resources"],
            }
        ]
    )
    wait_until(lambda: len(cloud.bridge.invocations) > before, message="late event handled")
    assert cloud.bridge.invocations[-1].error is None
    assert handler_errors(cloud, "lambdas.handlers.waits.event_handler") == []
