"""A trigger EventBridge cannot deliver is kept in the target's dead-letter queue, naming the rule, the target
and the error: a lost automatic-failover start leaves a trace (and the queue's depth alarm notifies)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration


def dead_letters(cloud: LocalCloud, prefix: str) -> list[dict[str, Any]]:
    (logical,) = [k for k in cloud.template.of_type("AWS::SQS::Queue") if k.startswith(prefix)]
    received = cloud.client("sqs").receive_message(
        QueueUrl=cloud.template.refs[logical], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    return list(received.get("Messages", []))


def test_an_undeliverable_outage_alarm_lands_in_the_dead_letter_queue(cloud: LocalCloud, plan: Plan) -> None:
    # The recovery state machine is gone (deleted by hand, say): StartExecution fails for good.
    cloud.client("stepfunctions").delete_state_machine(stateMachineArn=cloud.state_machines["recovery"])
    alarm = plan.outage_alarm_names(cloud.stack_name)[0]
    cloud.put_alarm_event(alarm, "ALARM")
    (message,) = wait_until(
        lambda: dead_letters(cloud, "Alarmsrecoverytriggerdeadletters"), message="dead letter"
    )
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == cloud.state_machines["recovery"]
    (rule,) = [k for k in cloud.template.of_type("AWS::Events::Rule") if k.startswith("Triggersshopoutage")]
    assert attributes["RULE_ARN"].endswith(f":rule/{rule}")
    assert attributes["ERROR_CODE"] == "StateMachineDoesNotExist"
    assert json.loads(message["Body"])["detail"]["alarmName"] == alarm
    assert dead_letters(cloud, "Alarmsdrseventsdeadletters") == []


def test_a_delivered_alarm_leaves_no_dead_letter(cloud: LocalCloud, plan: Plan) -> None:
    cloud.put_alarm_event(plan.outage_alarm_names(cloud.stack_name)[0], "ALARM")
    machine = cloud.state_machines["recovery"]
    executions = wait_until(
        lambda: cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"],
        message="recovery started",
    )
    cloud.wait(executions[0]["executionArn"])
    assert dead_letters(cloud, "Alarmsrecoverytriggerdeadletters") == []
