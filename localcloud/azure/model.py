"""Compute resources held by the emulator, and their ARM JSON shapes (as the Azure SDK deserializes them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

VM_TYPE = "Microsoft.Compute/virtualMachines"
DISK_TYPE = "Microsoft.Compute/disks"
IMAGE_TYPE = "Microsoft.Compute/images"
GALLERY_IMAGE_TYPE = "Microsoft.Compute/galleries/images"
GALLERY_VERSION_TYPE = "Microsoft.Compute/galleries/images/versions"

_POWER_DISPLAY = {
    "starting": "VM starting",
    "running": "VM running",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def resource_id(subscription_id: str, resource_group: str, resource_type: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{resource_type}/{name}"
    )


@dataclass
class DiskRef:
    """A VM's view of one of its managed disks."""

    id: str
    name: str
    size_gb: int
    create_option: str  # FromImage | Empty
    lun: int | None = None  # None for the OS disk
    delete_option: str = "Detach"
    sku: str = "Premium_LRS"
    caching: str = "None"


@dataclass
class Disk:
    id: str
    name: str
    location: str
    size_gb: int
    creation_data: Json
    managed_by: str | None
    sku: str = "Premium_LRS"
    os_type: str | None = None
    hyper_v_generation: str | None = None  # V1 | V2, for OS disks
    tags: dict[str, str] = field(default_factory=dict)
    # What the emulated disk holds: a label for its data, and which software boots from it (None: not
    # bootable). Guests and the DRS emulator read and write these, standing in for the bytes on a disk.
    content: str = ""
    boots: str | None = None
    provisioning: str = "Succeeded"
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_created: str = field(default_factory=now_iso)


@dataclass
class Image:
    id: str
    name: str
    location: str
    os_disk_gb: int
    tags: dict[str, str]
    hyper_v_generation: str = "V1"
    blob_uri: str | None = None  # the VHD it was made from, if any


@dataclass
class Gallery:
    id: str
    name: str
    location: str
    tags: dict[str, str]


@dataclass
class GalleryImage:
    """A Compute Gallery image definition with one or more versions (an OS disk each)."""

    id: str
    name: str
    location: str
    os_type: str
    hyper_v_generation: str
    security_type: str | None  # None (Standard) | TrustedLaunchSupported | TrustedLaunch ...
    versions: dict[str, GalleryImageVersion] = field(default_factory=dict)  # lower-case name ->
    os_state: str = "Generalized"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class GalleryImageVersion:
    id: str
    name: str
    location: str
    size_gb: int
    boots: str  # what a disk made from it boots (see Disk.boots)
    tags: dict[str, str]
    target_regions: list[str] = field(default_factory=list)  # empty: its own location only
    source_uri: str | None = None  # the VHD it was made from, if any


@dataclass
class VirtualMachine:
    id: str
    resource_group: str
    name: str
    location: str
    size: str
    tags: dict[str, str]
    image_reference: Json  # {"id": image id} or a marketplace reference
    os_disk: DiskRef
    data_disks: list[DiskRef]
    properties: Json = field(default_factory=dict)  # other properties, echoed as sent (osProfile, ...)
    user_data: str | None = None
    hyper_v_generation: str = "V1"
    security_profile: Json | None = None
    provisioning: str = "Succeeded"  # Creating | Updating | Deleting | Succeeded
    power: str = "running"  # a key of _POWER_DISPLAY
    pending_operation: str | None = None
    run_command: str | None = None  # the Run Command under way (one at a time per VM)
    changed_at: str = field(default_factory=now_iso)
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_created: str = field(default_factory=now_iso)

    def set_state(self, *, provisioning: str | None = None, power: str | None = None) -> None:
        self.provisioning = provisioning or self.provisioning
        self.power = power or self.power
        self.changed_at = now_iso()


@dataclass
class Operation:
    """An ARM asynchronous operation, completed lazily once the clock passes `due`."""

    id: str
    location: str
    due: float
    on_done: Callable[[], None]
    start_time: str = field(default_factory=now_iso)
    status: str = "InProgress"  # InProgress | Succeeded | Canceled
    end_time: str | None = None
    error: Json | None = None
    result: Json | None = None  # the final result of an action that has one (Run Command)


def vm_json(vm: VirtualMachine, *, instance_view: bool = False, user_data: bool = False) -> Json:
    properties: Json = {
        **vm.properties,
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": vm.size},
        "storageProfile": {
            "imageReference": dict(vm.image_reference),
            "osDisk": {"osType": "Linux", **_disk_ref_json(vm.os_disk)},
            "dataDisks": [{**_disk_ref_json(d), "toBeDetached": False} for d in vm.data_disks],
            "diskControllerType": "SCSI",
        },
        "provisioningState": vm.provisioning,
        "timeCreated": vm.time_created,
    }
    if not vm.image_reference:  # a VM booting an attached disk has no image
        del properties["storageProfile"]["imageReference"]
    if instance_view:
        properties["instanceView"] = instance_view_json(vm)
    if user_data and vm.user_data:
        properties["userData"] = vm.user_data
    if vm.security_profile:
        properties["securityProfile"] = dict(vm.security_profile)
    return {
        "name": vm.name,
        "id": vm.id,
        "type": VM_TYPE,
        "location": vm.location,
        "tags": dict(vm.tags),
        "properties": properties,
    }


def instance_view_json(vm: VirtualMachine) -> Json:
    provisioning = vm.provisioning.lower()
    statuses = [
        {
            "code": f"ProvisioningState/{provisioning}",
            "level": "Info",
            "displayStatus": "Provisioning succeeded" if provisioning == "succeeded" else vm.provisioning,
            "time": vm.changed_at,
        },
        {"code": f"PowerState/{vm.power}", "level": "Info", "displayStatus": _POWER_DISPLAY[vm.power]},
    ]
    view: Json = {
        "disks": [
            {
                "name": disk.name,
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                        "time": vm.time_created,
                    }
                ],
            }
            for disk in [vm.os_disk, *vm.data_disks]
        ],
        "hyperVGeneration": vm.hyper_v_generation,
        "statuses": statuses,
    }
    if vm.power == "running":
        view.update(computerName=vm.name, osName="ubuntu", osVersion="22.04")
    return view


def disk_json(disk: Disk, disk_state: str) -> Json:
    properties: Json = {
        "creationData": dict(disk.creation_data),
        "diskSizeGB": disk.size_gb,
        "diskSizeBytes": disk.size_gb * 1024**3,
        "uniqueId": disk.unique_id,
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "networkAccessPolicy": "AllowAll",
        "publicNetworkAccess": "Enabled",
        "timeCreated": disk.time_created,
        "provisioningState": "Succeeded",
        "diskState": disk_state,
    }
    if disk.os_type:
        properties["osType"] = disk.os_type
    if disk.hyper_v_generation:
        properties["hyperVGeneration"] = disk.hyper_v_generation
    properties["provisioningState"] = disk.provisioning
    body: Json = {
        "name": disk.name,
        "id": disk.id,
        "type": DISK_TYPE,
        "location": disk.location,
        "tags": dict(disk.tags),
        "sku": {"name": disk.sku, "tier": disk.sku.split("_")[0]},
        "properties": properties,
    }
    if disk.managed_by:
        body["managedBy"] = disk.managed_by
    return body


def image_json(image: Image) -> Json:
    return {
        "name": image.name,
        "id": image.id,
        "type": IMAGE_TYPE,
        "location": image.location,
        "tags": dict(image.tags),
        "properties": {
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "osState": "Generalized",
                    **({"blobUri": image.blob_uri} if image.blob_uri else {}),
                    "diskSizeGB": image.os_disk_gb,
                    "caching": "ReadWrite",
                    "storageAccountType": "Premium_LRS",
                },
                "dataDisks": [],
                "zoneResilient": False,
            },
            "provisioningState": "Succeeded",
            "hyperVGeneration": image.hyper_v_generation,
        },
    }


def gallery_json(gallery: Gallery) -> Json:
    return {
        "name": gallery.name,
        "id": gallery.id,
        "type": "Microsoft.Compute/galleries",
        "location": gallery.location,
        "tags": dict(gallery.tags),
        "properties": {
            "identifier": {"uniqueName": f"local-{gallery.name}"},
            "provisioningState": "Succeeded",
        },
    }


def gallery_image_json(image: GalleryImage) -> Json:
    properties: Json = {
        "osType": image.os_type,
        "osState": image.os_state,
        "hyperVGeneration": image.hyper_v_generation,
        "identifier": {"publisher": "local", "offer": "local", "sku": image.name},
        "provisioningState": "Succeeded",
    }
    if image.security_type:
        properties["features"] = [{"name": "SecurityType", "value": image.security_type}]
    return {
        "name": image.name,
        "id": image.id,
        "type": GALLERY_IMAGE_TYPE,
        "location": image.location,
        "tags": dict(image.tags),
        "properties": properties,
    }


def gallery_version_json(version: GalleryImageVersion) -> Json:
    return {
        "name": version.name,
        "id": version.id,
        "type": GALLERY_VERSION_TYPE,
        "location": version.location,
        "tags": dict(version.tags),
        "properties": {
            "publishingProfile": {
                "targetRegions": [
                    {"name": region, "regionalReplicaCount": 1}
                    for region in (version.target_regions or [version.location])
                ]
            },
            "storageProfile": {
                "osDiskImage": {
                    "sizeInGB": version.size_gb,
                    "hostCaching": "ReadWrite",
                    **({"source": {"uri": version.source_uri}} if version.source_uri else {}),
                }
            },
            "provisioningState": "Succeeded",
        },
    }


def operation_json(operation: Operation) -> Json:
    body: Json = {"startTime": operation.start_time, "status": operation.status, "name": operation.id}
    if operation.end_time:
        body["endTime"] = operation.end_time
    if operation.error:
        body["error"] = operation.error
    return body


def _disk_ref_json(disk: DiskRef) -> Json:
    body: Json = {
        "name": disk.name,
        "createOption": disk.create_option,
        "caching": disk.caching,
        "managedDisk": {"storageAccountType": disk.sku, "id": disk.id},
        "deleteOption": disk.delete_option,
        "diskSizeGB": disk.size_gb,
    }
    if disk.lun is not None:
        body["lun"] = disk.lun
    return body
