"""The Azure emulator driven by the unchanged azure-identity + azure-mgmt-compute clients over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as m

from localcloud.azure import AzureEmulator, AzureTiming

RG = "rg-prod"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEmulator]:
    with AzureEmulator(timing=AzureTiming(operation=0.2, create=0.3)) as emulator:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle_path)
        yield emulator


def credential(emu: AzureEmulator, secret: str | None = None) -> ClientSecretCredential:
    return ClientSecretCredential(
        emu.tenant_id,
        emu.client_id,
        secret or emu.client_secret,
        authority=emu.authority,
        disable_instance_discovery=True,
    )


def compute_client(emu: AzureEmulator, secret: str | None = None, **kwargs: Any) -> ComputeManagementClient:
    return ComputeManagementClient(
        credential(emu, secret),
        emu.subscription_id,
        base_url=emu.resource_manager_url,
        credential_scopes=[emu.resource_manager_url + "/.default"],
        **kwargs,
    )


def power_state(client: ComputeManagementClient, name: str) -> str:
    statuses = client.virtual_machines.instance_view(RG, name).statuses or []
    return next(s.code for s in statuses if s.code and s.code.startswith("PowerState/"))


def image_vm(image_id: str, tag: str) -> m.VirtualMachine:
    nic_id = "/subscriptions/x/resourceGroups/rg-dr/providers/Microsoft.Network/networkInterfaces/fb-nic"
    return m.VirtualMachine(
        location="westeurope",
        tags={"purpose": tag},
        properties=m.VirtualMachineProperties(
            hardware_profile=m.HardwareProfile(vm_size="Standard_D2s_v5"),
            os_profile=m.OSProfile(computer_name="fb", admin_username="azureuser"),
            storage_profile=m.StorageProfile(
                image_reference=m.ImageReference(id=image_id),
                os_disk=m.OSDisk(create_option="FromImage", disk_size_gb=64),
                data_disks=[
                    m.DataDisk(lun=0, create_option="Empty", disk_size_gb=128),
                    m.DataDisk(lun=1, create_option="Empty", disk_size_gb=256),
                ],
            ),
            network_profile=m.NetworkProfile(network_interfaces=[m.NetworkInterfaceReference(id=nic_id)]),
        ),
    )


def error_code(error: HttpResponseError) -> str | None:
    return error.error.code if error.error else None


# --- Entra ID and reads ---------------------------------------------------------------------------


def test_token_then_get_vm(emu: AzureEmulator) -> None:
    vm_id = emu.seed_vm(RG, "web-1", size="Standard_D4s_v5", data_disks_gb=[128], tags={"app": "web"})

    vm = compute_client(emu).virtual_machines.get(RG, "web-1")

    assert vm.id == vm_id
    assert vm.hardware_profile.vm_size == "Standard_D4s_v5"
    assert vm.tags == {"app": "web"}
    assert vm.storage_profile.os_disk.disk_size_gb == 64
    assert [d.disk_size_gb for d in vm.storage_profile.data_disks] == [128]
    tenant = emu.tenant_id
    assert emu.request_log[:2] == [
        ("GET", f"/{tenant}/v2.0/.well-known/openid-configuration", 200),
        ("POST", f"/{tenant}/oauth2/v2.0/token", 200),
    ]


def test_instance_view_reports_power_state(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    emu.seed_vm(RG, "db-1", power_state="deallocated")
    client = compute_client(emu)

    expanded = client.virtual_machines.get(RG, "web-1", expand="instanceView")

    codes = [s.code for s in expanded.instance_view.statuses]
    assert codes == ["ProvisioningState/succeeded", "PowerState/running"]
    assert power_state(client, "db-1") == "PowerState/deallocated"
    assert sorted(str(vm.name) for vm in client.virtual_machines.list(RG)) == ["db-1", "web-1"]


def test_missing_vm_raises_resource_not_found(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = compute_client(emu)

    with pytest.raises(ResourceNotFoundError) as missing_vm:
        client.virtual_machines.get(RG, "nope")
    with pytest.raises(ResourceNotFoundError) as missing_group:
        client.virtual_machines.get("rg-unknown", "web-1")

    assert error_code(missing_vm.value) == "ResourceNotFound"
    assert error_code(missing_group.value) == "ResourceGroupNotFound"


def test_arm_requires_a_bearer_token(emu: AzureEmulator) -> None:
    url = f"{emu.resource_manager_url}/subscriptions/{emu.subscription_id}/resourceGroups/{RG}"
    url += "/providers/Microsoft.Compute/virtualMachines/web-1?api-version=2024-07-01"

    response = requests.get(url, verify=emu.ca_bundle_path, timeout=5)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_token_for_another_audience_is_rejected(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = ComputeManagementClient(
        credential(emu),
        emu.subscription_id,
        base_url=emu.resource_manager_url,
        credential_scopes=["https://vault.azure.net/.default"],
    )

    with pytest.raises(ClientAuthenticationError, match="wrong audience"):
        client.virtual_machines.get(RG, "web-1")


# --- long-running operations ----------------------------------------------------------------------


def test_deallocate_then_start(emu: AzureEmulator) -> None:
    vm_id = emu.seed_vm(RG, "web-1", data_disks_gb=[128])
    client = compute_client(emu)

    client.virtual_machines.begin_deallocate(RG, "web-1").result()

    assert power_state(client, "web-1") == "PowerState/deallocated"
    assert client.disks.get(RG, "web-1_DataDisk_0").disk_state == "Reserved"
    statuses = [s["code"] for s in emu.vm(vm_id)["properties"]["instanceView"]["statuses"]]
    assert statuses == ["ProvisioningState/succeeded", "PowerState/deallocated"]
    polled = [path for method, path, _ in emu.request_log if "/locations/westeurope/operations/" in path]
    assert polled, "the SDK polls the Azure-AsyncOperation URL"

    client.virtual_machines.begin_start(RG, "web-1").result()

    assert power_state(client, "web-1") == "PowerState/running"


def test_power_off_restart_and_delete(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1", data_disks_gb=[32])
    client = compute_client(emu)

    client.virtual_machines.begin_power_off(RG, "web-1").result()
    assert power_state(client, "web-1") == "PowerState/stopped"
    with pytest.raises(HttpResponseError) as not_running:
        client.virtual_machines.begin_restart(RG, "web-1")
    assert not_running.value.status_code == 409

    client.virtual_machines.begin_start(RG, "web-1").result()
    client.virtual_machines.begin_restart(RG, "web-1").result()
    assert power_state(client, "web-1") == "PowerState/running"

    client.virtual_machines.begin_delete(RG, "web-1").result()
    with pytest.raises(ResourceNotFoundError):
        client.virtual_machines.get(RG, "web-1")
    assert client.disks.get(RG, "web-1_DataDisk_0").disk_state == "Unattached"


def test_create_from_image_with_data_disks(emu: AzureEmulator) -> None:
    image_id = emu.seed_image("rg-dr", "drs-failback-client")
    client = compute_client(emu)
    assert client.images.get("rg-dr", "drs-failback-client").id == image_id

    vm = client.virtual_machines.begin_create_or_update(
        "rg-dr", "failback-web-1", image_vm(image_id, "i-0123456789abcdef0")
    ).result()

    assert vm.provisioning_state == "Succeeded"
    assert vm.storage_profile.image_reference.id == image_id
    os_disk = client.disks.get("rg-dr", vm.storage_profile.os_disk.name)
    assert os_disk.disk_size_gb == 64
    assert os_disk.creation_data.image_reference.id == image_id
    sizes = [client.disks.get("rg-dr", d.name).disk_size_gb for d in vm.storage_profile.data_disks]
    assert sizes == [128, 256]
    assert emu.guest(str(vm.id)) is not None  # running


def test_create_is_in_progress_until_timing_create_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    with AzureEmulator(timing=AzureTiming(create=60)) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_bundle_path)
        image_id = emu.seed_image("rg-dr", "drs-failback-client")
        client = compute_client(emu)

        poller = client.virtual_machines.begin_create_or_update(
            "rg-dr", "failback-web-1", image_vm(image_id, "i-1"), polling=False
        )

        assert poller.result().provisioning_state == "Creating"
        assert emu.guest(str(poller.result().id)) is None  # not booted yet
        with pytest.raises(ResourceNotFoundError):  # disks appear once the VM is provisioned
            client.disks.get("rg-dr", poller.result().storage_profile.os_disk.name)


def test_put_on_existing_vm_updates_it(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = compute_client(emu)
    vm = client.virtual_machines.get(RG, "web-1")
    vm.tags = {"drained": "true"}

    updated = client.virtual_machines.begin_create_or_update(RG, "web-1", vm).result()

    assert updated.tags == {"drained": "true"}
    assert power_state(client, "web-1") == "PowerState/running"


def test_create_from_missing_image_is_not_found(emu: AzureEmulator) -> None:
    other_region = emu.seed_image("rg-dr", "elsewhere", location="northeurope")  # images are regional
    missing = other_region.replace("/elsewhere", "/gone")
    client = compute_client(emu)

    for image_id in (missing, other_region):
        with pytest.raises(ResourceNotFoundError, match="cannot be found in 'westeurope' region"):
            client.virtual_machines.begin_create_or_update("rg-dr", "fb", image_vm(image_id, "i-1"))


# --- faults ---------------------------------------------------------------------------------------


def test_throttled_request_is_retried_after_retry_after(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = compute_client(emu)
    client.virtual_machines.get(RG, "web-1")
    emu.throttle_next(1, retry_after_seconds=1)

    assert client.virtual_machines.get(RG, "web-1").name == "web-1"

    assert [status for _, _, status in emu.request_log[-2:]] == [429, 200]


def test_throttling_beyond_retries_surfaces(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = compute_client(emu, retry_total=0)
    client.virtual_machines.get(RG, "web-1")
    emu.throttle_next(1)

    with pytest.raises(HttpResponseError) as throttled:
        client.virtual_machines.get(RG, "web-1")

    assert throttled.value.status_code == 429
    assert error_code(throttled.value) == "TooManyRequests"


def test_server_error_is_retried_then_surfaces(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    retrying, strict = compute_client(emu), compute_client(emu, retry_total=0)

    emu.fail_next(1)
    assert retrying.virtual_machines.get(RG, "web-1").name == "web-1"
    assert [status for _, _, status in emu.request_log[-2:]] == [500, 200]

    emu.fail_next(1, status=503)
    with pytest.raises(HttpResponseError) as failed:
        strict.virtual_machines.get(RG, "web-1")
    assert failed.value.status_code == 503


def test_rotated_secret_fails_authentication(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    old_secret = emu.client_secret

    new_secret = emu.rotate_secret()

    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        compute_client(emu, old_secret).virtual_machines.get(RG, "web-1")
    assert compute_client(emu, new_secret).virtual_machines.get(RG, "web-1").name == "web-1"
    token_posts = [status for method, path, status in emu.request_log if path.endswith("/token")]
    assert token_posts == [401, 200]

    emu.clear_faults()
    assert emu.client_secret == old_secret
    assert compute_client(emu, old_secret).virtual_machines.get(RG, "web-1").name == "web-1"


def test_unreachable_refuses_connections_until_restored(emu: AzureEmulator) -> None:
    emu.seed_vm(RG, "web-1")
    client = compute_client(emu, retry_total=0)
    client.virtual_machines.get(RG, "web-1")  # token cached: only ARM is contacted below

    emu.set_unreachable(True)
    with pytest.raises(ServiceRequestError):
        client.virtual_machines.get(RG, "web-1")

    emu.set_unreachable(False)
    assert client.virtual_machines.get(RG, "web-1").name == "web-1"
