"""Failback to a NEW VM (azure.failback.target "new") for a server whose original VM was deleted, then
return to normal with a new replication agent installed through Azure Run Command."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import Plan, load_plans
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.guests import WORKLOAD
from tests.integration.conftest import (
    FAST_AZURE,
    FAST_DRS,
    ROOT,
    event,
    plan_state,
    recovery_instances,
    run_record,
    wait_until,
)

pytestmark = pytest.mark.integration
SERVER = "shop-app-1"
NEW_VM = f"{SERVER}-failback"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    from localcloud.synth import synthesize

    document: dict[str, Any] = json.loads((ROOT / "plans" / "sample-plan.json").read_text())
    subscription = document["azure"]["subscription_id"]
    subnet = (
        f"/subscriptions/{subscription}/resourceGroups/rg-shop-prod/providers/Microsoft.Network"
        "/virtualNetworks/vnet-shop/subnets/app"
    )
    for wave in document["waves"]:
        for server in wave["servers"]:
            if server["name"] == SERVER:
                server["failback"] = {
                    "target": "new",
                    "new_vm": {"location": "westeurope", "vm_size": "Standard_D2s_v5", "subnet_id": subnet},
                }
    plan_dir = tmp_path_factory.mktemp("new-vm-plans")
    (plan_dir / "shop.json").write_text(json.dumps(document))
    template = synthesize(
        outdir=tmp_path_factory.mktemp("new-vm-cdk.out"), stack_name="DrNewVm", plans=str(plan_dir / "*.json")
    )
    return template, load_plans([plan_dir / "shop.json"])[0]


@pytest.fixture
def cloud(setup: tuple[Path, Plan]) -> Iterator[LocalCloud]:
    template, plan = setup
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=FAST_DRS, azure_timing=FAST_AZURE, log_level="WARNING"
    )
    with LocalCloud(template, [plan], settings) as local:
        yield local


def vms_named(cloud: LocalCloud, name: str) -> list[dict[str, Any]]:
    return [vm for vm in cloud.azure.vms() if vm["name"] == name]


def vm_creations(cloud: LocalCloud, name: str) -> int:
    """PUTs that created the VM (ARM answers a create 201, an update 200)."""
    return sum(
        1
        for method, path, status in cloud.azure.request_log
        if method == "PUT" and path.endswith(f"/virtualMachines/{name}") and status == 201
    )


def test_failback_to_a_new_vm_and_return_to_normal_with_a_new_agent(
    cloud: LocalCloud, setup: tuple[Path, Plan]
) -> None:
    plan = setup[1]
    server = next(s for s in plan.servers() if s.name == SERVER)
    assert cloud.run("recovery", event("recovery.json"), timeout=180)["status"] == "SUCCEEDED"
    group = server.azure_vm_id.split("/")[4]
    cloud.azure.delete_vm(server.azure_vm_id)  # the original VM is gone
    assert vms_named(cloud, SERVER) == []

    # The subnet the plan names for the new VM does not exist yet: named, and nothing is created.
    subnet = plan.new_vm_for(server).subnet_id  # type: ignore[union-attr]
    refused = cloud.run("failback", event("failback.json"), timeout=120)
    assert refused["status"] == "FAILED" and "nothing changed" in refused["cause"]
    assert f"failback new_vm.subnet_id {subnet} does not exist" in refused["cause"]
    assert vms_named(cloud, NEW_VM) == [] and plan_state(plan)["lifecycle"] == "FAILED_OVER"
    cloud.azure.add_subnet(subnet)

    # A run stopped once the new VM is being created is resumed by the next run: still one VM.
    arn = cloud.start_workflow("failback", event("failback.json"))
    wait_until(lambda: vms_named(cloud, NEW_VM), timeout=120, message="the new VM created")
    sfn = cloud.client("stepfunctions")
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped")
    wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", message="stopped")
    time.sleep(1)  # the stopped execution's last task settles
    result = cloud.run("failback", event("failback.json"), timeout=300)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert vm_creations(cloud, NEW_VM) == 1 and len(vms_named(cloud, NEW_VM)) == 1
    [vm] = vms_named(cloud, NEW_VM)
    storage = vm["properties"]["storageProfile"]
    assert storage["osDisk"]["name"] == f"{NEW_VM}-disk-0"  # the disk that received the root volume
    assert "osProfile" not in vm["properties"] and "imageReference" not in storage
    content, boots = cloud.azure.disk_content(storage["osDisk"]["managedDisk"]["id"])
    assert boots == WORKLOAD and server.source_server_id in content
    # One data disk per data disk of the source server (the local cloud seeds shop-app-1 with an OS disk and
    # one data disk, localcloud/seed.py), named in order after the OS disk.
    assert [d["name"] for d in storage["dataDisks"]] == [f"{NEW_VM}-disk-1"]
    assert vm["properties"]["instanceView"]["statuses"][1]["code"] == "PowerState/running"
    assert not [d for d in cloud.azure.disks(group) if d["name"].endswith("-drs-failback-client")]
    assert all(cloud.azure.user_data(v["id"]) == "" for v in cloud.azure.vms())
    record = run_record(plan, result["executionArn"])
    entry = record["failback"]["servers"][server.source_server_id]
    assert entry["target"] == "new" and entry["vmId"] == vm["id"]
    assert record["failback"]["networkWarnings"] == []  # the new subnet's NSG was read and allows the client
    assert plan_state(plan)["lifecycle"] == "FAILED_BACK"

    back = cloud.run("return_to_normal", event("return-to-normal.json"), timeout=300)

    assert back["status"] == "SUCCEEDED", back.get("cause")
    restore = run_record(plan, back["executionArn"])["restore"]
    new = restore["newSourceServers"][server.source_server_id]
    new_id = new["sourceServerId"]
    assert new_id != server.source_server_id and new["install"]["status"] == "succeeded"
    assert new["planChange"]["set"] == {"source_server_id": new_id, "azure_vm_id": vm["id"]}
    drs_server = cloud.drs.source_server(new_id)
    assert drs_server["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS"
    assert recovery_instances(cloud, plan) == []
    assert plan_state(plan)["lifecycle"] == "NORMAL"
    assert len(vms_named(cloud, NEW_VM)) == 1 and vms_named(cloud, SERVER) == []
