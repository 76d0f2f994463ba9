from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import (
    drs_calls,
    event,
    plan_state,
    recovery_instances,
    run,
    run_record,
    running_ec2_instances,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_drill_launches_every_wave_validates_and_terminates(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")

    record = run_record(plan, result["executionArn"])
    servers = record["servers"]
    assert set(servers) == {s.source_server_id for s in plan.servers()}
    for server in servers.values():
        assert server["recoveryInstanceId"] and server["healthyAt"] and server["snapshotAt"]
    # Waves in order: every application server was requested after the database launched.
    db = servers["s-0a1b2c3d4e5f60001"]
    assert all(s["launchRequestedAt"] >= db["launchedAt"] for s in servers.values() if s["wave"] == 1)
    assert record["measurements"]["rto_seconds"] > 0
    # Nothing left running.
    assert recovery_instances(cloud, plan) == []
    assert running_ec2_instances(cloud) == []
    state = plan_state(plan)
    assert state["lifecycle"] == "NORMAL" and "activeExecution" not in state
    assert state["lastDrill"]["result"] == "SUCCEEDED"
    # One job per wave, each with the drill flag.
    jobs = cloud.client("drs").describe_jobs(filters={})["items"]
    launches = [j for j in jobs if j["type"] == "LAUNCH"]
    assert len(launches) == 2 and all(j["initiatedBy"] == "START_DRILL" for j in launches)


def test_critical_server_failing_to_launch_fails_the_drill_and_still_cleans_up(
    cloud: LocalCloud, plan: Plan
) -> None:
    cloud.drs.fail_launch("s-0a1b2c3d4e5f60002")  # shop-app-1, critical, wave 2
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "FAILED"
    assert result["error"] == "LaunchFailed"
    assert "shop-app-1" in result["cause"]
    record = run_record(plan, result["executionArn"])
    assert record["status"] == "FAILED" and record["cleanup"]["completedAt"]
    assert recovery_instances(cloud, plan) == []
    assert running_ec2_instances(cloud) == []
    state = plan_state(plan)
    assert state["lifecycle"] == "NORMAL" and "activeExecution" not in state
    assert state["lastDrill"]["result"] == "FAILED"


def test_optional_server_failing_does_not_fail_the_wave(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs.fail_launch("s-0a1b2c3d4e5f60004")  # shop-reports, critical: false
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    record = run_record(plan, result["executionArn"])
    assert record["servers"]["s-0a1b2c3d4e5f60004"]["launchFailed"] is True
    assert recovery_instances(cloud, plan) == []


def test_drs_throttling_is_ridden_out(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs.throttle_next(4, retry_after_seconds=1, operation="StartRecovery")
    cloud.drs.throttle_next(3, retry_after_seconds=1, operation="DescribeJobs")
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert drs_calls(cloud, "StartRecovery").count(429) == 4
    # Each wave launched exactly once despite the retries.
    assert drs_calls(cloud, "StartRecovery").count(202) == 2


def test_unknown_plan_is_refused_before_anything_happens(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "drill", {"plan": "no-such-plan"})
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput"
    assert "unknown plan 'no-such-plan'" in result["cause"] and "shop" in result["cause"]
    assert drs_calls(cloud, "StartRecovery") == []
    assert set(plan_state(plan)) <= {"pk", "sk", "replication"}  # no lock, no lifecycle change


def test_bad_input_names_the_field(cloud: LocalCloud) -> None:
    result = run(cloud, "drill", {"plan": "shop", "snapshot": "yesterday"})
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput"
    assert "snapshot" in json.loads(result["cause"])["errorMessage"]
    assert drs_calls(cloud, "StartRecovery") == []


def test_second_start_while_running_is_refused(cloud: LocalCloud, plan: Plan) -> None:
    first = cloud.start_workflow("drill", event("drill.json"))
    # The first execution holds the lock as soon as Begin ran.
    wait_until(lambda: plan_state(plan).get("activeExecution") == first, message="lock taken")
    second = cloud.wait(cloud.start_workflow("drill", event("drill.json")))
    assert second["status"] == "FAILED" and second["error"] == "Refused"
    assert first in second["cause"] and "already has a running drill" in second["cause"]
    assert cloud.wait(first)["status"] == "SUCCEEDED"
    # Two waves, two jobs: the refused run launched nothing.
    assert drs_calls(cloud, "StartRecovery").count(202) == 2


def test_workflow_in_the_wrong_lifecycle_state_is_refused(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "failback", event("failback.json"))
    assert result["status"] == "FAILED" and result["error"] == "Refused"
    assert "needs plan shop in state FAILED_OVER, but it is NORMAL" in result["cause"]
    assert set(plan_state(plan)) <= {"pk", "sk", "replication"}  # no lock, no lifecycle change
    assert [op for op, _ in cloud.drs.request_log if op.startswith("Start")] == []


def test_launch_overrides_are_applied_before_launch(cloud: LocalCloud, plan: Plan) -> None:
    assert run(cloud, "drill", event("drill.json"))["status"] == "SUCCEEDED"
    config = cloud.client("drs").get_launch_configuration(sourceServerID="s-0a1b2c3d4e5f60001")
    assert config["copyPrivateIp"] is True and config["targetInstanceTypeRightSizingMethod"] == "NONE"
    untouched = cloud.client("drs").get_launch_configuration(sourceServerID="s-0a1b2c3d4e5f60002")
    assert untouched["copyPrivateIp"] is False  # no overrides: the launch configuration is left as it was
    assert drs_calls(cloud, "UpdateLaunchConfiguration") == [200]


@pytest.mark.parametrize("document", [["shop"], "shop", 42, None])
def test_input_that_is_not_an_object_is_refused_as_invalid_input(cloud: LocalCloud, document: Any) -> None:
    arn = cloud.client("stepfunctions").start_execution(
        stateMachineArn=cloud.state_machines["drill"], name="not-an-object", input=json.dumps(document)
    )["executionArn"]
    result = cloud.wait(arn)
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput", result
    assert "must be a JSON object" in json.loads(result["cause"])["errorMessage"]
    assert drs_calls(cloud, "StartRecovery") == []
