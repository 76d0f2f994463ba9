"""The stack's schedules fire in the local cloud: the replication monitor's rule and the monthly drill."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import run_record, wait_until

pytestmark = pytest.mark.integration

MONITOR = "lambdas.handlers.replication_monitor.handler"


def monitor_events(cloud: LocalCloud) -> list[Any]:
    return [i.event for i in cloud.bridge.invocations if i.handler == MONITOR]


def drill_executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = cloud.client("stepfunctions").list_executions(
        stateMachineArn=cloud.state_machines["drill"]
    )["executions"]
    return executions


def test_the_monitor_rule_fires_with_a_scheduled_event(cloud: LocalCloud, plan: Plan) -> None:
    rule = next(name for name in cloud.template.of_type("AWS::Events::Rule") if "ReplicationMonitor" in name)
    before = len(monitor_events(cloud))  # the run at start-up

    fired = cloud.clock.advance_to_next("rule", rule)

    assert [(f.kind, f.name) for f in fired] == [("rule", rule)]
    event = wait_until(lambda: monitor_events(cloud)[before:], message="the monitor's invocation")[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"]
    assert event["detail"] == {}
    assert cloud.failed_invocations == []


def test_a_disabled_rule_does_not_fire(cloud: LocalCloud, plan: Plan) -> None:
    rule = next(name for name in cloud.template.of_type("AWS::Events::Rule") if "ReplicationMonitor" in name)
    before = len(monitor_events(cloud))
    cloud.client("events").disable_rule(Name=rule)
    cloud.clock.advance_to_next("rule", rule)
    cloud.client("events").enable_rule(Name=rule)
    cloud.clock.advance_to_next("rule", rule)

    wait_until(lambda: monitor_events(cloud)[before:], message="the enabled rule's invocation")
    assert len(monitor_events(cloud)) == before + 1


def test_the_drill_schedule_starts_a_drill_with_its_input(cloud: LocalCloud, plan: Plan) -> None:
    schedule = next(iter(cloud.template.of_type("AWS::Scheduler::Schedule")))
    due = cloud.clock.next_due("schedule", schedule)
    assert due is not None and (due.day, due.hour, due.minute) == (1, 3, 0)  # cron(0 3 1 * ? *)
    assert drill_executions(cloud) == []

    cloud.clock.advance_to_next("schedule", schedule)

    [execution] = wait_until(lambda: drill_executions(cloud), message="the scheduled drill")
    result = cloud.wait(execution["executionArn"])
    assert result["status"] == "SUCCEEDED", result.get("cause")
    record = run_record(plan, execution["executionArn"])
    assert record["trigger"]["kind"] == "schedule" and record["trigger"]["reason"] == "monthly drill"


def test_a_target_is_invoked_only_as_the_deployed_permissions_allow(cloud: LocalCloud, plan: Plan) -> None:
    rule = next(name for name in cloud.template.of_type("AWS::Events::Rule") if "ReplicationMonitor" in name)
    rule_arn = f"arn:aws:events:us-east-1:123456789012:rule/{rule}"
    monitor = f"arn:aws:lambda:us-east-1:123456789012:function:{cloud.function_name(MONITOR)}"
    assert cloud.routing.target_refusal("events", rule_arn, {"Arn": monitor}) is None
    # The monitor's resource policy names its own rule only.
    other_rule = rule_arn.replace(rule, "SomeOtherRule")
    assert "no resource-based policy" in str(
        cloud.routing.target_refusal("events", other_rule, {"Arn": monitor})
    )

    schedule = next(iter(cloud.template.of_type("AWS::Scheduler::Schedule")))
    target = cloud.client("scheduler").get_schedule(Name=schedule)["Target"]
    assert cloud.routing.target_refusal("scheduler", "arn:schedule", target) is None
    # The drill schedule's role may start the drill, not the recovery.
    recovery = {**target, "Arn": cloud.state_machines["recovery"]}
    assert "not allowed states:StartExecution" in str(
        cloud.routing.target_refusal("scheduler", "arn:s", recovery)
    )
