"""Managed disks, OS-disk swaps, userData and the Instance Metadata Service, driven by the unchanged
azure-mgmt-compute client: the emulator refuses what ARM refuses, with ARM's error codes."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient

from localcloud.azure import AzureEmulator, AzureTiming
from tests.localcloud.test_azure_emulator import RG, compute_client, error_code

Body = Any


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEmulator]:
    with AzureEmulator(timing=AzureTiming(operation=0.05, create=0.05, poll=0.02)) as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle_path)
        yield emulator


@pytest.fixture
def client(emu: AzureEmulator) -> ComputeManagementClient:
    return compute_client(emu)


def client_disk(client: ComputeManagementClient, emu: AzureEmulator, name: str, **image: Any) -> str:
    version = emu.seed_gallery_image(RG, "images", image.pop("definition", "client"), **image)
    body: Body = {
        "location": "westeurope",
        "properties": {
            "creationData": {"createOption": "FromImage", "galleryImageReference": {"id": version}}
        },
    }
    return str(client.disks.begin_create_or_update(RG, name, body).result().id)


def vm_body(client: ComputeManagementClient, name: str) -> dict[str, Any]:
    document: dict[str, Any] = client.virtual_machines.get(RG, name, expand="userData").as_dict()
    for key in ("provisioningState", "vmId", "timeCreated", "instanceView"):
        document["properties"].pop(key, None)
    return document


def put(client: ComputeManagementClient, name: str, body: Body) -> Any:
    return client.virtual_machines.begin_create_or_update(RG, name, body).result()


def refused(call: Any) -> tuple[int | None, str | None, str]:
    with pytest.raises(HttpResponseError) as raised:
        call()
    error = raised.value.error
    return raised.value.status_code, error_code(raised.value), str(error.message if error else "")


def test_disk_from_gallery_image_and_swap_on_deallocated_vm(
    emu: AzureEmulator, client: ComputeManagementClient
) -> None:
    vm_id = emu.seed_vm(RG, "web-1", data_disks_gb=[128])
    disk_id = client_disk(client, emu, "web-1-client", size_gb=8)
    disk = client.disks.get(RG, "web-1-client")
    assert (disk.disk_size_gb, disk.hyper_v_generation, disk.disk_state) == (8, "V1", "Unattached")
    own_os = client.virtual_machines.get(RG, "web-1").storage_profile.os_disk.managed_disk.id

    body = vm_body(client, "web-1")
    body["properties"]["storageProfile"]["osDisk"] = {
        "osType": "Linux", "name": "web-1-client", "createOption": "Attach", "managedDisk": {"id": disk_id}
    }  # fmt: skip
    code = refused(lambda: put(client, "web-1", body))
    assert code[:2] == (409, "OperationNotAllowed")  # the VM runs: no OS-disk swap

    client.virtual_machines.begin_deallocate(RG, "web-1").result()
    put(client, "web-1", body)
    body = vm_body(client, "web-1")
    body["properties"]["storageProfile"]["dataDisks"].append(
        {"lun": 1, "createOption": "Attach", "managedDisk": {"id": own_os}}
    )
    put(client, "web-1", body)
    vm = client.virtual_machines.get(RG, "web-1")
    assert vm.storage_profile.os_disk.managed_disk.id.lower() == disk_id.lower()
    assert [(d.lun, d.managed_disk.id) for d in vm.storage_profile.data_disks][1] == (1, own_os)
    assert client.disks.get(RG, "web-1-client").managed_by == vm_id


def test_disk_and_swap_refusals(emu: AzureEmulator, client: ComputeManagementClient) -> None:
    emu.seed_vm(RG, "web-1", data_disks_gb=[128], power_state="deallocated")
    emu.seed_vm(RG, "web-2", power_state="deallocated")
    gen2 = client_disk(client, emu, "gen2-client", definition="client-gen2", hyper_v_generation="V2")
    body = vm_body(client, "web-1")
    body["properties"]["storageProfile"]["osDisk"] = {"name": "gen2-client", "managedDisk": {"id": gen2}}
    assert refused(lambda: put(client, "web-1", body))[:2] == (409, "PropertyChangeNotAllowed")

    # A disk of another VM cannot be attached; two disks cannot share a LUN.
    other_os = client.virtual_machines.get(RG, "web-2").storage_profile.os_disk.managed_disk.id
    body = vm_body(client, "web-1")
    body["properties"]["storageProfile"]["dataDisks"].append(
        {"lun": 1, "createOption": "Attach", "managedDisk": {"id": other_os}}
    )
    assert refused(lambda: put(client, "web-1", body))[:2] == (409, "ConflictingUserInput")
    body = vm_body(client, "web-1")
    body["properties"]["storageProfile"]["dataDisks"].append(
        {"lun": 0, "createOption": "Attach", "managedDisk": {"id": gen2}}
    )
    status, code, message = refused(lambda: put(client, "web-1", body))
    assert (status, code, message) == (400, "InvalidParameter", "A disk at LUN 0 already exists.")

    # An attached disk cannot be deleted; a managed image is no source for a disk.
    assert refused(lambda: client.disks.begin_delete(RG, "web-2_OsDisk_1").result())[:2] == (
        409,
        "OperationNotAllowed",
    )
    image = emu.seed_image(RG, "managed")
    managed: Body = {
        "location": "westeurope",
        "properties": {"creationData": {"createOption": "FromImage", "imageReference": {"id": image}}},
    }
    assert (
        refused(lambda: client.disks.begin_create_or_update(RG, "x", managed).result())[1]
        == "InvalidParameter"
    )
    with pytest.raises(ResourceNotFoundError):  # nothing was created by the refusals
        client.disks.get(RG, "x")


def test_vm_creation_refusals(emu: AzureEmulator, client: ComputeManagementClient) -> None:
    image = emu.seed_image(RG, "generalized", os_disk_gb=30)
    group = f"/subscriptions/{emu.subscription_id}/resourceGroups/{RG}"
    nic = f"{group}/providers/Microsoft.Network/networkInterfaces/n"
    base: dict[str, Any] = {
        "location": "westeurope",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {"imageReference": {"id": image}, "osDisk": {"createOption": "FromImage"}},
            "osProfile": {"computerName": "x", "adminUsername": "azureuser"},
            "networkProfile": {"networkInterfaces": [{"id": nic}]},
        },
    }

    def without(key: str) -> dict[str, Any]:
        return {**base, "properties": {k: v for k, v in base["properties"].items() if k != key}}

    status, code, message = refused(lambda: put(client, "a", without("osProfile")))
    assert (status, code) == (400, "InvalidParameter") and "osProfile" in message
    status, code, message = refused(lambda: put(client, "b", without("networkProfile")))
    assert (status, code) == (400, "InvalidParameter") and "networkProfile" in message
    storage = {"imageReference": {"id": image}, "osDisk": {"createOption": "FromImage", "diskSizeGB": 10}}
    small = {**base, "properties": {**base["properties"], "storageProfile": storage}}
    status, code, message = refused(lambda: put(client, "c", small))
    assert (status, code) == (409, "OperationNotAllowed") and "smaller than the size 30GB" in message
    assert [vm.name for vm in client.virtual_machines.list(RG)] == []


def test_user_data_rules_and_the_metadata_service(
    emu: AzureEmulator, client: ComputeManagementClient
) -> None:
    vm_id = emu.seed_vm(RG, "web-1")
    body = vm_body(client, "web-1")
    body["properties"]["userData"] = "not base64!"
    assert refused(lambda: put(client, "web-1", body))[:2] == (400, "InvalidParameter")
    body["properties"]["userData"] = base64.b64encode(b"x" * (64 * 1024 + 1)).decode()
    assert refused(lambda: put(client, "web-1", body))[:2] == (400, "InvalidParameter")

    document = base64.b64encode(b'{"hello": "guest"}').decode()
    body["properties"]["userData"] = document
    put(client, "web-1", body)  # allowed while the VM runs
    url = emu.imds_url(vm_id) + "/metadata/instance/compute/userData?api-version=2021-01-01&format=text"
    with pytest.raises(HTTPError) as no_header:
        urllib.request.urlopen(url)
    assert no_header.value.code == 400
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Metadata": "true"})) as response:
        assert response.read().decode() == document
