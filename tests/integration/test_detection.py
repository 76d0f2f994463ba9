"""An outage alarm is confirmed with Azure before anything fails over, and a flapping alarm starts one
failover, not two."""

from __future__ import annotations

import json

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import Inbox, drs_calls, plan_state, run_record, wait_until

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


def test_flapping_alarm_starts_one_failover(cloud: LocalCloud, plan: Plan, inbox: Inbox) -> None:
    cloud.azure.set_unreachable(True)
    cloud.put_alarm_event(ALARM, "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    cloud.client("stepfunctions").send_task_success(
        taskToken=pending["taskToken"], output=json.dumps({"by": "on-call"})
    )
    first = pending["executionArn"]
    # The failover began changing production (fencing): stop it there, as an engineer might.
    wait_until(lambda: plan_state(plan).get("lastAutomaticFailover"), message="failover began")
    cloud.client("stepfunctions").stop_execution(executionArn=first)
    assert cloud.wait(first)["status"] == "ABORTED"
    cloud.put_alarm_event(ALARM, "OK")
    cloud.put_alarm_event(ALARM, "ALARM")
    second = wait_until(lambda: [a for a in recovery_executions(cloud) if a != first], message="2nd")
    result = cloud.wait(second[0])
    assert result["status"] == "FAILED" and result["error"] == "Refused"
    assert "flapping guard" in result["cause"]
    # Refused, and said so: a notification with the reason, and drctl status shows it.
    refusal = plan_state(plan)["lastRefusal"]
    assert refusal["execution"] == second[0] and "flapping guard" in refusal["reason"]
    assert refusal["alarmName"] == ALARM
    refused = wait_until(
        lambda: [m for m in inbox.receive() if str(m["Subject"]).startswith("[DR] recovery refused")],
        message="refusal notification",
    )
    assert "flapping guard" in refused[0]["Message"]["reason"]


def test_unconfirmed_alarm_does_not_hold_off_the_next_one(
    cloud: LocalCloud, plan: Plan, inbox: Inbox
) -> None:
    cloud.put_alarm_event(ALARM, "ALARM")
    first = wait_until(lambda: recovery_executions(cloud), message="recovery started")[0]
    assert cloud.wait(first)["error"] == "OutageNotConfirmed"
    assert "lastAutomaticFailover" not in plan_state(plan)
    assert plan_state(plan)["lastRefusal"]["execution"] == first
    wait_until(
        lambda: "[DR] outage alarm not confirmed for shop: nothing failed over" in inbox.subjects(),
        message="unconfirmed notification",
    )
    # Minutes later Azure is really down: the flapping guard does not refuse this one.
    cloud.azure.set_unreachable(True)
    cloud.put_alarm_event(ALARM, "OK")
    cloud.put_alarm_event(ALARM, "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    assert pending["executionArn"] != first
    assert run_record(plan, pending["executionArn"])["confirmation"]["confirmed"] is True
    cloud.client("stepfunctions").stop_execution(executionArn=pending["executionArn"])
