"""Failback to the original Azure VMs: the rules, without any SDK.

Per VM (DRS user guide, "Performing a failback with the DRS Failback Client"; Microsoft Learn, "Change
the OS disk used by an Azure VM"):
  to the client:   deallocate -> create the client disk from the failback-client image -> make it the OS
                   disk (the VM's own OS disk is detached) -> attach the own OS disk as a data disk at a
                   free LUN -> write the failback document into userData -> start
  back:            deallocate -> the own OS disk becomes the OS disk again, data disks exactly as recorded,
                   userData cleared -> delete the client disk -> start
Each step is decided from what Azure reports now and the layout recorded before the first change, so a
retried, stopped or failed run resumes where the VM is. No step deletes or overwrites a disk that holds
workload data: the only disk ever deleted is the client disk this module names and tags.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

MIN_CLIENT_MEMORY_MB = 4096  # the Failback Client needs at least 4 GB of RAM (DRS user guide, prerequisites)
MAX_USER_DATA_BYTES = 64 * 1024  # Azure userData limit (Microsoft Learn, "User data for Azure VMs")
CLIENT_DISK_TAG = "drs-failback-client"
GIB = 1024**3

Step = Literal[
    "wait", "deallocate", "create_client_disk", "swap_to_client", "attach_own_os_disk", "start",
    "detach_own_os_disk", "swap_back", "clear_user_data", "delete_client_disk", "done",
]  # fmt: skip


@dataclass(frozen=True)
class DataDisk:
    lun: int
    disk_id: str
    size_gb: int


@dataclass(frozen=True)
class Layout:
    """A VM's disks before failback changed anything: what the restore puts back exactly."""

    os_disk_id: str
    os_disk_size_gb: int
    data_disks: tuple[DataDisk, ...]

    def to_document(self) -> dict[str, Any]:
        return {
            "osDiskId": self.os_disk_id,
            "osDiskSizeGb": self.os_disk_size_gb,
            "dataDisks": [{"lun": d.lun, "diskId": d.disk_id, "sizeGb": d.size_gb} for d in self.data_disks],
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Layout:
        return cls(
            os_disk_id=str(document["osDiskId"]),
            os_disk_size_gb=int(document["osDiskSizeGb"]),
            data_disks=tuple(
                DataDisk(int(d["lun"]), str(d["diskId"]), int(d["sizeGb"])) for d in document["dataDisks"]
            ),
        )

    def own_os_disk_lun(self) -> int:
        """Where the VM's own OS disk is attached while the client runs: the lowest LUN not in use."""
        used = {d.lun for d in self.data_disks}
        return next(lun for lun in range(len(used) + 1) if lun not in used)


@dataclass(frozen=True)
class VmNow:
    """What Azure reports about a target VM now."""

    power: str  # running | deallocated | stopped | starting | deallocating | stopping | unknown
    provisioning: str  # succeeded | updating | creating | failed | ...
    os_disk_id: str
    os_disk_size_gb: int
    data_disks: tuple[DataDisk, ...]
    has_user_data: bool

    @property
    def busy(self) -> bool:
        return self.provisioning.lower() not in ("succeeded", "failed") or self.power in (
            "starting",
            "stopping",
            "deallocating",
        )

    def data_disk_ids(self) -> set[str]:
        return {d.disk_id.lower() for d in self.data_disks}


@dataclass(frozen=True)
class ClientDisk:
    disk_id: str
    exists: bool
    ready: bool  # provisioning succeeded
    attached_to: str | None


@dataclass(frozen=True)
class GalleryImage:
    """The failback-client image version as Azure reports it."""

    version_id: str
    location: str
    hyper_v_generation: str
    os_type: str
    exists: bool
    tags: dict[str, str]


@dataclass(frozen=True)
class BootFacts:
    """What decides whether a VM can boot the failback client."""

    location: str
    vm_size: str
    hyper_v_generation: str
    secure_boot: bool


def client_disk_name(vm_name: str) -> str:
    return f"{vm_name}-drs-failback-client"


def layout_of(vm: VmNow, client_disk_id: str) -> Layout:
    """The layout to record; refused when the VM already boots a failback-client disk (a layout recorded
    by an earlier run must then be used instead)."""
    if vm.os_disk_id.lower() == client_disk_id.lower():
        raise ValueError(
            "the VM boots the failback-client disk and no original layout is recorded: attach its own OS "
            "disk as the OS disk by hand (README, 'Failback recovery by hand')"
        )
    return Layout(vm.os_disk_id, vm.os_disk_size_gb, vm.data_disks)


def next_step_to_client(vm: VmNow, layout: Layout, disk: ClientDisk) -> Step:
    """The next action that brings the VM to boot the failback client with its own disks attached."""
    if vm.busy:
        return "wait"
    on_client = vm.os_disk_id.lower() == disk.disk_id.lower()
    own_attached = layout.os_disk_id.lower() in vm.data_disk_ids()
    if on_client and own_attached and vm.power == "running":
        return "done"
    if vm.power not in ("deallocated",) and not (on_client and own_attached):
        return "deallocate"
    if not disk.exists:
        return "create_client_disk"
    if not disk.ready:
        return "wait"
    if not on_client:
        return "swap_to_client"
    if not own_attached:
        return "attach_own_os_disk"
    return "start"


def next_step_to_original(vm: VmNow, layout: Layout, disk: ClientDisk) -> Step:
    """The next action that brings the VM back to its recorded layout, running, with the client disk gone.
    The client is stopped (deallocated) before any of its disks is touched."""
    if vm.busy:
        return "wait"
    on_client = vm.os_disk_id.lower() == disk.disk_id.lower()
    on_own = vm.os_disk_id.lower() == layout.os_disk_id.lower()
    if not (on_client or on_own):
        raise ValueError(
            f"the VM boots disk {vm.os_disk_id}, neither its recorded OS disk {layout.os_disk_id} nor the "
            "failback-client disk: not changed (README, 'Failback recovery by hand')"
        )
    layout_data = {d.disk_id.lower() for d in layout.data_disks}
    if on_client or vm.data_disk_ids() != layout_data:
        if vm.power != "deallocated":
            return "deallocate"
        if on_client and layout.os_disk_id.lower() in vm.data_disk_ids():
            return "detach_own_os_disk"
        return "swap_back"
    if vm.has_user_data:
        return "clear_user_data"
    if disk.exists and not disk.attached_to:
        return "delete_client_disk"
    if disk.exists:
        return "wait"  # ARM releases the disk once the update completes
    if vm.power != "running":
        return "start"
    return "done"


def device_mapping(recovery_instance: dict[str, Any], layout: Layout) -> list[dict[str, Any]]:
    """Recovery-instance volume -> the VM disk (by LUN while the client runs) that receives it: the first
    volume (the source's OS disk) goes to the VM's own OS disk, the others to its data disks in LUN order."""
    volumes = (recovery_instance.get("recoveryInstanceProperties") or {}).get("disks") or []
    targets = [DataDisk(layout.own_os_disk_lun(), layout.os_disk_id, layout.os_disk_size_gb)]
    targets += sorted(layout.data_disks, key=lambda d: d.lun)
    if len(volumes) != len(targets):
        raise ValueError(
            f"recovery instance {recovery_instance.get('recoveryInstanceID')} has {len(volumes)} volumes, "
            f"the VM has {len(targets)} disks (OS + data): the mapping would be ambiguous"
        )
    mapping = []
    for volume, target in zip(volumes, targets, strict=True):
        needed_gb = math.ceil(int(volume.get("bytes", 0)) / GIB)
        device = str(volume.get("internalDeviceName") or "")
        if target.size_gb < needed_gb:
            raise ValueError(
                f"disk at LUN {target.lun} has {target.size_gb} GiB, smaller than recovery-instance volume "
                f"{device} ({needed_gb} GiB)"
            )
        mapping.append({"recoveryInstanceDevice": device, "lun": target.lun})
    return mapping


def boot_problems(
    *,
    vm_generation: str,
    secure_boot: bool,
    memory_mb: int | None,
    image_generation: str,
    image_location: str,
    vm_location: str,
) -> list[str]:
    """Why a VM cannot boot the failback client (empty: it can)."""
    problems = []
    if image_location.replace(" ", "").lower() != vm_location.replace(" ", "").lower():
        problems.append(f"the failback-client image is in {image_location}, the VM in {vm_location}")
    if image_generation != vm_generation:
        problems.append(
            f"the VM is Hyper-V generation {vm_generation}, the failback-client image {image_generation}: "
            "Azure swaps an OS disk only for the same generation (the Linux client boots in BIOS mode, Gen1)"
        )
    if secure_boot:
        problems.append("secure boot is on (Trusted Launch): the Failback Client needs secure boot off")
    if memory_mb is None:
        problems.append("the VM size's memory is unknown in its region")
    elif memory_mb < MIN_CLIENT_MEMORY_MB:
        problems.append(f"the VM size has {memory_mb} MB of memory; the Failback Client needs 4096 MB")
    return problems


def user_data_document(
    *,
    region: str,
    credentials: dict[str, str],
    recovery_instance_id: str,
    mapping: list[dict[str, Any]],
    endpoint: str | None,
) -> str:
    """The base64 userData the boot hook reads (failback_client/hook.py, document version 1)."""
    document = {
        "version": 1,
        "region": region,
        "credentials": {
            "accessKeyId": credentials["AccessKeyId"],
            "secretAccessKey": credentials["SecretAccessKey"],
            "sessionToken": credentials["SessionToken"],
        },
        "recoveryInstanceId": recovery_instance_id,
        "deviceMapping": mapping,
        "endpoint": endpoint or "",
    }
    encoded = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode("ascii")
    if len(base64.b64decode(encoded)) > MAX_USER_DATA_BYTES:
        raise ValueError("the failback document exceeds Azure's 64 KB userData limit")
    return encoded


# -- failback to a new VM (target "new": the original VM is gone) ----------------------------------------

NEW_VM_TAG = "drs-failback-vm"  # on the VM and disks failback creates: value = the plan's name
NewVmStep = Literal["create_disks", "create_client_disk", "wait", "create_vm", "exists"]


def new_vm_name(server_name: str) -> str:
    """The new VM's name: derived from the server's, so a retried or resumed run finds the same VM."""
    return f"{server_name}-failback"


def new_vm_disk_name(vm_name: str, index: int) -> str:
    """Disk `index` of the new VM: 0 receives the recovery instance's root volume and becomes the OS disk."""
    return f"{vm_name}-disk-{index}"


def volume_sizes_gb(recovery_instance: dict[str, Any]) -> list[int]:
    """The recovery instance's volumes in GiB (rounded up), in DRS's order: the root volume first."""
    volumes = (recovery_instance.get("recoveryInstanceProperties") or {}).get("disks") or []
    sizes = [max(1, math.ceil(int(v.get("bytes", 0)) / GIB)) for v in volumes]
    if not sizes:
        raise ValueError(
            f"recovery instance {recovery_instance.get('recoveryInstanceID')} reports no volumes: "
            "no disk to create for them"
        )
    return sizes


def new_vm_layout(disk_ids: list[str], sizes_gb: list[int]) -> Layout:
    """The new VM's layout once failback is done: disk 0 (the root volume's) as OS disk, the others as data
    disks at LUN 0, 1, ... While the client runs, disk 0 is attached at the first free LUN, as an original
    VM's own OS disk is (Layout.own_os_disk_lun)."""
    data = tuple(DataDisk(lun, disk_ids[i], sizes_gb[i]) for lun, i in enumerate(range(1, len(disk_ids))))
    return Layout(disk_ids[0], sizes_gb[0], data)


def next_step_new_vm(
    *, vm_exists: bool, vm_ours: bool, disks: list[ClientDisk], client: ClientDisk
) -> NewVmStep:
    """Before the new VM exists: its empty disks and the client disk first, then the VM itself. A VM of
    that name that failback did not create is never touched."""
    if vm_exists:
        if not vm_ours:
            raise ValueError(
                "a VM of this name exists that this plan's failback did not create (no "
                f"'{NEW_VM_TAG}' tag): not touched; remove it or rename the server"
            )
        return "exists"
    if any(not d.exists for d in disks):
        return "create_disks"
    if not client.exists:
        return "create_client_disk"
    if not all(d.ready for d in [*disks, client]):
        return "wait"
    return "create_vm"
