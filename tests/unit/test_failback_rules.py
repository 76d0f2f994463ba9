"""The failback rules: which step each VM takes next, device mapping, boot checks, the userData document."""

from __future__ import annotations

import base64
import json

import pytest

from lambdas.domain import failback as rules
from lambdas.domain.failback import ClientDisk, DataDisk, Layout, VmNow

OWN_OS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/web-1_OsDisk_1"
DATA = DataDisk(
    0, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/web-1_DataDisk_0", 128
)
CLIENT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/web-1-drs-failback-client"
LAYOUT = Layout(OWN_OS, 64, (DATA,))
OWN_AT_LUN_1 = DataDisk(1, OWN_OS, 64)


def vm(
    power: str, os_disk: str, *data: DataDisk, user_data: bool = False, provisioning: str = "succeeded"
) -> VmNow:
    return VmNow(power, provisioning, os_disk, 64, tuple(data), user_data)


def disk(exists: bool = True, ready: bool = True, attached_to: str | None = None) -> ClientDisk:
    return ClientDisk(CLIENT, exists, ready, attached_to)


def test_to_client_walks_the_vm_from_its_own_disks_to_the_client_one_step_at_a_time() -> None:
    assert rules.next_step_to_client(vm("running", OWN_OS, DATA), LAYOUT, disk(False)) == "deallocate"
    assert rules.next_step_to_client(vm("deallocating", OWN_OS, DATA), LAYOUT, disk(False)) == "wait"
    assert (
        rules.next_step_to_client(vm("deallocated", OWN_OS, DATA), LAYOUT, disk(False))
        == "create_client_disk"
    )
    assert rules.next_step_to_client(vm("deallocated", OWN_OS, DATA), LAYOUT, disk(ready=False)) == "wait"
    assert rules.next_step_to_client(vm("deallocated", OWN_OS, DATA), LAYOUT, disk()) == "swap_to_client"
    assert rules.next_step_to_client(vm("deallocated", CLIENT, DATA), LAYOUT, disk()) == "attach_own_os_disk"
    on_client = vm("deallocated", CLIENT, DATA, OWN_AT_LUN_1, user_data=True)
    assert rules.next_step_to_client(on_client, LAYOUT, disk()) == "start"
    running = vm("running", CLIENT, DATA, OWN_AT_LUN_1, user_data=True)
    assert rules.next_step_to_client(running, LAYOUT, disk()) == "done"
    assert (
        rules.next_step_to_client(vm("running", CLIENT, DATA, provisioning="updating"), LAYOUT, disk())
        == "wait"
    )


def test_to_original_stops_the_client_before_touching_its_disks_and_deletes_only_the_client_disk() -> None:
    running = vm("running", CLIENT, DATA, OWN_AT_LUN_1)
    assert rules.next_step_to_original(running, LAYOUT, disk(attached_to="vm")) == "deallocate"
    stopped = vm("deallocated", CLIENT, DATA, OWN_AT_LUN_1, user_data=True)
    assert rules.next_step_to_original(stopped, LAYOUT, disk(attached_to="vm")) == "detach_own_os_disk"
    assert (
        rules.next_step_to_original(vm("deallocated", CLIENT, DATA), LAYOUT, disk(attached_to="vm"))
        == "swap_back"
    )
    assert rules.next_step_to_original(vm("deallocated", OWN_OS, DATA, user_data=True), LAYOUT, disk()) == (
        "clear_user_data"
    )
    assert (
        rules.next_step_to_original(vm("deallocated", OWN_OS, DATA), LAYOUT, disk()) == "delete_client_disk"
    )
    assert (
        rules.next_step_to_original(vm("deallocated", OWN_OS, DATA), LAYOUT, disk(attached_to="vm")) == "wait"
    )
    assert rules.next_step_to_original(vm("deallocated", OWN_OS, DATA), LAYOUT, disk(False)) == "start"
    assert rules.next_step_to_original(vm("running", OWN_OS, DATA), LAYOUT, disk(False)) == "done"
    # A data disk missing from the recorded layout is put back (deallocated first).
    assert rules.next_step_to_original(vm("running", OWN_OS), LAYOUT, disk(False)) == "deallocate"
    assert rules.next_step_to_original(vm("deallocated", OWN_OS), LAYOUT, disk(False)) == "swap_back"


def test_to_original_refuses_a_vm_booting_an_unknown_disk() -> None:
    with pytest.raises(ValueError, match="neither its recorded OS disk"):
        rules.next_step_to_original(vm("running", "/subscriptions/s/disks/other"), LAYOUT, disk())


def test_layout_is_never_recorded_from_a_vm_on_the_client_disk() -> None:
    assert rules.layout_of(vm("running", OWN_OS, DATA), CLIENT) == LAYOUT
    with pytest.raises(ValueError, match="no original layout is recorded"):
        rules.layout_of(vm("running", CLIENT, DATA), CLIENT)
    assert Layout.from_document(LAYOUT.to_document()) == LAYOUT


def recovery_instance(*sizes_gib: int) -> dict[str, object]:
    disks = [
        {"internalDeviceName": f"/dev/xvd{chr(97 + i)}", "bytes": s * 1024**3}
        for i, s in enumerate(sizes_gib)
    ]
    return {"recoveryInstanceID": "i-1", "recoveryInstanceProperties": {"disks": disks}}


def test_device_mapping_puts_the_os_volume_on_the_own_os_disk_and_checks_sizes() -> None:
    assert LAYOUT.own_os_disk_lun() == 1
    assert rules.device_mapping(recovery_instance(64, 128), LAYOUT) == [
        {"recoveryInstanceDevice": "/dev/xvda", "lun": 1},
        {"recoveryInstanceDevice": "/dev/xvdb", "lun": 0},
    ]
    with pytest.raises(ValueError, match="smaller than recovery-instance volume /dev/xvdb"):
        rules.device_mapping(recovery_instance(64, 129), LAYOUT)
    with pytest.raises(ValueError, match="ambiguous"):
        rules.device_mapping(recovery_instance(64), LAYOUT)


def test_boot_problems_name_each_reason() -> None:
    fine = dict(image_generation="V1", image_location="westeurope", vm_location="West Europe")
    assert rules.boot_problems(vm_generation="V1", secure_boot=False, memory_mb=8192, **fine) == []
    problems = rules.boot_problems(vm_generation="V2", secure_boot=True, memory_mb=2048, **fine)
    assert len(problems) == 3
    assert "generation V2" in problems[0] and "secure boot" in problems[1] and "2048 MB" in problems[2]


def test_user_data_document_is_what_the_hook_reads() -> None:
    credentials = {"AccessKeyId": "ASIAX", "SecretAccessKey": "secret", "SessionToken": "token"}
    mapping = [{"recoveryInstanceDevice": "/dev/xvda", "lun": 1}]
    encoded = rules.user_data_document(
        region="us-east-1",
        credentials=credentials,
        recovery_instance_id="i-1",
        mapping=mapping,
        endpoint=None,
    )
    document = json.loads(base64.b64decode(encoded))
    assert document["version"] == 1 and document["recoveryInstanceId"] == "i-1"
    assert document["credentials"]["sessionToken"] == "token" and document["deviceMapping"] == mapping
