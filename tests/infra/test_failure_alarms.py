"""Nothing fails silently (synthesized template): every EventBridge rule target and Scheduler target has a
dead-letter queue and an explicit retry policy, each queue can be written by its sender and its depth is
alarmed, rules, workflows and the event-driven functions have failure alarms, and every alarm notifies the
stack's topic, which CloudWatch may use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.test_template import role_statements

pytestmark = pytest.mark.infra


def topic(cfn: Template) -> str:
    (logical,) = cfn.find_resources("AWS::SNS::Topic")
    return logical


def dimension(alarm: dict[str, Any], name: str) -> Any:
    return next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == name)


def alarms_on(cfn: Template, namespace: str, metric: str, **expected: Any) -> dict[str, Mapping[str, Any]]:
    """The alarms on the metric (with the expected properties too, if any), by logical id."""
    pattern = {"Properties": {"Namespace": namespace, "MetricName": metric, **expected}}
    return dict(cfn.find_resources("AWS::CloudWatch::Alarm", pattern))


def targets(cfn: Template) -> list[tuple[str, dict[str, Any]]]:
    """(rule or schedule logical id, target) for every EventBridge rule and Scheduler schedule."""
    found = [
        (logical, target)
        for logical, rule in cfn.find_resources("AWS::Events::Rule").items()
        for target in rule["Properties"]["Targets"]
    ]
    found += [
        (logical, schedule["Properties"]["Target"])
        for logical, schedule in cfn.find_resources("AWS::Scheduler::Schedule").items()
    ]
    return found


def test_every_rule_and_schedule_target_has_a_dead_letter_queue_and_a_retry_policy(cfn: Template) -> None:
    found = targets(cfn)
    # The outage rule, the DRS events rule, the monitor schedule and the drill schedule of the sample plan.
    assert len(found) == 4
    queues = cfn.find_resources("AWS::SQS::Queue")
    for logical, target in found:
        assert "DeadLetterConfig" in target, logical
        queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"]
        assert queue[0] in queues and queue[1] == "Arn", logical
        retry = target["RetryPolicy"]
        assert 60 <= retry["MaximumEventAgeInSeconds"] <= 3600, logical
        assert 1 <= retry["MaximumRetryAttempts"] <= 8, logical


def test_dead_letter_queues_are_encrypted_ssl_only_and_writable_by_their_sender(cfn: Template) -> None:
    queues = cfn.find_resources("AWS::SQS::Queue")
    assert len(queues) == 4
    policies = {
        p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in cfn.find_resources("AWS::SQS::QueuePolicy").values()
    }
    for logical, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, logical
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policies[logical]
        ), logical
    for logical, rule in cfn.find_resources("AWS::Events::Rule").items():
        queue = rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert any(
            s["Effect"] == "Allow"
            and s["Principal"] == {"Service": "events.amazonaws.com"}
            and s["Action"] == "sqs:SendMessage"
            and s["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [logical, "Arn"]}}}
            for s in policies[queue]
        ), f"EventBridge may not write {logical}'s dead letters to {queue}"
    # Scheduler writes dead letters with the schedule's execution role.
    for logical, schedule in cfn.find_resources("AWS::Scheduler::Schedule").items():
        target = schedule["Properties"]["Target"]
        queue = target["DeadLetterConfig"]["Arn"]
        statements = role_statements(cfn, target["RoleArn"]["Fn::GetAtt"][0])
        assert any("sqs:SendMessage" in s["Action"] and s["Resource"] == queue for s in statements), logical


def test_each_dead_letter_queue_depth_is_alarmed(cfn: Template) -> None:
    for logical in cfn.find_resources("AWS::SQS::Queue"):
        cfn.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": Match.array_with(
                    [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical, "QueueName"]}}]
                ),
            },
        )
    # Every depth alarm fires on the first message.
    depth = alarms_on(cfn, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert depth and depth == alarms_on(
        cfn,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=0,
    )


def test_each_rule_has_a_failed_invocations_alarm(cfn: Template) -> None:
    failed = alarms_on(cfn, "AWS/Events", "FailedInvocations")
    assert sorted(json.dumps(dimension(a["Properties"], "RuleName")) for a in failed.values()) == sorted(
        json.dumps({"Ref": logical}) for logical in cfn.find_resources("AWS::Events::Rule")
    )
    assert failed == alarms_on(
        cfn,
        "AWS/Events",
        "FailedInvocations",
        Statistic="Sum",
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        # EventBridge publishes the metric only when it is not zero.
        TreatMissingData="notBreaching",
    )


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_each_workflow_has_failed_and_timed_out_alarms(cfn: Template, metric: str) -> None:
    watched = sorted(
        json.dumps(dimension(a["Properties"], "StateMachineArn"))
        for a in alarms_on(cfn, "AWS/States", metric).values()
    )
    assert watched == sorted(
        json.dumps({"Ref": m}) for m in cfn.find_resources("AWS::StepFunctions::StateMachine")
    )


def test_the_functions_eventbridge_invokes_have_error_alarms(cfn: Template) -> None:
    invoked = {t["Arn"]["Fn::GetAtt"][0] for _, t in targets(cfn) if "Fn::GetAtt" in t["Arn"]}
    assert sorted(i.rstrip("0123456789ABCDEF") for i in invoked) == [
        "Tasksreplicationmonitor",
        "Taskswaitseventhandler",
    ]
    watched = {
        dimension(a["Properties"], "FunctionName")["Ref"]
        for a in alarms_on(cfn, "AWS/Lambda", "Errors").values()
    }
    assert watched == invoked


def test_every_alarm_notifies_the_stack_topic(cfn: Template) -> None:
    kinds = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    assert sum(len(cfn.find_resources(kind)) for kind in kinds) > 10
    for kind in kinds:
        cfn.all_resources_properties(kind, {"AlarmActions": Match.exact([{"Ref": topic(cfn)}])})


def test_cloudwatch_may_publish_to_the_encrypted_topic(cfn: Template) -> None:
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    (policy,) = cfn.find_resources("AWS::SNS::TopicPolicy").values()
    publish = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == cloudwatch
    ]
    assert [s["Action"] for s in publish] == ["sns:Publish"]
    assert publish[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (key,) = cfn.find_resources("AWS::KMS::Key").values()
    use = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == cloudwatch]
    assert len(use) == 1 and set(use[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "alarm:*" in json.dumps(use[0]["Condition"]["ArnLike"]["aws:SourceArn"])


def test_cloudwatch_logs_may_use_the_key_for_this_accounts_log_groups_only(cfn: Template) -> None:
    logs = {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}
    log_groups = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":log-group:*",
            ],
        ]
    }
    cfn.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": [
                                "kms:Decrypt*",
                                "kms:Describe*",
                                "kms:Encrypt*",
                                "kms:GenerateDataKey*",
                                "kms:ReEncrypt*",
                            ],
                            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
                            "Effect": "Allow",
                            "Principal": logs,
                            "Resource": "*",
                        }
                    ]
                )
            }
        },
    )
    # No other statement for CloudWatch Logs (the global logs.amazonaws.com, or without the condition).
    (key,) = cfn.find_resources("AWS::KMS::Key").values()
    for_logs = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if "logs." in json.dumps(s["Principal"])
    ]
    assert len(for_logs) == 1
    # Every log group of the stack is encrypted with this key.
    (key_id,) = cfn.find_resources("AWS::KMS::Key")
    cfn.all_resources_properties("AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
