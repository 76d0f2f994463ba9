"""`drctl failback-image publish` and `check`: the built VHD as a page blob, then a managed image or a Compute
Gallery image version (generation 1, tagged with the hook version); and the plan's image checked against
what this release expects.

Both run with the operator's own Azure sign-in, not the orchestrator's service principal (which may not
write images): a service principal from AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (and
AZURE_AUTHORITY_HOST for another cloud), else azure-identity's DefaultAzureCredential (Azure CLI sign-in,
managed identity, ...). It needs Contributor on the resource group and Storage Blob Data Contributor on
the storage account.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drctl import vhd
from drctl.image_build import require
from drctl.stack import OperatorError
from failback_client import HOOK_VERSION
from lambdas.adapters.azure_compute import VmRef
from lambdas.plan import Plan

HOOK_VERSION_TAG = "drFailbackHookVersion"
PUBLIC_AUTHORITY = "login.microsoftonline.com"
PAGE_CHUNK = 4 * 1024 * 1024  # the most one Put Page writes
DEFAULT_IMAGE_NAME = "drs-failback-client"
STORAGE_SCOPE = "https://storage.azure.com/.default"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    subscription_id: str
    resource_group: str
    location: str
    storage_account: str
    storage_resource_group: str
    container: str
    blob_endpoint: str  # account URL: https://ACCOUNT.blob.core.windows.net
    resource_manager: str
    gallery: str | None
    image_name: str
    image_version: str

    @property
    def storage_account_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.storage_resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.storage_account}"
        )


def default_version() -> str:
    """MAJOR.MINOR.PATCH as galleries require: the hook version, then the UTC date and time."""
    return time.strftime(f"{HOOK_VERSION}.%Y%m%d.%H%M%S", time.gmtime())


def credential() -> Any:
    identity = require("azure.identity")
    env = os.environ
    if env.get("AZURE_CLIENT_SECRET") and env.get("AZURE_TENANT_ID") and env.get("AZURE_CLIENT_ID"):
        authority = env.get("AZURE_AUTHORITY_HOST", f"https://{PUBLIC_AUTHORITY}")
        return identity.ClientSecretCredential(
            env["AZURE_TENANT_ID"],
            env["AZURE_CLIENT_ID"],
            env["AZURE_CLIENT_SECRET"],
            authority=authority,
            # Sovereign and private authorities are not in Entra's public instance list.
            disable_instance_discovery=PUBLIC_AUTHORITY not in authority,
        )
    return identity.DefaultAzureCredential()


def compute_client(subscription_id: str, resource_manager: str, cred: Any) -> Any:
    from azure.mgmt.compute import ComputeManagementClient

    base = resource_manager.rstrip("/")
    return ComputeManagementClient(
        cred, subscription_id, base_url=base, credential_scopes=[f"{base}/.default"]
    )


def publish(path: Path, target: Target, *, progress: Progress = print, cred: Any = None) -> str:
    """Upload `path` and make the image; returns its resource id. Refuses a VHD Azure would refuse before
    any cloud call."""
    if not path.is_file():
        raise OperatorError(f"--vhd {path}: no such file (drctl failback-image build writes it)")
    problems = vhd.azure_problems(path)
    if problems:
        raise OperatorError(f"--vhd {path} is not a VHD Azure accepts: {'; '.join(problems)}")
    from azure.core.exceptions import AzureError

    cred = cred or credential()
    try:
        blob_uri = upload(path, target, cred, progress)
        client = compute_client(target.subscription_id, target.resource_manager, cred)
        if target.gallery:
            return _gallery_version(client, target, blob_uri, progress)
        return _managed_image(client, target, blob_uri, progress)
    except AzureError as exc:
        raise OperatorError(f"Azure refused: {_azure_message(exc)}") from None


def upload(path: Path, target: Target, cred: Any, progress: Progress) -> str:
    """The VHD as a page blob (Azure makes images from page blobs only); all-zero pages are not sent,
    since an unwritten page reads as zeros. Returns the blob's URI."""
    blob_module = require("azure.storage.blob")
    from azure.core.exceptions import ResourceExistsError

    service = blob_module.BlobServiceClient(target.blob_endpoint, credential=cred)
    container = service.get_container_client(target.container)
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    blob = container.get_blob_client(path.name)
    size = path.stat().st_size
    blob.create_page_blob(size)
    sent, shown = 0, -1
    with path.open("rb") as stream:
        for offset in range(0, size, PAGE_CHUNK):
            chunk = stream.read(PAGE_CHUNK)
            if chunk.count(0) != len(chunk):
                blob.upload_page(chunk, offset=offset, length=len(chunk))
                sent += len(chunk)
            percent = (offset + len(chunk)) * 100 // size
            if percent // 10 != shown // 10 or offset + len(chunk) == size:
                shown = percent
                progress(
                    f"uploading {path.name}: {percent}% ({sent // vhd.MIB} MiB sent, zero pages skipped)"
                )
    properties = blob.get_blob_properties()
    if properties.size != size or str(properties.blob_type).lower().rsplit(".", 1)[-1] != "pageblob":
        raise OperatorError(
            f"the uploaded blob {blob.url} is {properties.size} bytes ({properties.blob_type})"
        )
    return str(blob.url)


def _tags() -> dict[str, str]:
    return {HOOK_VERSION_TAG: HOOK_VERSION, "drFailbackBootMode": "BIOS"}


def _managed_image(client: Any, target: Target, blob_uri: str, progress: Progress) -> str:
    progress(f"creating managed image {target.image_name} (generation 1) in {target.location}")
    body = {
        "location": target.location,
        "tags": _tags(),
        "properties": {
            "hyperVGeneration": "V1",
            "storageProfile": {
                "osDisk": {
                    "osType": "Linux",
                    "osState": "Generalized",
                    "blobUri": blob_uri,
                    "storageAccountType": "Standard_LRS",
                }
            },
        },
    }
    image = client.images.begin_create_or_update(target.resource_group, target.image_name, body).result()
    return str(image.id)


def _gallery_version(client: Any, target: Target, blob_uri: str, progress: Progress) -> str:
    rg, gallery, name = target.resource_group, str(target.gallery), target.image_name
    progress(f"creating gallery {gallery}, image definition {name} (generation 1) in {target.location}")
    client.galleries.begin_create_or_update(rg, gallery, {"location": target.location}).result()
    definition = {
        "location": target.location,
        "properties": {
            "osType": "Linux",
            # The LiveCD runs no Azure provisioning agent: a disk made from it boots as it is.
            "osState": "Specialized",
            "hyperVGeneration": "V1",
            "identifier": {"publisher": "drctl", "offer": "drs-failback-client", "sku": "bios-gen1"},
        },
    }
    client.gallery_images.begin_create_or_update(rg, gallery, name, definition).result()
    progress(f"creating image version {target.image_version} from {blob_uri}")
    version = {
        "location": target.location,
        "tags": _tags(),
        "properties": {
            "publishingProfile": {"targetRegions": [{"name": target.location, "regionalReplicaCount": 1}]},
            "storageProfile": {
                "osDiskImage": {
                    "hostCaching": "ReadOnly",
                    "source": {"uri": blob_uri, "storageAccountId": target.storage_account_id},
                }
            },
        },
    }
    poller = client.gallery_image_versions.begin_create_or_update(
        rg, gallery, name, target.image_version, version
    )
    return str(poller.result().id)


# --- check ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    severity: str  # error | ok
    message: str


def check(plan: Plan, resource_manager: str, *, cred: Any = None) -> list[Finding]:
    """The plan's failback-client image: exists, is generation 1, carries this release's hook version, and
    is in every region where the plan has a VM."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    from lambdas.adapters.azure_vms import ResourceRef

    image_id = plan.azure.failback.image_id
    ref = ResourceRef.parse(image_id)
    gallery, image = ref.parents[0], ref.parents[1]
    client = compute_client(ref.subscription_id, resource_manager, cred or credential())
    findings: list[Finding] = []
    try:
        try:
            version = client.gallery_image_versions.get(ref.resource_group, gallery, image, ref.name)
            definition = client.gallery_images.get(ref.resource_group, gallery, image)
        except ResourceNotFoundError:
            return [
                Finding("error", f"{image_id} does not exist: drctl failback-image publish --gallery ...")
            ]
        generation = definition.hyper_v_generation or "V1"
        findings.append(
            Finding("ok", "generation 1 (BIOS boot)")
            if generation == "V1"
            else Finding(
                "error", f"its definition is generation {generation}: the Linux client boots BIOS (V1)"
            )
        )
        tag = (version.tags or {}).get(HOOK_VERSION_TAG)
        findings.append(
            Finding("ok", f"boot hook v{tag}, as this release expects")
            if tag == HOOK_VERSION
            else Finding(
                "error",
                f"tag {HOOK_VERSION_TAG} is {tag!r}, this release expects {HOOK_VERSION!r}: rebuild and "
                "publish the image with this release's drctl",
            )
        )
        profile = version.publishing_profile
        regions = {_region(r.name) for r in (profile.target_regions if profile else None) or []}
        regions.add(_region(version.location))
        for server in plan.servers():
            vm = VmRef.parse(server.azure_vm_id)
            try:
                location = client.virtual_machines.get(vm.resource_group, vm.name).location
            except ResourceNotFoundError:
                findings.append(Finding("error", f"{server.name}: VM {server.azure_vm_id} not found"))
                continue
            findings.append(
                Finding("ok", f"{server.name}: image available in {location}")
                if _region(location) in regions
                else Finding(
                    "error",
                    f"{server.name}: the VM is in {location}, the image only in "
                    f"{', '.join(sorted(regions))}: publish it there or replicate the version to that region",
                )
            )
    except AzureError as exc:
        raise OperatorError(f"Azure refused: {_azure_message(exc)}") from None
    return findings


def _region(location: str) -> str:
    return location.replace(" ", "").lower()


def _azure_message(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "code", None):
        return f"{error.code}: {error.message}"
    return str(getattr(exc, "message", None) or exc).splitlines()[0]
