"""Failback to the original Azure VMs under faults: refusals before any change, credentials refreshed,
failures that clear the credentials, a stopped run resumed, and no credential anywhere it should not be."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import event, plan_state, recovery_instances, run, run_record, wait_until

pytestmark = pytest.mark.integration
CLIENT_SUFFIX = "-drs-failback-client"


def storage(cloud: LocalCloud, vm_id: str) -> dict[str, Any]:
    profile: dict[str, Any] = cloud.azure.vm(vm_id)["properties"]["storageProfile"]
    return profile


def layouts(cloud: LocalCloud, plan: Plan) -> dict[str, tuple[str, list[str]]]:
    result = {}
    for server in plan.servers():
        profile = storage(cloud, server.azure_vm_id)
        result[server.name] = (
            profile["osDisk"]["managedDisk"]["id"],
            [d["managedDisk"]["id"] for d in profile["dataDisks"]],
        )
    return result


def group(plan: Plan) -> str:
    return plan.servers()[0].azure_vm_id.split("/")[4]


def client_disks(cloud: LocalCloud, plan: Plan) -> list[str]:
    return [d["name"] for d in cloud.azure.disks(group(plan)) if d["name"].endswith(CLIENT_SUFFIX)]


def failed_over(cloud: LocalCloud, *, fence: bool = True) -> None:
    if not fence:
        cloud.azure.set_unreachable(True)
    result = run(cloud, "recovery", event("recovery.json"), timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    cloud.azure.set_unreachable(False)


def test_a_vm_that_cannot_boot_the_client_is_refused_before_anything_changes(
    cloud: LocalCloud, plan: Plan
) -> None:
    failed_over(cloud)
    trusted = plan.servers()[2]
    cloud.azure.reconfigure_vm(
        trusted.azure_vm_id,
        "V2",
        {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": True}},
    )
    before = layouts(cloud, plan)

    result = run(cloud, "failback", event("failback.json"))

    assert result["status"] == "FAILED" and result["error"] == "FailbackFailed"
    assert "nothing changed" in result["cause"] and trusted.name in result["cause"]
    assert "generation V2" in result["cause"] and "secure boot is on" in result["cause"]
    assert sum(s.name in result["cause"] for s in plan.servers()) == 1  # only that VM is named
    assert layouts(cloud, plan) == before and client_disks(cloud, plan) == []
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"


def test_a_missing_failback_image_is_named(cloud: LocalCloud, plan: Plan) -> None:
    failed_over(cloud)
    cloud.azure.remove_gallery_image_version(plan.azure.failback.image_id)
    result = run(cloud, "failback", event("failback.json"))
    assert result["status"] == "FAILED" and "azure.failback.image_id" in result["cause"]
    assert "drctl failback-image publish" in result["cause"]
    assert client_disks(cloud, plan) == []


def test_a_vm_that_fails_to_deallocate_fails_the_run_naming_it(cloud: LocalCloud, plan: Plan) -> None:
    failed_over(cloud, fence=False)  # Azure did not answer: the source VMs still run
    stuck = plan.servers()[1]
    cloud.azure.fail_next_action(stuck.azure_vm_id, "deallocate")

    result = run(cloud, "failback", event("failback.json"))

    assert result["status"] == "FAILED" and result["error"] == "FailbackFailed"
    assert stuck.name in result["cause"] and "provisioning state Failed" in result["cause"]
    record = run_record(plan, result["executionArn"])
    assert record["failback"]["credentialsCleared"]["failed"] == []
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"


def test_failback_error_from_drs_clears_every_credential(cloud: LocalCloud, plan: Plan) -> None:
    failed_over(cloud)
    sfn = cloud.client("stepfunctions")
    arn = cloud.start_workflow("failback", event("failback.json"))
    first = plan.servers()[0]

    def paired_instance() -> str | None:
        for instance in recovery_instances(cloud, plan):
            if instance["sourceServerID"] == first.source_server_id and instance["failback"]["state"] != (
                "FAILBACK_NOT_STARTED"
            ):
                return str(instance["recoveryInstanceID"])
        return None

    cloud.drs.fail_failback(wait_until(paired_instance, timeout=120, message="first client paired"))
    result = cloud.wait(arn, timeout=120)

    assert result["status"] == "FAILED" and "FAILBACK_ERROR for: shop-db-1" in result["cause"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"


def test_a_run_stopped_mid_swap_is_resumed_and_no_data_disk_is_deleted(cloud: LocalCloud, plan: Plan) -> None:
    failed_over(cloud)
    original = layouts(cloud, plan)
    data_disks = {disk for os_disk, data in original.values() for disk in [os_disk, *data]}
    arn = cloud.start_workflow("failback", event("failback.json"))
    on_client = wait_until(
        lambda: any(
            storage(cloud, s.azure_vm_id)["osDisk"]["name"].endswith(CLIENT_SUFFIX) for s in plan.servers()
        ),
        message="a VM swapped to the client disk",
    )
    assert on_client
    cloud.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped mid-swap")
    time.sleep(1)
    existing = {d["id"] for d in cloud.azure.disks(group(plan))}
    assert data_disks <= existing  # nothing with workload data was deleted

    again = run(cloud, "failback", event("failback.json"), timeout=240)

    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert {k: v[0] for k, v in layouts(cloud, plan).items()} == {k: v[0] for k, v in original.items()}
    assert layouts(cloud, plan) == original and client_disks(cloud, plan) == []
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())
    assert plan_state(plan)["lifecycle"] == "FAILED_BACK"


def test_failback_credentials_never_appear_in_logs_records_reports_or_history(
    cloud: LocalCloud, plan: Plan, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="dr-orchestrator")
    failed_over(cloud)
    result = run(cloud, "failback", event("failback.json"), timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")

    from moto.sts.models import sts_backends

    issued = [r for r in sts_backends["123456789012"]["global"].assumed_roles if "failback" in r.session_name]
    assert issued  # the clients did get credentials
    secrets = [r.secret_access_key for r in issued] + [r.session_token for r in issued]
    captured = capfd.readouterr()
    record = json.dumps(run_record(plan, result["executionArn"]), default=str)
    history = json.dumps(
        cloud.client("stepfunctions").get_execution_history(executionArn=result["executionArn"]), default=str
    )
    consoles = "\n".join("\n".join(cloud.guests.console(s.azure_vm_id)) for s in plan.servers())
    for secret in secrets:
        for where, text in {
            "stdout": captured.out,
            "stderr": captured.err,
            "logs": caplog.text,
            "run record": record,
            "history": history,
            "serial console": consoles,
        }.items():
            assert secret not in text, f"a failback credential appears in the {where}"


def test_an_nsg_that_blocks_the_failback_port_is_named_before_anything_changes(
    cloud: LocalCloud, plan: Plan
) -> None:
    failed_over(cloud)
    blocked = plan.servers()[1]
    cloud.azure.add_security_rule(
        blocked.azure_vm_id,
        "deny-internet-out",
        {
            "priority": 200,
            "direction": "Outbound",
            "access": "Deny",
            "protocol": "*",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "Internet",
            "destinationPortRange": "*",
        },
    )
    before = layouts(cloud, plan)

    result = run(cloud, "failback", event("failback.json"))

    assert result["status"] == "FAILED" and result["error"] == "FailbackFailed"
    assert "nothing changed" in result["cause"] and blocked.name in result["cause"]
    assert "rule deny-internet-out (priority 200)" in result["cause"]
    assert "TCP 1500" in result["cause"] and "TCP 443" in result["cause"]
    assert layouts(cloud, plan) == before and client_disks(cloud, plan) == []
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())


def test_a_recovery_instance_without_a_route_for_the_client_is_named(cloud: LocalCloud, plan: Plan) -> None:
    # Recovery instances launched into subnets that give no public IP (a private DR site).
    ec2 = cloud.client("ec2")
    for subnet in ec2.describe_subnets()["Subnets"]:
        ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": False})
    failed_over(cloud)
    result = run(cloud, "failback", event("failback.json"))
    message = json.loads(result["cause"])["errorMessage"]
    assert result["status"] == "FAILED" and message.count("no public IP address") == len(plan.servers())
    assert client_disks(cloud, plan) == []
    # Over a VPN the client uses the private IP: once DRS is told so, the same check passes.
    for instance in recovery_instances(cloud, plan):
        cloud.client("drs").update_failback_replication_configuration(
            recoveryInstanceID=instance["recoveryInstanceID"], usePrivateIP=True
        )
    result = run(cloud, "failback", event("failback.json"), timeout=240)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    # The recovery instances launched with the VPC's default security group, which lets TCP 1500 in.
    assert run_record(plan, result["executionArn"])["failback"]["networkWarnings"] == []
