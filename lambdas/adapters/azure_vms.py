"""The Azure calls of failback: a VM's disks and power, managed disks, the failback-client gallery image,
VM sizes. Bodies are ARM REST documents (camelCase), sent and read as they are on the wire; every SDK
error is translated to the orchestrator's (azure_compute.classify), as the DRS adapter does for DRS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lambdas.adapters.azure_compute import azure_errors, classify, compute
from lambdas.domain import failback as rules
from lambdas.domain.failback import BootFacts, ClientDisk, DataDisk, GalleryImage, VmNow

T = TypeVar("T")
# The SDK sends a dict body unchanged; its type hints name only the model classes.
Body = Any


@dataclass(frozen=True)
class ResourceRef:
    subscription_id: str
    resource_group: str
    name: str
    parents: tuple[str, ...] = ()  # names between the provider type and the resource (gallery, image)

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        parts = resource_id.strip("/").split("/")
        lowered = [p.lower() for p in parts]
        try:
            provider = lowered.index("providers")
            names = parts[provider + 3 :: 2]
            return cls(parts[lowered.index("subscriptions") + 1], parts[lowered.index("resourcegroups") + 1],
                       names[-1], tuple(names[:-1]))  # fmt: skip
        except (ValueError, IndexError):
            raise ValueError(f"not an Azure resource id: {resource_id}") from None


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except azure_errors() as exc:
        raise classify(exc) from None


def rest(model: Any) -> dict[str, Any]:
    """A model of the Azure SDK as its ARM REST document. Models generated since azure-mgmt-compute 35 are
    REST-shaped mappings (as_dict); older msrest models serialize to that shape."""
    serialize = getattr(type(model), "serialize", None)
    document = serialize(model, keep_readonly=True) if callable(serialize) else model.as_dict()
    return dict(document)


def vm_document(vm_id: str, *, user_data: bool = False) -> dict[str, Any]:
    """The VM as ARM returns it (REST shape), with userData when asked."""
    ref = ResourceRef.parse(vm_id)
    vm = _call(
        compute(ref.subscription_id).virtual_machines.get,
        ref.resource_group,
        ref.name,
        expand="userData" if user_data else None,
    )
    return rest(vm)


def vm_now(vm_id: str) -> tuple[VmNow, dict[str, Any], str]:
    """(the VM's state for the failback rules, its REST document, its Hyper-V generation)."""
    ref = ResourceRef.parse(vm_id)
    operations = compute(ref.subscription_id).virtual_machines
    document = vm_document(vm_id, user_data=True)
    view = rest(_call(operations.instance_view, ref.resource_group, ref.name))
    power, provisioning = "unknown", "unknown"
    for status in view.get("statuses") or []:
        code = str(status.get("code") or "")
        if code.startswith("PowerState/"):
            power = code.split("/", 1)[1]
        elif code.startswith("ProvisioningState/"):
            provisioning = code.split("/", 1)[1]
    storage = document["properties"]["storageProfile"]
    os_disk = storage["osDisk"]
    state = VmNow(
        power=power,
        provisioning=provisioning,
        os_disk_id=os_disk["managedDisk"]["id"],
        os_disk_size_gb=int(os_disk.get("diskSizeGB") or 0),
        data_disks=tuple(
            DataDisk(int(d["lun"]), d["managedDisk"]["id"], int(d.get("diskSizeGB") or 0))
            for d in storage.get("dataDisks") or []
        ),
        has_user_data=bool(document["properties"].get("userData")),
    )
    return state, document, str(view.get("hyperVGeneration") or "V1")


def begin_put_vm(vm_id: str, body: dict[str, Any]) -> Any:
    ref = ResourceRef.parse(vm_id)
    operations: Any = compute(ref.subscription_id).virtual_machines
    return _call(operations.begin_create_or_update, ref.resource_group, ref.name, body)


def begin_power(vm_id: str, action: str) -> Any:
    ref = ResourceRef.parse(vm_id)
    operations: Any = compute(ref.subscription_id).virtual_machines
    return _call(getattr(operations, f"begin_{action}"), ref.resource_group, ref.name)


def _client(subscription_id: str, client: Any) -> Any:
    """The given client (drctl signs in with the operator's secret read) or this function's own."""
    return client if client is not None else compute(subscription_id)


def memory_mb(subscription_id: str, location: str, vm_size: str, client: Any = None) -> int | None:
    operations = _client(subscription_id, client).virtual_machine_sizes
    sizes = _call(lambda: [rest(s) for s in operations.list(location)])
    return next(
        (int(s.get("memoryInMB") or 0) for s in sizes if str(s.get("name") or "").lower() == vm_size.lower()),
        None,
    )


def boot_facts(vm_id: str, client: Any = None) -> BootFacts:
    ref = ResourceRef.parse(vm_id)
    operations = _client(ref.subscription_id, client).virtual_machines
    document = rest(_call(operations.get, ref.resource_group, ref.name))
    view = rest(_call(operations.instance_view, ref.resource_group, ref.name))
    properties = document["properties"]
    uefi = (properties.get("securityProfile") or {}).get("uefiSettings") or {}
    return BootFacts(
        location=str(document["location"]),
        vm_size=str(properties["hardwareProfile"]["vmSize"]),
        hyper_v_generation=str(view.get("hyperVGeneration") or "V1"),
        secure_boot=bool(uefi.get("secureBootEnabled")),
    )


def boot_problems(
    facts: BootFacts, image: GalleryImage, subscription_id: str, client: Any = None
) -> list[str]:
    """Why this VM cannot boot the failback client from this image (empty: it can)."""
    return rules.boot_problems(
        vm_generation=facts.hyper_v_generation,
        secure_boot=facts.secure_boot,
        memory_mb=memory_mb(subscription_id, facts.location, facts.vm_size, client),
        image_generation=image.hyper_v_generation,
        image_location=image.location,
        vm_location=facts.location,
    )


def gallery_image(version_id: str, client: Any = None) -> GalleryImage:
    """The failback-client image version and its definition's generation (exists=False if either is gone)."""
    from azure.core.exceptions import ResourceNotFoundError

    ref = ResourceRef.parse(version_id)
    gallery, image = ref.parents[0], ref.parents[1]
    client = _client(ref.subscription_id, client)
    try:
        version = rest(client.gallery_image_versions.get(ref.resource_group, gallery, image, ref.name))
        definition = rest(client.gallery_images.get(ref.resource_group, gallery, image))
    except ResourceNotFoundError:
        return GalleryImage(version_id, "", "", "", False, {})
    except azure_errors() as exc:
        raise classify(exc) from None
    properties = definition.get("properties") or {}
    return GalleryImage(
        version_id,
        str(version.get("location") or ""),
        str(properties.get("hyperVGeneration") or "V1"),
        str(properties.get("osType") or ""),
        True,
        dict(version.get("tags") or {}),
    )


def client_disk(disk_id: str) -> tuple[ClientDisk, dict[str, str]]:
    """The client disk's state and tags (exists=False when there is none)."""
    from azure.core.exceptions import ResourceNotFoundError

    ref = ResourceRef.parse(disk_id)
    try:
        disk = rest(compute(ref.subscription_id).disks.get(ref.resource_group, ref.name))
    except ResourceNotFoundError:
        return ClientDisk(disk_id, False, False, None), {}
    except azure_errors() as exc:
        raise classify(exc) from None
    ready = str((disk.get("properties") or {}).get("provisioningState") or "").lower() == "succeeded"
    return ClientDisk(disk_id, True, ready, disk.get("managedBy")), dict(disk.get("tags") or {})


def begin_create_disk(disk_id: str, location: str, image_version_id: str, tags: dict[str, str]) -> Any:
    ref = ResourceRef.parse(disk_id)
    body: Body = {
        "location": location,
        "tags": tags,
        "sku": {"name": "StandardSSD_LRS"},
        "properties": {
            "creationData": {"createOption": "FromImage", "galleryImageReference": {"id": image_version_id}}
        },
    }
    return _call(
        compute(ref.subscription_id).disks.begin_create_or_update, ref.resource_group, ref.name, body
    )


def begin_create_empty_disk(
    disk_id: str,
    location: str,
    size_gb: int,
    tags: dict[str, str],
    *,
    os_type: str | None = None,
    hyper_v_generation: str | None = None,
) -> Any:
    """An empty managed disk. The one that receives a recovery instance's root volume and later becomes a
    VM's OS disk carries osType and hyperVGeneration: Azure makes a disk an OS disk only with them."""
    ref = ResourceRef.parse(disk_id)
    properties: dict[str, Any] = {"creationData": {"createOption": "Empty"}, "diskSizeGB": size_gb}
    if os_type:
        properties["osType"] = os_type
    if hyper_v_generation:
        properties["hyperVGeneration"] = hyper_v_generation
    body: Body = {
        "location": location,
        "tags": tags,
        "sku": {"name": "StandardSSD_LRS"},
        "properties": properties,
    }
    return _call(
        compute(ref.subscription_id).disks.begin_create_or_update, ref.resource_group, ref.name, body
    )


def vm_tags(vm_id: str) -> dict[str, str] | None:
    """The VM's tags; None when there is no such VM."""
    from azure.core.exceptions import ResourceNotFoundError

    ref = ResourceRef.parse(vm_id)
    try:
        vm = rest(compute(ref.subscription_id).virtual_machines.get(ref.resource_group, ref.name))
    except ResourceNotFoundError:
        return None
    except azure_errors() as exc:
        raise classify(exc) from None
    return dict(vm.get("tags") or {})


def begin_create_vm_from_disks(
    vm_id: str,
    *,
    location: str,
    vm_size: str,
    subnet_id: str,
    os_disk_id: str,
    os_type: str,
    data_disks: list[tuple[int, str]],
    user_data: str,
    tags: dict[str, str],
) -> Any:
    """A VM booting an existing managed disk (createOption Attach) with existing data disks. No osProfile
    and no imageReference: ARM refuses an osProfile for an attached OS disk, and a VM made from the
    generalized client image would need one. The NIC is created with the VM (and deleted with it)."""
    ref = ResourceRef.parse(vm_id)
    body: Body = {
        "location": location,
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": vm_size},
            "storageProfile": {
                "osDisk": {
                    "osType": os_type,
                    "name": os_disk_id.rsplit("/", 1)[-1],
                    "createOption": "Attach",
                    "caching": "ReadWrite",
                    "managedDisk": {"id": os_disk_id},
                    "deleteOption": "Detach",
                },
                "dataDisks": [
                    {
                        "lun": lun,
                        "createOption": "Attach",
                        "managedDisk": {"id": disk_id},
                        "deleteOption": "Detach",
                    }
                    for lun, disk_id in data_disks
                ],
            },
            "networkProfile": {
                "networkApiVersion": "2022-11-01",
                "networkInterfaceConfigurations": [
                    {
                        "name": f"{ref.name}-nic",
                        "properties": {
                            "primary": True,
                            "deleteOption": "Delete",
                            "ipConfigurations": [
                                {"name": "ipconfig1", "properties": {"subnet": {"id": subnet_id}}}
                            ],
                        },
                    }
                ],
            },
            "userData": user_data,
        },
    }
    operations: Any = compute(ref.subscription_id).virtual_machines
    return _call(operations.begin_create_or_update, ref.resource_group, ref.name, body)


def run_shell_script(vm_id: str, script: list[str]) -> Any:
    """Start Azure Run Command (RunShellScript) on a running Linux VM; returns the poller, whose result
    is the RunCommandResult (its message holds the last 4 KB of the script's output)."""
    ref = ResourceRef.parse(vm_id)
    operations: Any = compute(ref.subscription_id).virtual_machines
    body: Body = {"commandId": "RunShellScript", "script": script}
    return _call(operations.begin_run_command, ref.resource_group, ref.name, body)


def begin_delete_disk(disk_id: str) -> Any:
    ref = ResourceRef.parse(disk_id)
    return _call(compute(ref.subscription_id).disks.begin_delete, ref.resource_group, ref.name)


def resource_name(resource_id: str) -> str:
    return ResourceRef.parse(resource_id).name


def disk_id_in(vm_id: str, name: str) -> str:
    ref = ResourceRef.parse(vm_id)
    return (
        f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
        f"/providers/Microsoft.Compute/disks/{name}"
    )


def vm_id_in(vm_id: str, name: str) -> str:
    """The id of VM `name` in the resource group of `vm_id`."""
    ref = ResourceRef.parse(vm_id)
    return (
        f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


def computer_name(vm_id: str) -> str | None:
    """The guest's hostname as the VM's instance view reports it (None before the guest agent reports)."""
    ref = ResourceRef.parse(vm_id)
    view = rest(
        _call(compute(ref.subscription_id).virtual_machines.instance_view, ref.resource_group, ref.name)
    )
    name = view.get("computerName")
    return str(name) if name else None
