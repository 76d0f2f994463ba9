"""A VM created from attached managed disks, and Run Command, through the unchanged azure-mgmt-compute
client: the emulator refuses what ARM refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from localcloud.azure import AzureEmulator, AzureTiming
from tests.localcloud.test_azure_emulator import RG, compute_client
from tests.localcloud.test_azure_emulator_disks import client_disk, refused

Body = Any
SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000003/resourceGroups/rg/providers/Microsoft.Network"
    "/virtualNetworks/vnet/subnets/default"
)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEmulator]:
    with AzureEmulator(timing=AzureTiming(operation=0.05, create=0.05, poll=0.02)) as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle_path)
        emulator.seed_resource_group(RG)
        emulator.add_subnet(SUBNET)
        yield emulator


@pytest.fixture
def client(emu: AzureEmulator) -> ComputeManagementClient:
    return compute_client(emu)


def empty_disk(client: ComputeManagementClient, name: str, size: int, **properties: Any) -> str:
    body: Body = {
        "location": "westeurope",
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size, **properties},
    }
    return str(client.disks.begin_create_or_update(RG, name, body).result().id)


def from_disk(os_disk_id: str, **extra: Any) -> Body:
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {
            "osDisk": {"osType": "Linux", "createOption": "Attach", "managedDisk": {"id": os_disk_id}}
        },
        "networkProfile": {
            "networkApiVersion": "2022-11-01",
            "networkInterfaceConfigurations": [
                {
                    "name": "nic",
                    "properties": {
                        "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": SUBNET}}}]
                    },
                }
            ],
        },
        **extra,
    }
    return {"location": "westeurope", "properties": properties}


def test_a_vm_boots_an_attached_disk_without_os_profile(
    emu: AzureEmulator, client: ComputeManagementClient
) -> None:
    disk = client_disk(client, emu, "client-disk")
    vm = client.virtual_machines.begin_create_or_update(RG, "new-vm", from_disk(disk)).result()
    document = vm.as_dict()
    assert document["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"].lower() == disk.lower()
    assert "imageReference" not in document["properties"]["storageProfile"]
    assert client.disks.get(RG, "client-disk").as_dict()["managedBy"].lower() == document["id"].lower()


def test_arm_refusals_for_a_vm_from_an_attached_disk(
    emu: AzureEmulator, client: ComputeManagementClient
) -> None:
    disk = client_disk(client, emu, "client-disk")
    profile = {"osProfile": {"computerName": "x", "adminUsername": "azureuser"}}
    assert refused(
        lambda: client.virtual_machines.begin_create_or_update(RG, "a", from_disk(disk, **profile)).result()
    )[:2] == (400, "InvalidParameter")
    no_nic = from_disk(disk)
    del no_nic["properties"]["networkProfile"]
    status, code, message = refused(
        lambda: client.virtual_machines.begin_create_or_update(RG, "b", no_nic).result()
    )
    assert (status, code) == (400, "InvalidParameter") and "networkProfile" in message
    data_only = empty_disk(client, "data", 8)
    status, code, message = refused(
        lambda: client.virtual_machines.begin_create_or_update(RG, "c", from_disk(data_only)).result()
    )
    assert (status, code) == (400, "InvalidParameter") and "osType" in message
    smaller = from_disk(disk)
    smaller["properties"]["storageProfile"]["osDisk"]["diskSizeGB"] = 1
    assert refused(lambda: client.virtual_machines.begin_create_or_update(RG, "d", smaller).result())[:2] == (
        409,
        "OperationNotAllowed",
    )
    missing = from_disk(disk)
    missing["properties"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"][
        "ipConfigurations"
    ][0]["properties"]["subnet"]["id"] = SUBNET.replace("/default", "/gone")
    status, code, message = refused(
        lambda: client.virtual_machines.begin_create_or_update(RG, "e", missing).result()
    )
    assert (status, code) == (400, "InvalidResourceReference") and "subnets/gone" in message
    assert [vm.name for vm in client.virtual_machines.list(RG)] == []


def test_an_empty_disk_declared_an_os_disk_can_be_swapped_in(
    emu: AzureEmulator, client: ComputeManagementClient
) -> None:
    disk = client_disk(client, emu, "client-disk")
    root = empty_disk(client, "root", 16, osType="Linux", hyperVGeneration="V1")
    client.virtual_machines.begin_create_or_update(RG, "new-vm", from_disk(disk)).result()
    client.virtual_machines.begin_deallocate(RG, "new-vm").result()
    body = from_disk(root)
    body["properties"]["storageProfile"]["osDisk"]["name"] = "root"
    vm = client.virtual_machines.begin_create_or_update(RG, "new-vm", body).result()
    assert vm.as_dict()["properties"]["storageProfile"]["osDisk"]["name"] == "root"


def test_run_command_runs_in_a_running_vm_only(emu: AzureEmulator, client: ComputeManagementClient) -> None:
    ran: list[tuple[str, list[str]]] = []

    def guest(vm_id: str, script: list[str]) -> tuple[int, str, str]:
        ran.append((vm_id, script))
        return (0, "hello", "") if script == ["echo hello"] else (3, "", "boom")

    emu.on_run_command(guest)
    vm_id = emu.seed_vm(RG, "vm1")
    command: Body = {"commandId": "RunShellScript", "script": ["echo hello"]}
    result = client.virtual_machines.begin_run_command(RG, "vm1", command).result().as_dict()
    assert (
        result["value"][0]["code"] == "ProvisioningState/succeeded"
        and "hello" in result["value"][0]["message"]
    )
    failing: Body = {"commandId": "RunShellScript", "script": ["false"]}
    failed = client.virtual_machines.begin_run_command(RG, "vm1", failing).result().as_dict()
    assert (
        failed["value"][0]["code"] == "ProvisioningState/failed"
        and "exit status=3" in failed["value"][0]["message"]
    )
    assert [v for v, _ in ran] == [vm_id, vm_id]
    client.virtual_machines.begin_deallocate(RG, "vm1").result()
    assert refused(lambda: client.virtual_machines.begin_run_command(RG, "vm1", command).result())[:2] == (
        409,
        "OperationNotAllowed",
    )
    assert len(ran) == 2
