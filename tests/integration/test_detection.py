"""An outage alarm is confirmed with Azure before anything fails over, and a flapping alarm starts one
failover, not two."""

from __future__ import annotations

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import drs_calls, plan_state, run_record, wait_until

pytestmark = pytest.mark.integration

ALARM = "dr-DrOrchestrator-shop-azure-outage"


def recovery_executions(cloud: LocalCloud) -> list[str]:
    listed = cloud.client("stepfunctions").list_executions(stateMachineArn=cloud.state_machines["recovery"])
    return [e["executionArn"] for e in listed["executions"]]


def test_alarm_with_azure_healthy_notifies_instead_of_failing_over(cloud: LocalCloud, plan: Plan) -> None:
    cloud.put_alarm_event(ALARM, "ALARM")
    arn = wait_until(lambda: recovery_executions(cloud), message="recovery started")[0]
    result = cloud.wait(arn)
    assert result["status"] == "FAILED" and result["error"] == "OutageNotConfirmed"
    assert "reports all 4 source VMs running" in result["cause"]
    record = run_record(plan, arn)
    assert record["confirmation"]["confirmed"] is False
    assert {e["power"] for e in record["confirmation"]["evidence"].values()} == {"running"}
    page = cloud.client("s3").get_object(Bucket=record["report"]["bucket"], Key=record["report"]["html"])
    assert "NOT confirmed: no failover" in page["Body"].read().decode()
    assert drs_calls(cloud, "StartRecovery") == []
    state = plan_state(plan)
    assert state["lifecycle"] == "NORMAL" and "activeExecution" not in state


def test_alarm_with_one_source_vm_down_is_confirmed(cloud: LocalCloud, plan: Plan) -> None:
    db = plan.servers()[0]
    cloud.azure.vm(db.azure_vm_id)  # exists
    from lambdas.adapters import azure_compute

    azure_compute.begin_deallocate(db.azure_vm_id).result()
    cloud.put_alarm_event(ALARM, "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    record = run_record(plan, pending["executionArn"])
    assert record["confirmation"]["confirmed"] is True
    assert record["confirmation"]["evidence"][db.name]["power"] == "deallocated"
    cloud.client("stepfunctions").stop_execution(executionArn=pending["executionArn"])


def test_flapping_alarm_starts_one_failover(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.set_unreachable(True)
    cloud.put_alarm_event(ALARM, "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    cloud.client("stepfunctions").send_task_failure(
        taskToken=pending["taskToken"], error="Rejected", cause="test"
    )
    assert cloud.wait(pending["executionArn"])["status"] == "FAILED"
    cloud.put_alarm_event(ALARM, "OK")
    cloud.put_alarm_event(ALARM, "ALARM")
    second = wait_until(
        lambda: [a for a in recovery_executions(cloud) if a != pending["executionArn"]], message="2nd"
    )
    result = cloud.wait(second[0])
    assert result["status"] == "FAILED" and result["error"] == "Refused"
    assert "flapping guard" in result["cause"]
    assert drs_calls(cloud, "StartRecovery") == []
