"""Microsoft.Compute state and behaviour: VMs, managed disks, images and long-running operations.

Time is evaluated lazily: every call first completes the operations whose duration has passed, so
no background thread is needed. Reads return ARM-shaped JSON; invalid requests raise `ArmError`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from .images import BlobLookup, VhdRefused, source_vhd
from .model import (
    DISK_TYPE,
    IMAGE_TYPE,
    VM_TYPE,
    Disk,
    DiskRef,
    Gallery,
    GalleryImage,
    GalleryImageVersion,
    Image,
    Json,
    Operation,
    VirtualMachine,
    disk_json,
    gallery_image_json,
    gallery_json,
    gallery_version_json,
    image_json,
    instance_view_json,
    now_iso,
    operation_json,
    resource_id,
    vm_json,
)

WORKLOAD = "workload"  # Disk.boots of a source VM's own OS disk (the DRS agent runs there)
# userData: base64, at most 64 KB (Microsoft Learn, "User data for Azure Virtual Machine").
MAX_USER_DATA_BYTES = 64 * 1024
# Memory of the VM sizes the emulator knows (Microsoft Learn, VM size series pages).
VM_SIZES_MB = {
    "Standard_B1s": (1, 1024),
    "Standard_B1ms": (1, 2048),
    "Standard_B2s": (2, 4096),
    "Standard_A1_v2": (1, 2048),
    "Standard_D2s_v5": (2, 8192),
    "Standard_D4s_v5": (4, 16384),
    "Standard_D8s_v5": (8, 32768),
    "Standard_E4s_v5": (4, 32768),
}
BootListener = Callable[[str], None]
# (VM id, script lines) -> (exit status, stdout, stderr): what runs the script inside the guest.
RunCommandRunner = Callable[[str, list[str]], tuple[int, str, str]]
# Run Command returns the last 4096 bytes of each output stream (Microsoft Learn, "Run scripts in your
# Linux VM by using action Run Commands": restrictions).
RUN_COMMAND_OUTPUT_BYTES = 4096

# action -> (power state while it runs, power state when done)
_ACTIONS = {
    "start": ("starting", "running"),
    "deallocate": ("deallocating", "deallocated"),
    "powerOff": ("stopping", "stopped"),
    "restart": ("starting", "running"),
}
_NO_OP_FROM = {"start": {"running"}, "deallocate": {"deallocated"}, "powerOff": {"stopped", "deallocated"}}
_SETTLED = {"starting": "running", "stopping": "stopped", "deallocating": "deallocated"}
_PREEMPTED = {
    "code": "OperationPreempted",
    "message": "Operation execution has been preempted by a more recent operation.",
}
# VM properties the emulator computes itself; anything else sent in a PUT is echoed back.
_COMPUTED = {
    "hardwareProfile",
    "storageProfile",
    "provisioningState",
    "instanceView",
    "vmId",
    "timeCreated",
    "securityProfile",
}
_MARKETPLACE_UBUNTU = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-lts",
    "version": "latest",
    "exactVersion": "22.04.202405140",
}


@dataclass(frozen=True)
class AzureTiming:
    """Real seconds the emulated long-running operations take."""

    operation: float = 0.3  # start, deallocate, powerOff, restart, update, delete
    create: float = 0.5  # creating a VM
    poll: float = 0.05  # delay advised to LRO pollers (Retry-After / Retry-After-Ms)


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[Concatenate[Compute, P], R]) -> Callable[Concatenate[Compute, P], R]:
    """Run under the state lock, after completing the operations that are due."""

    @functools.wraps(method)
    def wrapper(self: Compute, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            self._advance()
            return method(self, *args, **kwargs)

    return wrapper


class Compute:
    def __init__(
        self, subscription_id: str, timing: AzureTiming, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.subscription_id = subscription_id
        self.timing = timing
        self._clock = clock
        self._lock = threading.RLock()
        self._groups: set[str] = set()  # lower-case names
        # Keyed by lower-case resource id: ARM ids are case-insensitive.
        self._vms: dict[str, VirtualMachine] = {}
        self._disks: dict[str, Disk] = {}
        self._images: dict[str, Image] = {}
        self._gallery_images: dict[str, GalleryImage] = {}
        self._operations: dict[str, Operation] = {}
        self._boot_listeners: list[BootListener] = []
        self._run_command_runner: RunCommandRunner | None = None
        self._failing_actions: set[tuple[str, str]] = set()
        self._galleries: dict[str, Gallery] = {}
        self.blob_lookup: BlobLookup = lambda uri: None  # the blob service sets it
        self.subnet_exists: Callable[[str], bool] = lambda subnet_id: True  # the network sets it

    def on_boot(self, listener: BootListener) -> None:
        """Call listener(vm id) each time a VM boots (start, restart, create). It is called under the
        state lock: it must only hand the work to another thread."""
        self._boot_listeners.append(listener)

    def on_run_command(self, runner: RunCommandRunner) -> None:
        """Who runs a Run Command script in a guest. Called on a thread of its own, without the lock."""
        self._run_command_runner = runner

    # --- seeding -------------------------------------------------------------------------------

    @_locked
    def add_resource_group(self, name: str) -> None:
        self._groups.add(name.lower())

    @_locked
    def seed_vm(
        self,
        *,
        resource_group: str,
        name: str,
        size: str,
        os_disk_gb: int,
        data_disks_gb: list[int],
        power_state: str,
        tags: dict[str, str],
        location: str,
        hyper_v_generation: str = "V1",
        security_profile: Json | None = None,
    ) -> str:
        if power_state not in ("running", "stopped", "deallocated"):
            raise ValueError(f"power_state must be running, stopped or deallocated, not {power_state!r}")
        self._groups.add(resource_group.lower())
        os_disk = self._disk_ref(
            resource_group, f"{name}_OsDisk_1", os_disk_gb, "FromImage", caching="ReadWrite"
        )
        data_disks = [
            self._disk_ref(resource_group, f"{name}_DataDisk_{lun}", size_gb, "Empty", lun=lun)
            for lun, size_gb in enumerate(data_disks_gb)
        ]
        nic_id = resource_id(
            self.subscription_id, resource_group, "Microsoft.Network/networkInterfaces", f"{name}-nic"
        )
        vm = VirtualMachine(
            id=self._id(resource_group, VM_TYPE, name),
            resource_group=resource_group,
            name=name,
            location=location,
            size=size,
            tags=dict(tags),
            image_reference=dict(_MARKETPLACE_UBUNTU),
            os_disk=os_disk,
            data_disks=data_disks,
            properties={
                "osProfile": {
                    "computerName": name,
                    "adminUsername": "azureuser",
                    "linuxConfiguration": {"disablePasswordAuthentication": True},
                },
                "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
            },
            power=power_state,
            hyper_v_generation=hyper_v_generation,
            security_profile=dict(security_profile) if security_profile else None,
        )
        if hyper_v_generation == "V2":
            vm.image_reference["sku"] = "22_04-lts-gen2"
        self._vms[vm.id.lower()] = vm
        self._materialize_disks(vm, [os_disk, *data_disks])
        self._disks[os_disk.id.lower()].boots = WORKLOAD
        for ref in [os_disk, *data_disks]:
            self._disks[ref.id.lower()].content = f"{name}:{ref.name}:original"
        return vm.id

    @_locked
    def seed_gallery_image(
        self,
        *,
        resource_group: str,
        gallery: str,
        image: str,
        version: str,
        location: str,
        size_gb: int,
        hyper_v_generation: str,
        security_type: str | None,
        boots: str,
        tags: dict[str, str],
    ) -> str:
        """A gallery image definition (created once) with a version; returns the version's id."""
        self._groups.add(resource_group.lower())
        image_id = self._id(resource_group, "Microsoft.Compute/galleries", f"{gallery}/images/{image}")
        definition = self._gallery_images.setdefault(
            image_id.lower(),
            GalleryImage(image_id, image, location, "Linux", hyper_v_generation, security_type),
        )
        version_id = f"{image_id}/versions/{version}"
        definition.versions[version.lower()] = GalleryImageVersion(
            version_id, version, location, size_gb, boots, dict(tags)
        )
        return version_id

    @_locked
    def seed_image(
        self, *, resource_group: str, name: str, location: str, os_disk_gb: int, tags: dict[str, str]
    ) -> str:
        self._groups.add(resource_group.lower())
        image = Image(self._id(resource_group, IMAGE_TYPE, name), name, location, os_disk_gb, dict(tags))
        self._images[image.id.lower()] = image
        return image.id

    # --- reads ---------------------------------------------------------------------------------

    @_locked
    def get_vm(self, resource_group: str, name: str, *, instance_view: bool, user_data: bool) -> Json:
        vm = self._find_vm(resource_group, name)
        return vm_json(vm, instance_view=instance_view, user_data=user_data)

    @_locked
    def instance_view(self, resource_group: str, name: str) -> Json:
        return instance_view_json(self._find_vm(resource_group, name))

    @_locked
    def list_vms(self, resource_group: str) -> list[Json]:
        self._require_group(resource_group)
        return [
            vm_json(vm) for vm in self._vms.values() if vm.resource_group.lower() == resource_group.lower()
        ]

    @_locked
    def get_disk(self, resource_group: str, name: str) -> Json:
        self._require_group(resource_group)
        disk = self._disks.get(self._id(resource_group, DISK_TYPE, name).lower())
        if disk is None:
            raise _not_found(DISK_TYPE, name, resource_group)
        return disk_json(disk, self._disk_state(disk))

    @_locked
    def get_image(self, resource_group: str, name: str) -> Json:
        self._require_group(resource_group)
        image = self._images.get(self._id(resource_group, IMAGE_TYPE, name).lower())
        if image is None:
            raise _not_found(IMAGE_TYPE, name, resource_group)
        return image_json(image)

    @_locked
    def operation_status(self, operation_id: str) -> Json:
        operation = self._operations.get(operation_id)
        if operation is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{operation_id}' was not found.")
        return operation_json(operation)

    @_locked
    def operation_result(self, operation_id: str) -> Json | None:
        operation = self._operations.get(operation_id)
        return None if operation is None else operation.result

    @_locked
    def vm_by_id(self, vm_id: str) -> Json:
        return vm_json(self._vms[vm_id.lower()], instance_view=True)

    @_locked
    def all_vms(self) -> list[Json]:
        return [vm_json(vm, instance_view=True) for vm in self._vms.values()]

    @_locked
    def list_disks(self, resource_group: str) -> list[Json]:
        self._require_group(resource_group)
        return [
            disk_json(disk, self._disk_state(disk))
            for disk in self._disks.values()
            if f"/resourcegroups/{resource_group.lower()}/" in disk.id.lower()
        ]

    @_locked
    def get_gallery_image(self, resource_group: str, gallery: str, image: str) -> Json:
        return gallery_image_json(self._find_gallery_image(resource_group, gallery, image))

    @_locked
    def get_gallery_version(self, resource_group: str, gallery: str, image: str, version: str) -> Json:
        definition = self._find_gallery_image(resource_group, gallery, image)
        found = definition.versions.get(version.lower())
        if found is None:
            raise _not_found("Microsoft.Compute/galleries/images/versions", version, resource_group)
        return gallery_version_json(found)

    @_locked
    def vm_sizes(self, location: str) -> list[Json]:
        return [
            {
                "name": name,
                "numberOfCores": cores,
                "memoryInMB": memory,
                "maxDataDiskCount": max(4, cores * 2),
                "osDiskSizeInMB": 1047552,
                "resourceDiskSizeInMB": 0,
            }
            for name, (cores, memory) in VM_SIZES_MB.items()
        ]

    # --- the guest's view (for the local cloud's emulated guests and DRS) ---------------------

    @_locked
    def guest(self, vm_id: str) -> Json | None:
        """What runs in a VM now: None unless it is running; else its boot disk and data disks by LUN."""
        vm = self._vms.get(vm_id.lower())
        if vm is None or vm.power != "running" or vm.provisioning == "Creating":
            return None
        os_disk = self._disks.get(vm.os_disk.id.lower())
        return {
            "vmId": vm.vm_id,
            "resourceId": vm.id,
            "name": vm.name,
            "location": vm.location,
            "osDisk": {
                "id": vm.os_disk.id,
                "boots": os_disk.boots if os_disk else None,
                "sizeGB": os_disk.size_gb if os_disk else vm.os_disk.size_gb,
            },
            "dataDisks": [
                {"lun": ref.lun, "id": ref.id, "sizeGB": self._disks[ref.id.lower()].size_gb}
                for ref in vm.data_disks
                if ref.id.lower() in self._disks
            ],
            "userData": vm.user_data or "",
        }

    @_locked
    def user_data_of(self, vm_id: str) -> str:
        return self._vms[vm_id.lower()].user_data or ""

    @_locked
    def guest_by_vm_uuid(self, vm_uuid: str) -> Json | None:
        vm = next((v for v in self._vms.values() if v.vm_id == vm_uuid), None)
        return None if vm is None else self.guest(vm.id)

    @_locked
    def disk_content(self, disk_id: str) -> tuple[str, str | None]:
        disk = self._disks[disk_id.lower()]
        return disk.content, disk.boots

    @_locked
    def write_disk(self, disk_id: str, content: str, boots: str | None) -> None:
        """What a guest writing a whole disk leaves on it (the DRS Failback Client restoring a volume)."""
        disk = self._disks[disk_id.lower()]
        disk.content, disk.boots = content, boots

    @_locked
    def guest_reboot(self, vm_id: str) -> None:
        """The guest reboots itself: the VM stays running and boots whatever its OS disk holds."""
        vm = self._vms.get(vm_id.lower())
        if vm is not None and vm.power == "running":
            self._booted(vm)

    # --- writes (each returns the Operation that completes it) --------------------------------

    @_locked
    def run_action(self, resource_group: str, name: str, action: str) -> Operation:
        vm = self._find_vm(resource_group, name)
        self._check_can_change(vm, action)
        if action == "restart" and vm.power != "running":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation 'restart' is not allowed on VM '{name}' since the VM is {vm.power}.",
            )
        self._preempt(vm)
        transient, final = _ACTIONS[action]
        if vm.power in _NO_OP_FROM.get(action, set()):
            transient = final = vm.power
        booting = final == "running" and (vm.power != "running" or action == "restart")
        before = vm.power
        vm.set_state(provisioning="Updating", power=transient)
        failing = (vm.id.lower(), action) in self._failing_actions

        def done() -> None:
            if failing:
                # The operation fails: the VM stays as it was and reports provisioning Failed.
                self._failing_actions.discard((vm.id.lower(), action))
                vm.set_state(provisioning="Failed", power=before)
                raise _OperationFailed(
                    {
                        "code": "InternalExecutionError",
                        "message": f"Operation '{action}' failed (injected fault).",
                    }
                )
            vm.set_state(provisioning="Succeeded", power=final)
            if booting:
                self._booted(vm)

        return self._begin(vm, self.timing.operation, done)

    @_locked
    def run_command(self, resource_group: str, name: str, body: Json) -> Operation:
        """Action Run Command (POST .../runCommand): a script run by the VM's guest agent. The VM must be
        running, and one Run Command runs at a time (Microsoft Learn, action Run Command restrictions)."""
        vm = self._find_vm(resource_group, name)
        self._check_can_change(vm, "runCommand")
        command = body.get("commandId")
        if not command:
            raise _invalid("Required parameter 'commandId' is missing (null).")
        if command != "RunShellScript":
            raise _invalid(f"The emulator runs commandId 'RunShellScript' only, not '{command}'.")
        script = body.get("script")
        if not isinstance(script, list) or not all(isinstance(line, str) for line in script):
            raise _invalid("Parameter 'script' must be a list of strings.")
        if vm.power != "running":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Cannot run a command on VM '{name}': the VM is {vm.power}. The operation requires the VM "
                "to be running.",
            )
        if vm.run_command:
            raise ArmError(
                409,
                "Conflict",
                "Run command extension execution is in progress. Please wait for completion before invoking "
                "a run command.",
            )
        operation = Operation(str(uuid.uuid4()), vm.location, float("inf"), lambda: None)
        self._operations[operation.id] = operation
        vm.run_command = operation.id
        runner = self._run_command_runner
        thread = threading.Thread(
            target=self._run_script,
            args=(vm, list(script), operation, runner),
            name="run-command",
            daemon=True,
        )
        thread.start()
        return operation

    def _run_script(
        self, vm: VirtualMachine, script: list[str], operation: Operation, runner: RunCommandRunner | None
    ) -> None:
        if runner is None:
            status, out, err = 1, "", "no guest agent answers in this VM"
        else:
            try:
                status, out, err = runner(vm.id, script)
            except Exception as exc:  # the guest failed: reported as the script's failure
                status, out, err = 1, "", f"{type(exc).__name__}: {exc}"
        with self._lock:
            operation.result = _run_command_result(status, out, err)
            operation.due = self._clock()
            vm.run_command = None

    @_locked
    def fail_next_action(self, vm_id: str, action: str) -> None:
        self._failing_actions.add((vm_id.lower(), action))

    @_locked
    def reconfigure(self, vm_id: str, hyper_v_generation: str, security_profile: Json | None) -> None:
        vm = self._vms[vm_id.lower()]
        vm.hyper_v_generation, vm.security_profile = hyper_v_generation, security_profile
        disk = self._disks.get(vm.os_disk.id.lower())
        if disk is not None:
            disk.hyper_v_generation = hyper_v_generation

    @_locked
    def remove_gallery_version(self, version_id: str) -> None:
        parent, _, version = version_id.rstrip("/").rpartition("/versions/")
        self._gallery_images[parent.lower()].versions.pop(version.lower())

    @_locked
    def create_or_update(self, resource_group: str, name: str, body: Json) -> tuple[bool, Json, Operation]:
        """PUT semantics: (created?, VM as now, the operation provisioning it)."""
        self._require_group(resource_group)
        vm = self._vms.get(self._id(resource_group, VM_TYPE, name).lower())
        if vm is None:
            vm, operation = self._create(resource_group, name, body)
            return True, vm_json(vm), operation
        if vm.provisioning == "Creating" and vm.pending_operation:  # a retried create: same operation
            return False, vm_json(vm), self._operations[vm.pending_operation]
        self._check_can_change(vm, "PUT")
        operation = self._update(vm, body)
        return False, vm_json(vm), operation

    @_locked
    def delete_vm(self, resource_group: str, name: str) -> Operation | None:
        """Start deleting a VM; None when it does not exist (ARM then answers 204)."""
        self._require_group(resource_group)
        key = self._id(resource_group, VM_TYPE, name).lower()
        vm = self._vms.get(key)
        if vm is None:
            return None
        if vm.provisioning == "Deleting" and vm.pending_operation:
            return self._operations[vm.pending_operation]
        self._preempt(vm)
        vm.set_state(provisioning="Deleting")

        def done() -> None:
            del self._vms[key]
            for ref in [vm.os_disk, *vm.data_disks]:
                disk = self._disks.get(ref.id.lower())
                if disk is not None and ref.delete_option.lower() == "delete":
                    del self._disks[ref.id.lower()]
                elif disk is not None:
                    disk.managed_by = None

        return self._begin(vm, self.timing.operation, done)

    @_locked
    def create_or_update_disk(
        self, resource_group: str, name: str, body: Json
    ) -> tuple[bool, Json, Operation]:
        """PUT a managed disk: Empty (diskSizeGB) or FromImage of a gallery image version."""
        self._require_group(resource_group)
        disk_id = self._id(resource_group, DISK_TYPE, name)
        existing = self._disks.get(disk_id.lower())
        location = body.get("location")
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        properties: Json = body.get("properties") or {}
        creation: Json = properties.get("creationData") or {}
        if existing is not None:
            # Creation data cannot change; tags and a larger size can (an unattached disk only grows).
            if dict(creation) and creation.get("createOption") != existing.creation_data.get("createOption"):
                raise _invalid("Changing property 'creationData' is not allowed.")
            existing.tags = dict(body.get("tags") or existing.tags)
            return False, disk_json(existing, self._disk_state(existing)), self._settled_operation(location)
        option = str(creation.get("createOption", "")).lower()
        size = properties.get("diskSizeGB")
        boots: str | None = None
        os_type = generation = None
        if option == "empty":
            if not size:
                raise _invalid("Required parameter 'diskSizeGB' is missing (null).")
            # An empty disk may be declared an OS disk (osType, hyperVGeneration): one that will receive an
            # operating system and then be attached as a VM's OS disk.
            os_type = properties.get("osType")
            generation = properties.get("hyperVGeneration")
            if os_type is not None and os_type not in ("Linux", "Windows"):
                raise _invalid(f"The value '{os_type}' of parameter 'osType' is invalid.")
            if generation is not None and generation not in ("V1", "V2"):
                raise _invalid(f"The value '{generation}' of parameter 'hyperVGeneration' is invalid.")
        elif option == "fromimage":
            reference = creation.get("galleryImageReference") or {}
            if not reference.get("id"):
                # A managed image (Microsoft.Compute/images) is not a disk source: FromImage takes a
                # platform image or a gallery image (Microsoft Learn, DiskCreateOption.FromImage).
                raise _invalid(
                    "Required parameter 'creationData.galleryImageReference' is missing (null)."
                    if not creation.get("imageReference")
                    else "A managed disk can only be created from a platform or gallery image."
                )
            definition, version = self._gallery_version(str(reference["id"]), location)
            if size is not None and int(size) < version.size_gb:
                raise ArmError(
                    400,
                    "InvalidParameter",
                    f"Disk size {size} GB is smaller than the size {version.size_gb} GB of the image.",
                )
            size = int(size or version.size_gb)
            boots, os_type, generation = version.boots, definition.os_type, definition.hyper_v_generation
        else:
            raise _invalid("The emulator supports creationData.createOption 'Empty' and 'FromImage' only.")
        disk = Disk(
            id=disk_id,
            name=name,
            location=location,
            size_gb=int(size),
            creation_data=dict(creation),
            managed_by=None,
            sku=(body.get("sku") or {}).get("name") or "Premium_LRS",
            os_type=os_type,
            hyper_v_generation=generation,
            tags=dict(body.get("tags") or {}),
            content=boots or "",
            boots=boots,
            provisioning="Creating",
        )
        self._disks[disk_id.lower()] = disk

        def done() -> None:
            disk.provisioning = "Succeeded"

        operation = Operation(str(uuid.uuid4()), location, self._clock() + self.timing.operation, done)
        self._operations[operation.id] = operation
        return True, disk_json(disk, self._disk_state(disk)), operation

    @_locked
    def delete_disk(self, resource_group: str, name: str) -> Operation | None:
        """Delete an unattached disk; None when there is none (204)."""
        self._require_group(resource_group)
        key = self._id(resource_group, DISK_TYPE, name).lower()
        disk = self._disks.get(key)
        if disk is None:
            return None
        if disk.managed_by:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk {disk.name} is attached to VM {disk.managed_by}.",
            )

        def done() -> None:
            self._disks.pop(key, None)

        operation = Operation(str(uuid.uuid4()), disk.location, self._clock() + self.timing.operation, done)
        self._operations[operation.id] = operation
        return operation

    # --- images from an uploaded VHD ------------------------------------------------------------

    @_locked
    def create_image(self, resource_group: str, name: str, body: Json) -> tuple[bool, Json, Operation]:
        """PUT a managed image from a VHD page blob (storageProfile.osDisk.blobUri)."""
        self._require_group(resource_group)
        location = _location(body)
        properties: Json = body.get("properties") or {}
        os_disk: Json = (properties.get("storageProfile") or {}).get("osDisk") or {}
        if os_disk.get("osType") not in ("Linux", "Windows"):
            raise _invalid("Required parameter 'storageProfile.osDisk.osType' is missing (null).")
        if os_disk.get("osState") not in ("Generalized", "Specialized"):
            raise _invalid("Required parameter 'storageProfile.osDisk.osState' is missing (null).")
        generation = properties.get("hyperVGeneration") or "V1"
        if generation not in ("V1", "V2"):
            raise _invalid(f"The value '{generation}' of parameter 'hyperVGeneration' is not allowed.")
        vhd = self._source(str(os_disk.get("blobUri") or ""), location, name)
        image_id = self._id(resource_group, IMAGE_TYPE, name)
        created = image_id.lower() not in self._images
        image = Image(
            image_id, name, location, -(-vhd.virtual_size // 1024**3), dict(body.get("tags") or {}),
            generation, vhd.uri,
        )  # fmt: skip
        self._images[image_id.lower()] = image
        return created, image_json(image), self._settled_operation(location)

    @_locked
    def create_gallery(self, resource_group: str, name: str, body: Json) -> tuple[bool, Json, Operation]:
        self._require_group(resource_group)
        location = _location(body)
        gallery_id = self._id(resource_group, "Microsoft.Compute/galleries", name)
        created = gallery_id.lower() not in self._galleries
        gallery = Gallery(gallery_id, name, location, dict(body.get("tags") or {}))
        self._galleries[gallery_id.lower()] = gallery
        return created, gallery_json(gallery), self._settled_operation(location)

    @_locked
    def get_gallery(self, resource_group: str, name: str) -> Json:
        self._require_group(resource_group)
        gallery = self._galleries.get(self._id(resource_group, "Microsoft.Compute/galleries", name).lower())
        if gallery is None:
            raise _not_found("Microsoft.Compute/galleries", name, resource_group)
        return gallery_json(gallery)

    @_locked
    def create_gallery_image(
        self, resource_group: str, gallery: str, name: str, body: Json
    ) -> tuple[bool, Json, Operation]:
        self._require_group(resource_group)
        self._require_gallery(resource_group, gallery)
        location = _location(body)
        properties: Json = body.get("properties") or {}
        for field_name in ("osType", "osState", "identifier"):
            if not properties.get(field_name):
                raise _invalid(f"Required parameter '{field_name}' is missing (null).")
        image_id = self._id(resource_group, "Microsoft.Compute/galleries", f"{gallery}/images/{name}")
        existing = self._gallery_images.get(image_id.lower())
        generation = properties.get("hyperVGeneration") or "V1"
        if existing is not None and existing.hyper_v_generation != generation:
            raise ArmError(
                409, "PropertyChangeNotAllowed", "Changing property 'hyperVGeneration' is not allowed."
            )
        features = {f.get("name"): f.get("value") for f in properties.get("features") or []}
        definition = existing or GalleryImage(
            image_id, name, location, str(properties["osType"]), generation, features.get("SecurityType")
        )
        definition.os_state = str(properties["osState"])
        definition.tags = dict(body.get("tags") or {})
        self._gallery_images[image_id.lower()] = definition
        return existing is None, gallery_image_json(definition), self._settled_operation(location)

    @_locked
    def create_gallery_version(
        self, resource_group: str, gallery: str, image: str, version: str, body: Json
    ) -> tuple[bool, Json, Operation]:
        """PUT an image version from a VHD page blob (storageProfile.osDiskImage.source)."""
        definition = self._find_gallery_image(resource_group, gallery, image)
        location = _location(body)
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            raise _invalid(
                f"The gallery image version name '{version}' must be MajorVersion.MinorVersion.Patch."
            )
        properties: Json = body.get("properties") or {}
        source: Json = ((properties.get("storageProfile") or {}).get("osDiskImage") or {}).get("source") or {}
        if not source.get("storageAccountId"):
            raise _invalid("Required parameter 'osDiskImage.source.storageAccountId' is missing (null).")
        vhd = self._source(str(source.get("uri") or ""), location, f"{image}/{version}")
        regions = [
            str(region.get("name"))
            for region in (properties.get("publishingProfile") or {}).get("targetRegions") or []
        ]
        if regions and _region(location) not in {_region(r) for r in regions}:
            raise _invalid("The target regions of an image version must include its own location.")
        created = version.lower() not in definition.versions
        found = GalleryImageVersion(
            f"{definition.id}/versions/{version}",
            version,
            location,
            -(-vhd.virtual_size // 1024**3),
            "drs-failback-client" if vhd.bootable else "nothing-bootable",
            dict(body.get("tags") or {}),
            regions,
            vhd.uri,
        )
        definition.versions[version.lower()] = found
        return created, gallery_version_json(found), self._settled_operation(location)

    def _source(self, uri: str, location: str, disk: str) -> Any:
        try:
            return source_vhd(uri, location, self.blob_lookup, disk=disk)
        except VhdRefused as refused:
            raise _invalid(refused.message) from None

    def _require_gallery(self, resource_group: str, gallery: str) -> None:
        if self._id(resource_group, "Microsoft.Compute/galleries", gallery).lower() not in self._galleries:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. "
                f"Parent resource '{gallery}' not found.",
            )

    # --- internals -----------------------------------------------------------------------------

    def _create(self, resource_group: str, name: str, body: Json) -> tuple[VirtualMachine, Operation]:
        location = body.get("location")
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        properties: Json = body.get("properties") or {}
        size = (properties.get("hardwareProfile") or {}).get("vmSize")
        if not size:
            raise _invalid("Required parameter 'hardwareProfile.vmSize' is missing (null).")
        network: Json = properties.get("networkProfile") or {}
        if not (network.get("networkInterfaces") or network.get("networkInterfaceConfigurations")):
            raise _invalid("Required parameter 'networkProfile' is missing (null).")
        self._check_subnets(resource_group, network)
        storage: Json = properties.get("storageProfile") or {}
        os_body: Json = storage.get("osDisk") or {}
        if str(os_body.get("createOption", "")).lower() == "attach":
            return self._create_from_disk(resource_group, name, body, os_body)
        image_reference: Json | None = storage.get("imageReference")
        if not image_reference:
            raise _invalid("Required parameter 'storageProfile.imageReference' is missing (null).")
        image = self._image_for(image_reference, location)
        # A generalized image needs the provisioning settings of the new OS (ARM: InvalidParameter).
        if not properties.get("osProfile"):
            raise _invalid("Required parameter 'osProfile' is missing (null).")
        if str(os_body.get("createOption", "FromImage")).lower() != "fromimage":
            raise _invalid("The emulator supports osDisk.createOption 'FromImage' and 'Attach' only.")
        image_gb = image.os_disk_gb if image else 30
        os_gb = int(os_body.get("diskSizeGB") or image_gb)
        if os_gb < image_gb:
            # Microsoft Learn, "Understand common error messages" (virtual-machines/error-messages).
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk with size {os_gb}GB, which is smaller than the size {image_gb}GB of corresponding "
                "disk in Image, is not allowed. Please choose equal or greater size or do not specify it.",
            )
        os_disk = self._disk_ref(
            resource_group,
            os_body.get("name") or f"{name}_OsDisk_1_{uuid.uuid4().hex}",
            os_gb,
            "FromImage",
            delete_option=os_body.get("deleteOption") or "Detach",
            sku=(os_body.get("managedDisk") or {}).get("storageAccountType") or "Premium_LRS",
            caching=os_body.get("caching") or "ReadWrite",
        )
        vm = VirtualMachine(
            id=self._id(resource_group, VM_TYPE, name),
            resource_group=resource_group,
            name=name,
            location=location,
            size=size,
            tags=dict(body.get("tags") or {}),
            image_reference=dict(image_reference),
            os_disk=os_disk,
            data_disks=[],
            properties=_echoed(properties),
            user_data=_checked_user_data(properties.get("userData")),
            provisioning="Creating",
            power="starting",
            hyper_v_generation=image.hyper_v_generation if image else "V1",
            security_profile=properties.get("securityProfile"),
        )
        vm.data_disks = self._desired_data_disks(vm, storage.get("dataDisks") or [])
        self._vms[vm.id.lower()] = vm

        def done() -> None:
            vm.set_state(provisioning="Succeeded", power="running")
            self._materialize_disks(
                vm, [vm.os_disk, *[d for d in vm.data_disks if d.create_option != "Attach"]]
            )
            self._booted(vm)

        return vm, self._begin(vm, self.timing.create, done)

    def _check_subnets(self, resource_group: str, network: Json) -> None:
        """The NICs ARM creates from networkInterfaceConfigurations need existing subnets; ARM refuses
        the VM otherwise, naming the subnet and the NIC (Code InvalidResourceReference)."""
        for configuration in network.get("networkInterfaceConfigurations") or []:
            nic_id = resource_id(
                self.subscription_id,
                resource_group,
                "Microsoft.Network/networkInterfaces",
                str(configuration.get("name") or "nic"),
            )
            for ip in (configuration.get("properties") or {}).get("ipConfigurations") or []:
                subnet = str(((ip.get("properties") or {}).get("subnet") or {}).get("id") or "")
                if not self.subnet_exists(subnet):
                    raise ArmError(
                        400,
                        "InvalidResourceReference",
                        f"Resource {subnet} referenced by resource {nic_id} was not found. Please make "
                        "sure that the referenced resource exists, and that both resources are in the same "
                        "region.",
                    )

    def _create_from_disk(
        self, resource_group: str, name: str, body: Json, os_body: Json
    ) -> tuple[VirtualMachine, Operation]:
        """A VM booting an existing managed disk (osDisk.createOption Attach): the disk is used as it is,
        so no image and no OS provisioning: ARM refuses an osProfile ("Parameter 'osProfile' is not
        allowed", Code InvalidParameter, target osProfile), needs the disk's osType, and a diskSizeGB
        below the disk's size (a disk never shrinks)."""
        location = str(body["location"])
        properties: Json = body.get("properties") or {}
        storage: Json = properties.get("storageProfile") or {}
        if properties.get("osProfile"):
            raise _invalid("Parameter 'osProfile' is not allowed.")
        if storage.get("imageReference"):
            raise _invalid("Parameter 'imageReference' is not allowed when osDisk.createOption is Attach.")
        if not os_body.get("osType"):
            raise _invalid("Required parameter 'osDisk.osType' is missing (null).")
        wanted = str((os_body.get("managedDisk") or {}).get("id") or "")
        disk = self._disks.get(wanted.lower()) if wanted else None
        if disk is None:
            raise ArmError(404, "NotFound", f"Disk {wanted or '(no managedDisk.id)'} could not be found.")
        if disk.os_type is None:
            raise _invalid(f"Disk {disk.name} has no osType and cannot be used as an OS disk.")
        if os_body.get("diskSizeGB") is not None and int(os_body["diskSizeGB"]) < disk.size_gb:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk {disk.name} has {disk.size_gb} GB: a disk size of {os_body['diskSizeGB']} GB is not "
                "allowed (disks cannot be shrunk).",
            )
        vm = VirtualMachine(
            id=self._id(resource_group, VM_TYPE, name),
            resource_group=resource_group,
            name=name,
            location=location,
            size=str((properties.get("hardwareProfile") or {})["vmSize"]),
            tags=dict(body.get("tags") or {}),
            image_reference={},
            os_disk=DiskRef(
                disk.id,
                disk.name,
                disk.size_gb,
                "Attach",
                delete_option=os_body.get("deleteOption") or "Detach",
                sku=disk.sku,
                caching=os_body.get("caching") or "ReadWrite",
            ),
            data_disks=[],
            properties=_echoed(properties),
            user_data=_checked_user_data(properties.get("userData")),
            provisioning="Creating",
            power="starting",
            hyper_v_generation=disk.hyper_v_generation or "V1",
            security_profile=properties.get("securityProfile"),
        )
        self._check_attachable(vm, disk)
        vm.data_disks = self._desired_data_disks(vm, storage.get("dataDisks") or [])
        self._vms[vm.id.lower()] = vm
        for ref in [vm.os_disk, *vm.data_disks]:
            if ref.id.lower() in self._disks:
                self._disks[ref.id.lower()].managed_by = vm.id

        def done() -> None:
            vm.set_state(provisioning="Succeeded", power="running")
            self._materialize_disks(vm, [d for d in vm.data_disks if d.create_option != "Attach"])
            self._booted(vm)

        return vm, self._begin(vm, self.timing.create, done)

    def _update(self, vm: VirtualMachine, body: Json) -> Operation:
        """PUT on an existing VM: the body is the VM as wanted. Validates everything before changing
        anything: an OS-disk swap, attached and detached data disks, userData, tags, size."""
        properties: Json = body.get("properties") or {}
        storage: Json = properties.get("storageProfile") or {}
        new_os = self._os_disk_swap(vm, storage.get("osDisk") or {})
        data_disks = self._desired_data_disks(vm, storage.get("dataDisks") or [], new_os)
        user_data = _checked_user_data(properties["userData"]) if "userData" in properties else vm.user_data
        size = (properties.get("hardwareProfile") or {}).get("vmSize") or vm.size
        if size != vm.size and vm.power not in ("deallocated", "stopped"):
            pass  # resizing a running VM is allowed for sizes available on its cluster
        # All checks passed: apply.
        previous = {ref.id.lower() for ref in [vm.os_disk, *vm.data_disks]}
        if new_os is not None:
            vm.os_disk = new_os
        vm.data_disks = data_disks
        current = {ref.id.lower() for ref in [vm.os_disk, *vm.data_disks]}
        for key in previous - current:
            if key in self._disks:
                self._disks[key].managed_by = None
        for ref in [vm.os_disk, *vm.data_disks]:
            if ref.id.lower() in self._disks:
                self._disks[ref.id.lower()].managed_by = vm.id
        vm.tags = dict(body.get("tags") or {})
        vm.size = size
        vm.user_data = user_data
        vm.properties.update(_echoed(properties))
        self._preempt(vm)
        vm.set_state(provisioning="Updating")
        added = [ref for ref in vm.data_disks if ref.id.lower() not in self._disks]

        def done() -> None:
            vm.set_state(provisioning="Succeeded")
            self._materialize_disks(vm, added)

        return self._begin(vm, self.timing.operation, done)

    def _os_disk_swap(self, vm: VirtualMachine, os_body: Json) -> DiskRef | None:
        """The new OS disk when the PUT names another managed disk; None when it keeps its own."""
        wanted = str((os_body.get("managedDisk") or {}).get("id") or "")
        if not wanted or wanted.lower() == vm.os_disk.id.lower():
            return None
        # OS disk swap: "the VM must be stopped/deallocated" (Microsoft Learn, "Change the OS disk used by
        # an Azure VM"); same generation and OS type as the VM.
        if vm.power != "deallocated":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Changing property 'osDisk.managedDisk.id' is not allowed because VM '{vm.name}' is "
                f"{vm.power}. Deallocate the VM before swapping its OS disk.",
            )
        disk = self._disks.get(wanted.lower())
        if disk is None:
            raise ArmError(404, "NotFound", f"Disk {wanted} could not be found.")
        self._check_attachable(vm, disk)
        if disk.hyper_v_generation and disk.hyper_v_generation != vm.hyper_v_generation:
            raise ArmError(
                409,
                "PropertyChangeNotAllowed",
                "Swapping OS Disk is not supported since HyperVisor property on the OSDisk and VM do not "
                "match. Please make sure the HyperVisor property on the OSDisk is HyperVisor Generation "
                f"'{vm.hyper_v_generation}'",
            )
        if disk.os_type is None:
            raise _invalid(f"Disk {disk.name} has no osType and cannot be used as an OS disk.")
        return DiskRef(
            disk.id,
            disk.name,
            disk.size_gb,
            "Attach",
            delete_option=os_body.get("deleteOption") or "Detach",
            sku=disk.sku,
            caching=os_body.get("caching") or "ReadWrite",
        )

    def _desired_data_disks(
        self, vm: VirtualMachine, bodies: list[Json], new_os: DiskRef | None = None
    ) -> list[DiskRef]:
        """The data disks a PUT asks for: kept, attached (Attach + managedDisk.id) or new (Empty).
        Disks of the VM not listed are detached."""
        current = {ref.id.lower(): ref for ref in vm.data_disks}
        os_id = (new_os or vm.os_disk).id.lower()
        refs: list[DiskRef] = []
        for body in bodies:
            lun = body.get("lun")
            if not isinstance(lun, int):
                raise _invalid("Required parameter 'dataDisk.lun' is missing (null).")
            if lun in {ref.lun for ref in refs}:
                raise _invalid(f"A disk at LUN {lun} already exists.")
            option = str(body.get("createOption", "")).lower()
            disk_id = str((body.get("managedDisk") or {}).get("id") or "")
            if disk_id and disk_id.lower() in current:
                kept = current[disk_id.lower()]
                refs.append(DiskRef(**{**kept.__dict__, "lun": lun}))
                continue
            if option == "attach":
                disk = self._disks.get(disk_id.lower()) if disk_id else None
                if disk is None:
                    raise ArmError(
                        404, "NotFound", f"Disk {disk_id or '(no managedDisk.id)'} could not be found."
                    )
                if disk.id.lower() == os_id:
                    raise _invalid(f"Disk {disk.name} cannot be both the OS disk and a data disk of a VM.")
                self._check_attachable(vm, disk)
                refs.append(
                    DiskRef(
                        disk.id,
                        disk.name,
                        disk.size_gb,
                        "Attach",
                        lun=lun,
                        delete_option=body.get("deleteOption") or "Detach",
                        sku=disk.sku,
                        caching=body.get("caching") or "None",
                    )
                )
            elif option == "empty":
                if not body.get("diskSizeGB"):
                    raise _invalid("Required parameter 'dataDisk.diskSizeGB' is missing (null).")
                refs.append(
                    self._disk_ref(
                        vm.resource_group,
                        body.get("name") or f"{vm.name}_disk{lun + 2}_{uuid.uuid4().hex}",
                        int(body["diskSizeGB"]),
                        "Empty",
                        lun=lun,
                        delete_option=body.get("deleteOption") or "Detach",
                        sku=(body.get("managedDisk") or {}).get("storageAccountType") or "Premium_LRS",
                        caching=body.get("caching") or "None",
                    )
                )
            else:
                raise _invalid(
                    f"Data disk at LUN {lun}: createOption must be 'Attach' (with managedDisk.id) or 'Empty'."
                )
        return refs

    def _check_attachable(self, vm: VirtualMachine, disk: Disk) -> None:
        if disk.managed_by and disk.managed_by.lower() != vm.id.lower():
            raise ArmError(
                409,
                "ConflictingUserInput",
                f"Disk '{disk.id}' cannot be attached as the disk is already owned by VM "
                f"'{disk.managed_by}'.",
            )
        if disk.provisioning != "Succeeded":
            raise ArmError(409, "OperationNotAllowed", f"Disk {disk.name} is still being created.")
        if disk.location.lower() != vm.location.lower():
            raise _invalid(f"Disk {disk.name} is in {disk.location}, VM {vm.name} in {vm.location}.")

    def _gallery_version(self, version_id: str, location: str) -> tuple[GalleryImage, GalleryImageVersion]:
        parent, _, version = version_id.rstrip("/").rpartition("/versions/")
        definition = self._gallery_images.get(parent.lower())
        found = definition.versions.get(version.lower()) if definition else None
        if definition is None or found is None:
            raise ArmError(404, "NotFound", f"The gallery image version '{version_id}' could not be found.")
        if _region(found.location) != _region(location):
            raise ArmError(
                404,
                "NotFound",
                f"The gallery image version '{version_id}' is not replicated to '{location}'.",
            )
        return definition, found

    def _find_gallery_image(self, resource_group: str, gallery: str, image: str) -> GalleryImage:
        self._require_group(resource_group)
        image_id = self._id(resource_group, "Microsoft.Compute/galleries", f"{gallery}/images/{image}")
        definition = self._gallery_images.get(image_id.lower())
        if definition is None:
            raise _not_found(
                "Microsoft.Compute/galleries/images", f"{gallery}/images/{image}", resource_group
            )
        return definition

    def _settled_operation(self, location: str) -> Operation:
        operation = Operation(str(uuid.uuid4()), location, self._clock(), lambda: None)
        self._operations[operation.id] = operation
        return operation

    def _booted(self, vm: VirtualMachine) -> None:
        for listener in self._boot_listeners:
            listener(vm.id)

    def _image_for(self, reference: Json, location: str) -> Image | None:
        """The custom image a reference names (None for a marketplace reference)."""
        image_id = reference.get("id")
        if not image_id:
            return None
        image = self._images.get(str(image_id).lower())
        if image is None or _region(image.location) != _region(location):
            raise ArmError(404, "NotFound", f"The Image '{image_id}' cannot be found in '{location}' region.")
        return image

    def _disk_ref(
        self, resource_group: str, name: str, size_gb: int, create_option: str, **options: Any
    ) -> DiskRef:
        return DiskRef(self._id(resource_group, DISK_TYPE, name), name, size_gb, create_option, **options)

    def _materialize_disks(self, vm: VirtualMachine, refs: list[DiskRef]) -> None:
        for ref in refs:
            if ref.id.lower() in self._disks:
                self._disks[ref.id.lower()].managed_by = vm.id
                continue
            if ref.lun is not None:
                creation: Json = {"createOption": "Empty"}
            elif "id" in vm.image_reference:
                creation = {"createOption": "FromImage", "imageReference": {"id": vm.image_reference["id"]}}
            else:
                creation = {"createOption": "FromImage"}
            self._disks[ref.id.lower()] = Disk(
                id=ref.id,
                name=ref.name,
                location=vm.location,
                size_gb=ref.size_gb,
                creation_data=creation,
                managed_by=vm.id,
                sku=ref.sku,
                os_type="Linux" if ref.lun is None else None,
                hyper_v_generation=vm.hyper_v_generation if ref.lun is None else None,
            )

    def _disk_state(self, disk: Disk) -> str:
        vm = self._vms.get(disk.managed_by.lower()) if disk.managed_by else None
        if vm is None:
            return "Unattached"
        return "Reserved" if vm.power == "deallocated" else "Attached"

    def _begin(self, vm: VirtualMachine, duration: float, on_done: Callable[[], None]) -> Operation:
        def finish() -> None:
            vm.pending_operation = None
            on_done()

        operation = Operation(str(uuid.uuid4()), vm.location, self._clock() + duration, finish)
        self._operations[operation.id] = operation
        vm.pending_operation = operation.id
        return operation

    def _preempt(self, vm: VirtualMachine) -> None:
        """A newer operation on a VM cancels the pending one, as Azure does (OperationPreempted)."""
        pending = self._operations.get(vm.pending_operation or "")
        if pending is not None and pending.status == "InProgress":
            pending.status, pending.end_time, pending.error = "Canceled", now_iso(), dict(_PREEMPTED)
            vm.power = _SETTLED.get(vm.power, vm.power)
        vm.pending_operation = None

    def _advance(self) -> None:
        now = self._clock()
        due = [op for op in self._operations.values() if op.status == "InProgress" and op.due <= now]
        for operation in sorted(due, key=lambda op: op.due):
            operation.status, operation.end_time = "Succeeded", now_iso()
            try:
                operation.on_done()
            except _OperationFailed as failed:
                operation.status, operation.error = "Failed", failed.error

    def _check_can_change(self, vm: VirtualMachine, operation: str) -> None:
        if vm.provisioning == "Deleting":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation '{operation}' is not allowed since the virtual machine '{vm.name}' is marked for "
                "deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).",
            )
        if vm.provisioning == "Creating":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Operation '{operation}' is not allowed on VM '{vm.name}' while it is being created.",
            )

    def _find_vm(self, resource_group: str, name: str) -> VirtualMachine:
        self._require_group(resource_group)
        vm = self._vms.get(self._id(resource_group, VM_TYPE, name).lower())
        if vm is None:
            raise _not_found(VM_TYPE, name, resource_group)
        return vm

    def _require_group(self, resource_group: str) -> None:
        if resource_group.lower() not in self._groups:
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found."
            )

    def _id(self, resource_group: str, resource_type: str, name: str) -> str:
        return resource_id(self.subscription_id, resource_group, resource_type, name)


def _echoed(properties: Json) -> Json:
    """The PUT properties stored as sent, minus computed ones and secrets Azure never returns."""
    echoed = {k: v for k, v in properties.items() if k not in _COMPUTED and k != "userData"}
    if isinstance(echoed.get("osProfile"), dict):
        echoed["osProfile"] = {
            k: v for k, v in echoed["osProfile"].items() if k not in ("adminPassword", "customData")
        }
    return echoed


class _OperationFailed(Exception):
    def __init__(self, error: Json) -> None:
        super().__init__(error["message"])
        self.error = error


def _checked_user_data(value: Any) -> str | None:
    """userData as ARM accepts it: base64 text of at most 64 KB decoded; "" clears it."""
    if value is None or value == "":
        return None if value is None else ""
    try:
        decoded = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The value of parameter 'userData' is invalid: it must be base64 encoded.") from None
    if len(decoded) > MAX_USER_DATA_BYTES:
        raise _invalid(
            f"The value of parameter 'userData' is invalid: {len(decoded)} bytes exceed the limit of "
            f"{MAX_USER_DATA_BYTES} bytes."
        )
    return str(value)


def _location(body: Json) -> str:
    location = body.get("location")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    return str(location)


def _run_command_result(status: int, out: str, err: str) -> Json:
    """RunCommandResult as the Linux Run Command extension reports it: one instance-view status whose
    message holds the tails of stdout and stderr."""
    tail_out = out.encode()[-RUN_COMMAND_OUTPUT_BYTES:].decode(errors="replace")
    tail_err = err.encode()[-RUN_COMMAND_OUTPUT_BYTES:].decode(errors="replace")
    if status == 0:
        code, level, display, head = "succeeded", "Info", "Provisioning succeeded", "Enable succeeded: "
    else:
        code, level, display = "failed", "Error", "Provisioning failed"
        head = f"Enable failed: failed to execute command: command terminated with exit status={status}"
    message = f"{head}\n[stdout]\n{tail_out}\n[stderr]\n{tail_err}"
    return {
        "value": [
            {
                "code": f"ProvisioningState/{code}",
                "level": level,
                "displayStatus": display,
                "message": message,
            }
        ]
    }


def _region(location: str) -> str:
    return location.replace(" ", "").lower()


def _invalid(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def _not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )
