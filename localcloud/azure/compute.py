"""Microsoft.Compute state and behaviour: VMs, managed disks, images and long-running operations.

Time is evaluated lazily: every call first completes the operations whose duration has passed, so
no background thread is needed. Reads return ARM-shaped JSON; invalid requests raise `ArmError`.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from .model import (
    DISK_TYPE,
    IMAGE_TYPE,
    VM_TYPE,
    Disk,
    DiskRef,
    Image,
    Json,
    Operation,
    VirtualMachine,
    disk_json,
    image_json,
    instance_view_json,
    now_iso,
    operation_json,
    resource_id,
    vm_json,
)

RECOVERY_TAG = "drs-recovery-instance-id"

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
_COMPUTED = {"hardwareProfile", "storageProfile", "provisioningState", "instanceView", "vmId", "timeCreated"}
_MARKETPLACE_UBUNTU = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-lts-gen2",
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
        self._operations: dict[str, Operation] = {}

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
        )
        self._vms[vm.id.lower()] = vm
        self._materialize_disks(vm, [os_disk, *data_disks])
        return vm.id

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
    def vm_by_id(self, vm_id: str) -> Json:
        return vm_json(self._vms[vm_id.lower()], instance_view=True)

    @_locked
    def all_vms(self) -> list[Json]:
        return [vm_json(vm, instance_view=True) for vm in self._vms.values()]

    @_locked
    def failback_client_running(self, recovery_instance_id: str) -> bool:
        return any(
            vm.tags.get(RECOVERY_TAG) == recovery_instance_id
            and "id" in vm.image_reference
            and vm.provisioning == "Succeeded"
            and vm.power == "running"
            for vm in self._vms.values()
        )

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
        vm.set_state(provisioning="Updating", power=transient)
        return self._begin(
            vm, self.timing.operation, lambda: vm.set_state(provisioning="Succeeded", power=final)
        )

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

    # --- internals -----------------------------------------------------------------------------

    def _create(self, resource_group: str, name: str, body: Json) -> tuple[VirtualMachine, Operation]:
        location = body.get("location")
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        properties: Json = body.get("properties") or {}
        size = (properties.get("hardwareProfile") or {}).get("vmSize")
        if not size:
            raise _invalid("Required parameter 'hardwareProfile.vmSize' is missing (null).")
        storage: Json = properties.get("storageProfile") or {}
        image_reference: Json | None = storage.get("imageReference")
        if not image_reference:
            raise _invalid("Required parameter 'storageProfile.imageReference' is missing (null).")
        image = self._image_for(image_reference, location)
        os_body: Json = storage.get("osDisk") or {}
        if str(os_body.get("createOption", "FromImage")).lower() != "fromimage":
            raise _invalid("The emulator supports osDisk.createOption 'FromImage' only.")
        os_disk = self._disk_ref(
            resource_group,
            os_body.get("name") or f"{name}_OsDisk_1_{uuid.uuid4().hex}",
            int(os_body.get("diskSizeGB") or (image.os_disk_gb if image else 30)),
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
            data_disks=self._new_data_disks(resource_group, name, storage.get("dataDisks") or [], set()),
            properties=_echoed(properties),
            user_data=properties.get("userData"),
            provisioning="Creating",
            power="starting",
        )
        self._vms[vm.id.lower()] = vm

        def done() -> None:
            vm.set_state(provisioning="Succeeded", power="running")
            self._materialize_disks(vm, [vm.os_disk, *vm.data_disks])

        return vm, self._begin(vm, self.timing.create, done)

    def _update(self, vm: VirtualMachine, body: Json) -> Operation:
        """PUT on an existing VM: tags, size, userData, other properties and added data disks."""
        properties: Json = body.get("properties") or {}
        attached = {disk.lun for disk in vm.data_disks if disk.lun is not None}
        bodies = (properties.get("storageProfile") or {}).get("dataDisks") or []
        added = self._new_data_disks(vm.resource_group, vm.name, bodies, attached)  # validates first
        vm.tags = dict(body.get("tags") or {})
        vm.size = (properties.get("hardwareProfile") or {}).get("vmSize") or vm.size
        if "userData" in properties:
            vm.user_data = properties["userData"]
        vm.properties.update(_echoed(properties))
        vm.data_disks.extend(added)
        self._preempt(vm)
        vm.set_state(provisioning="Updating")

        def done() -> None:
            vm.set_state(provisioning="Succeeded")
            self._materialize_disks(vm, added)

        return self._begin(vm, self.timing.operation, done)

    def _new_data_disks(
        self, resource_group: str, vm_name: str, bodies: list[Json], attached: set[int]
    ) -> list[DiskRef]:
        refs: list[DiskRef] = []
        for body in bodies:
            lun = body.get("lun")
            if not isinstance(lun, int):
                raise _invalid("Required parameter 'dataDisk.lun' is missing (null).")
            if lun in attached:
                continue
            if lun in {ref.lun for ref in refs}:
                raise _invalid(f"A disk at LUN {lun} already exists.")
            if str(body.get("createOption", "")).lower() != "empty":
                raise _invalid("The emulator supports dataDisks createOption 'Empty' only.")
            if not body.get("diskSizeGB"):
                raise _invalid("Required parameter 'dataDisk.diskSizeGB' is missing (null).")
            refs.append(
                self._disk_ref(
                    resource_group,
                    body.get("name") or f"{vm_name}_disk{lun + 2}_{uuid.uuid4().hex}",
                    int(body["diskSizeGB"]),
                    "Empty",
                    lun=lun,
                    delete_option=body.get("deleteOption") or "Detach",
                    sku=(body.get("managedDisk") or {}).get("storageAccountType") or "Premium_LRS",
                    caching=body.get("caching") or "None",
                )
            )
        return refs

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
            operation.on_done()

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
