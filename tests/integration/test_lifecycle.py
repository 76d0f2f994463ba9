"""The whole DR lifecycle, and recovery's own behaviours: fencing, traffic, triggers, approval."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud, LocalCloudSettings
from tests.integration.conftest import (
    FAST_AZURE,
    FAST_DRS,
    drs_calls,
    event,
    plan_state,
    recovery_instances,
    run,
    run_record,
    wait_until,
)

pytestmark = pytest.mark.integration

SHOP_RECORD = "shop.example.com."


def dns_value(cloud: LocalCloud, plan: Plan) -> str:
    assert plan.traffic is not None
    records = cloud.client("route53").list_resource_record_sets(HostedZoneId=plan.traffic.hosted_zone_id)
    record = next(r for r in records["ResourceRecordSets"] if r["Name"] == SHOP_RECORD and r["Type"] == "A")
    return str(record["ResourceRecords"][0]["Value"])


def power_states(cloud: LocalCloud, plan: Plan) -> set[str]:
    states: set[str] = set()
    for server in plan.servers():
        statuses = cloud.azure.vm(server.azure_vm_id)["properties"]["instanceView"]["statuses"]
        states.update(s["code"] for s in statuses if s["code"].startswith("PowerState/"))
    return states


def test_drill_recovery_failback_return_to_normal(cloud: LocalCloud, plan: Plan) -> None:
    assert run(cloud, "drill", event("drill.json"))["status"] == "SUCCEEDED"

    recovery = run(cloud, "recovery", event("recovery.json"))
    assert recovery["status"] == "SUCCEEDED", recovery.get("cause")
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"
    record = run_record(plan, recovery["executionArn"])
    assert all(entry["fenced"] for entry in record["fencing"].values())
    assert power_states(cloud, plan) == {"PowerState/deallocated"}
    instances = recovery_instances(cloud, plan)
    assert len(instances) == 4 and not any(i["isDrill"] for i in instances)
    assert dns_value(cloud, plan) == record["traffic"]["value"] != plan.traffic.azure_value  # type: ignore[union-attr]

    vms_before = {vm["id"] for vm in cloud.azure.vms()}
    original = {s.name: cloud.azure.vm(s.azure_vm_id)["properties"]["storageProfile"] for s in plan.servers()}
    failback = run(cloud, "failback", event("failback.json"), timeout=180)
    assert failback["status"] == "SUCCEEDED", failback.get("cause")
    assert plan_state(plan)["lifecycle"] == "FAILED_BACK"
    assert dns_value(cloud, plan) == plan.traffic.azure_value  # type: ignore[union-attr]
    assert {i["failback"]["state"] for i in recovery_instances(cloud, plan)} == {"FAILBACK_COMPLETED"}
    # The original VMs run their original OS disks, which now hold the data from AWS; nothing else is left.
    assert {vm["id"] for vm in cloud.azure.vms()} == vms_before
    for server in plan.servers():
        vm = cloud.azure.vm(server.azure_vm_id)
        storage = vm["properties"]["storageProfile"]
        assert storage["osDisk"]["managedDisk"]["id"] == original[server.name]["osDisk"]["managedDisk"]["id"]
        assert [(d["lun"], d["managedDisk"]["id"]) for d in storage["dataDisks"]] == [
            (d["lun"], d["managedDisk"]["id"]) for d in original[server.name]["dataDisks"]
        ]
        assert "PowerState/running" in {s["code"] for s in vm["properties"]["instanceView"]["statuses"]}
        content, boots = cloud.azure.disk_content(storage["osDisk"]["managedDisk"]["id"])
        assert boots == "workload"
        assert content.startswith(f"{server.source_server_id}:") and "from i-" in content
        assert cloud.azure.user_data(server.azure_vm_id) == ""
    group = plan.servers()[0].azure_vm_id.split("/")[4]
    assert not [d for d in cloud.azure.disks(group) if d["name"].endswith("-drs-failback-client")]

    back = run(cloud, "return_to_normal", event("return-to-normal.json"))
    assert back["status"] == "SUCCEEDED", back.get("cause")
    assert plan_state(plan)["lifecycle"] == "NORMAL"
    assert recovery_instances(cloud, plan) == []
    servers = cloud.client("drs").describe_source_servers(filters={})["items"]
    assert {s["dataReplicationInfo"]["dataReplicationState"] for s in servers} == {"CONTINUOUS"}
    # Replication came back by itself: the agents on the original VMs rescanned, nothing was restarted.
    assert [op for op, _ in cloud.drs.request_log if op == "StartReplication"] == []


def test_recovery_proceeds_unfenced_when_azure_does_not_answer(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.set_unreachable(True)
    result = run(cloud, "recovery", event("recovery.json"), timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    record = run_record(plan, result["executionArn"])
    assert record["fencing"] and not any(entry["fenced"] for entry in record["fencing"].values())
    assert all(entry["reason"] for entry in record["fencing"].values())
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"
    cloud.azure.set_unreachable(False)
    assert power_states(cloud, plan) == {"PowerState/running"}  # really not fenced


def test_alarm_starts_recovery_after_approval(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.set_unreachable(True)  # the outage: Azure does not answer, which confirms the alarm
    cloud.put_event(event("alarm-state-change-alarm.json"))
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    sfn = cloud.client("stepfunctions")
    sfn.send_task_success(taskToken=pending["taskToken"], output=json.dumps({"approved_by": "oncall"}))
    result = cloud.wait(pending["executionArn"])
    assert result["status"] == "SUCCEEDED", result.get("cause")
    record = run_record(plan, pending["executionArn"])
    assert record["confirmation"]["confirmed"] is True
    assert (
        record["trigger"]["kind"] == "alarm"
        and record["trigger"]["alarmName"] == "dr-DrOrchestrator-shop-azure-outage"
    )
    assert "pendingApproval" not in plan_state(plan)


def test_alarm_ok_and_rejected_approval_change_nothing(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.set_unreachable(True)
    cloud.put_event(event("alarm-state-change-ok.json"))
    cloud.put_alarm_event("some-other-alarm", "ALARM")
    cloud.put_alarm_event("dr-DrOrchestrator-shop-azure-outage", "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    executions = cloud.client("stepfunctions").list_executions(
        stateMachineArn=cloud.state_machines["recovery"]
    )
    assert len(executions["executions"]) == 1  # only the matching ALARM started one
    cloud.client("stepfunctions").send_task_failure(
        taskToken=pending["taskToken"], error="Rejected", cause="Azure is fine, false alarm"
    )
    result = cloud.wait(pending["executionArn"])
    assert result["status"] == "FAILED" and result["error"] == "Rejected"
    state = plan_state(plan)
    assert state["lifecycle"] == "NORMAL" and "activeExecution" not in state
    assert [op for op, _ in cloud.drs.request_log if op == "StartRecovery"] == []
    cloud.azure.set_unreachable(False)
    assert power_states(cloud, plan) == {"PowerState/running"}


def test_duplicate_alarm_event_does_not_start_a_second_run(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.set_unreachable(True)
    document = {
        "plan": "shop",
        "trigger": "alarm",
        "alarm_name": "dr-DrOrchestrator-shop-azure-outage",
        "event_id": "evt-1",
    }
    first = cloud.start_workflow("recovery", document)
    wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    duplicate = cloud.wait(cloud.start_workflow("recovery", document))
    assert duplicate["status"] == "FAILED" and duplicate["error"] == "Refused"
    assert "already handled" in duplicate["cause"]
    cloud.client("stepfunctions").stop_execution(executionArn=first)


def test_return_to_normal_terminates_each_recovery_instance_once_while_jobs_start_slowly(
    synthesized: Path, plan: Plan
) -> None:
    # DRS takes longer to start a job than the workflow takes between checks (as in production): the
    # instances whose termination job is pending are not terminated twice (DRS: one job per server).
    slow = dataclasses.replace(FAST_DRS, job_pending=2.0, terminate=1.0)
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=slow, azure_timing=FAST_AZURE, log_level="WARNING"
    )
    with LocalCloud(synthesized, [plan], settings) as cloud:
        for workflow, name in (("recovery", "recovery.json"), ("failback", "failback.json")):
            result = run(cloud, workflow, event(name), timeout=240)
            assert result["status"] == "SUCCEEDED", result.get("cause")
        back = run(cloud, "return_to_normal", event("return-to-normal.json"), timeout=240)
        assert back["status"] == "SUCCEEDED", back.get("cause")
        assert recovery_instances(cloud, plan) == []
        assert drs_calls(cloud, "TerminateRecoveryInstances") == [200]
        record = run_record(plan, back["executionArn"])
        assert len(record["restore"]["terminated"]) == 4
