"""AzureEmulator: Entra ID and ARM compute on one loopback HTTPS server, with fault injection.

emu = AzureEmulator(timing=AzureTiming(operation=0.3, create=0.5))
emu.start()
# REQUESTS_CA_BUNDLE=emu.ca_bundle_path, then the unchanged SDK:
cred = ClientSecretCredential(emu.tenant_id, emu.client_id, emu.client_secret,
                              authority=emu.authority, disable_instance_discovery=True)
client = ComputeManagementClient(cred, emu.subscription_id, base_url=emu.resource_manager_url,
                                 credential_scopes=[emu.resource_manager_url + "/.default"])
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .arm import Arm, Fault
from .blob import BlobService
from .compute import AzureTiming, Compute
from .entra import Entra, Tokens
from .imds import Imds
from .network import Network
from .server import Request, Response, TlsHttpServer
from .tls import make_loopback_pki, server_context

DEFAULT_TENANT_ID = "00000000-0000-0000-0000-000000000001"
DEFAULT_CLIENT_ID = "00000000-0000-0000-0000-000000000002"
DEFAULT_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000003"
DEFAULT_CLIENT_SECRET = "localcloud-client-secret"  # noqa: S105 - a fake for the emulator


class AzureEmulator:
    def __init__(
        self,
        timing: AzureTiming | None = None,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
    ) -> None:
        self.timing = timing or AzureTiming()
        self.subscription_id = subscription_id
        tokens = Tokens()
        self._entra = Entra(tenant_id, client_id, client_secret, tokens)
        self._compute = Compute(subscription_id, self.timing)
        self.network = Network(subscription_id)
        self._arm = Arm(self._compute, self.network, tokens, tenant_id)
        self._log: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        self._server: TlsHttpServer | None = None
        self._imds = TlsHttpServer(Imds(self._compute).handle, None)
        self._blob = BlobService(tokens)
        self._compute.blob_lookup = self._blob.blob_at
        self._compute.subnet_exists = self.network.subnet_exists
        self._blob_server: TlsHttpServer | None = None
        self._tmp: Path | None = None
        self._ca_path: Path | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> AzureEmulator:
        if self._server is not None:
            return self
        self._tmp = Path(tempfile.mkdtemp(prefix="azure-emulator-"))
        files = make_loopback_pki(self._tmp)
        self._ca_path = files.ca_path
        self._server = TlsHttpServer(self._handle, server_context(files))
        self._server.start()
        self._blob_server = TlsHttpServer(self._handle_blob, server_context(files))
        self._blob_server.start()
        self._blob.base_url = f"https://127.0.0.1:{self._blob_server.port}"
        self._imds.start()
        return self

    def stop(self) -> None:
        self._imds.stop()
        if self._blob_server is not None:
            self._blob_server.stop()
            self._blob_server = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> AzureEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- connection details --------------------------------------------------------------------

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self._running().port}"

    @property
    def resource_manager_url(self) -> str:
        return self.authority

    def blob_account_url(self, account: str) -> str:
        """The Blob service endpoint of a storage account (path-style on the emulator's blob server)."""
        self._running()
        return f"{self._blob.base_url}/{account.lower()}"

    @property
    def ca_bundle_path(self) -> str:
        self._running()
        return str(self._ca_path)

    @property
    def tenant_id(self) -> str:
        return self._entra.tenant_id

    @property
    def client_id(self) -> str:
        return self._entra.client_id

    @property
    def client_secret(self) -> str:
        """The secret Entra currently accepts (changes with rotate_secret)."""
        return self._entra.secret

    # --- state ---------------------------------------------------------------------------------

    def seed_vm(
        self,
        resource_group: str,
        name: str,
        size: str = "Standard_D2s_v5",
        os_disk_gb: int = 64,
        data_disks_gb: list[int] | None = None,
        power_state: str = "running",
        tags: dict[str, str] | None = None,
        location: str = "westeurope",
        hyper_v_generation: str = "V1",
        security_profile: dict[str, Any] | None = None,
    ) -> str:
        """Add a provisioned VM (marketplace image, managed disks, a NIC in the group's default subnet);
        returns its ARM resource id."""
        vm_id = self._compute.seed_vm(
            hyper_v_generation=hyper_v_generation,
            security_profile=security_profile,
            resource_group=resource_group,
            name=name,
            size=size,
            os_disk_gb=os_disk_gb,
            data_disks_gb=list(data_disks_gb or []),
            power_state=power_state,
            tags=dict(tags or {}),
            location=location,
        )
        nic_id = self._compute.vm_by_id(vm_id)["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
        self.network.ensure_vm_network(resource_group, location, nic_id, vm_id)
        return vm_id

    def add_subnet(
        self, subnet_id: str, address_prefix: str = "10.1.0.0/24", location: str = "westeurope"
    ) -> str:
        """A subnet for the VMs failback creates (its NSG holds Azure's default rules); returns the NSG id."""
        return self.network.add_subnet(subnet_id, address_prefix, location)

    def add_subnet_security_rule(self, subnet_id: str, name: str, properties: dict[str, Any]) -> None:
        """Add a rule to the NSG of a subnet."""
        self.network.add_security_rule(self.network.nsg_of_subnet(subnet_id), name, properties)

    def add_security_rule(self, vm_id: str, name: str, properties: dict[str, Any]) -> None:
        """Add a rule to the NSG of the VM's subnet (what a network team might have done)."""
        nic_id = self._compute.vm_by_id(vm_id)["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
        self.network.add_security_rule(self.network.nsg_of_vm_subnet(nic_id), name, properties)

    def seed_image(
        self,
        resource_group: str,
        name: str,
        location: str = "westeurope",
        os_disk_gb: int = 30,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Add a managed (generalized Linux) image; returns its ARM resource id."""
        return self._compute.seed_image(
            resource_group=resource_group,
            name=name,
            location=location,
            os_disk_gb=os_disk_gb,
            tags=dict(tags or {}),
        )

    def seed_storage_account(self, resource_group: str, name: str, location: str = "westeurope") -> str:
        """A storage account whose Blob service takes page blobs; returns its ARM resource id."""
        self._compute.add_resource_group(resource_group)
        self._blob.add_account(name, resource_group, location)
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{name.lower()}"
        )

    def blob_content(self, uri: str) -> bytes | None:
        """The bytes of a page blob (None when there is none)."""
        found = self._blob.blob_at(uri)
        return None if found is None else found[1].read(0, found[1].size)

    def seed_resource_group(self, name: str) -> None:
        """Resource groups exist once seeded (seed_vm/seed_image add theirs); others answer 404."""
        self._compute.add_resource_group(name)

    def delete_vm(self, vm_id: str) -> None:
        """Delete a VM as its owner would in the portal (its disks stay unless set to be deleted with it);
        returns once it is gone."""
        vm = self._compute.vm_by_id(vm_id)
        operation = self._compute.delete_vm(vm_id.split("/")[4], vm["name"])
        while (
            operation is not None and self._compute.operation_status(operation.id)["status"] == "InProgress"
        ):
            time.sleep(self.timing.poll)

    def vm(self, vm_id: str) -> dict[str, Any]:
        """The VM as ARM returns it with $expand=instanceView. KeyError if there is none."""
        return self._compute.vm_by_id(vm_id)

    def user_data(self, vm_id: str) -> str:
        """The VM's userData (base64; "" when none)."""
        return self._compute.user_data_of(vm_id)

    def vms(self) -> list[dict[str, Any]]:
        return self._compute.all_vms()

    def seed_gallery_image(
        self,
        resource_group: str,
        gallery: str,
        image: str,
        version: str = "1.0.0",
        location: str = "westeurope",
        size_gb: int = 8,
        hyper_v_generation: str = "V1",
        security_type: str | None = None,
        boots: str = "drs-failback-client",
        tags: dict[str, str] | None = None,
    ) -> str:
        """Add a Compute Gallery image version (its definition too); returns the version's id. `boots`
        names what a disk made from it boots (the local cloud runs a guest for it)."""
        return self._compute.seed_gallery_image(
            resource_group=resource_group,
            gallery=gallery,
            image=image,
            version=version,
            location=location,
            size_gb=size_gb,
            hyper_v_generation=hyper_v_generation,
            security_type=security_type,
            boots=boots,
            tags=dict(tags or {}),
        )

    def disks(self, resource_group: str) -> list[dict[str, Any]]:
        return self._compute.list_disks(resource_group)

    # --- guests: what runs inside the VMs ------------------------------------------------------

    def on_boot(self, listener: Any) -> None:
        """listener(vm id) on every boot; called under the state lock, so it must only hand work off."""
        self._compute.on_boot(listener)

    def on_run_command(self, runner: Any) -> None:
        """runner(vm id, script lines) -> (exit status, stdout, stderr) runs Run Command scripts in guests."""
        self._compute.on_run_command(runner)

    def guest(self, vm_id: str) -> dict[str, Any] | None:
        """What a running VM has booted (see Compute.guest); None when it is not running."""
        return self._compute.guest(vm_id)

    def disk_content(self, disk_id: str) -> tuple[str, str | None]:
        """(data label, what it boots) of a disk: the emulator's stand-in for its bytes."""
        return self._compute.disk_content(disk_id)

    def write_disk(self, disk_id: str, content: str, boots: str | None) -> None:
        self._compute.write_disk(disk_id, content, boots)

    def guest_reboot(self, vm_id: str) -> None:
        self._compute.guest_reboot(vm_id)

    def imds_url(self, vm_id: str) -> str:
        """The Instance Metadata Service base URL a guest of this VM uses."""
        vm = self._compute.vm_by_id(vm_id)
        return f"http://127.0.0.1:{self._imds.port}/guest/{vm['properties']['vmId']}"

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path without query, status) of every answered request, oldest first."""
        with self._log_lock:
            return list(self._log)

    # --- faults --------------------------------------------------------------------------------

    def set_unreachable(self, unreachable: bool) -> None:
        """Close the listening socket (connections are refused), or listen again on the same port."""
        server = self._running()
        if unreachable:
            server.stop()
        else:
            server.start()

    def throttle_next(self, count: int, retry_after_seconds: float = 1) -> None:
        """The next `count` ARM requests get 429 TooManyRequests with Retry-After."""
        self._arm.faults.add(Fault(429, retry_after_seconds), count)

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` ARM requests get `status` with an ARM error body."""
        self._arm.faults.add(Fault(status), count)

    def rotate_secret(self) -> str:
        """The configured client secret stops working (401 invalid_client, AADSTS7000215).
        Returns the new secret. Tokens already issued stay valid, as in Entra."""
        return self._entra.rotate_secret()

    def fail_next_action(self, vm_id: str, action: str) -> None:
        """The next `action` (start, deallocate, ...) on this VM fails: its operation ends Failed and the
        VM reports provisioning state Failed, as when Azure cannot complete it."""
        self._compute.fail_next_action(vm_id, action)

    def reconfigure_vm(
        self, vm_id: str, hyper_v_generation: str, security_profile: dict[str, Any] | None = None
    ) -> None:
        """Make a seeded VM another generation or security type (a Trusted Launch VM, say)."""
        self._compute.reconfigure(vm_id, hyper_v_generation, security_profile)

    def remove_gallery_image_version(self, version_id: str) -> None:
        self._compute.remove_gallery_version(version_id)

    def clear_faults(self) -> None:
        """Drop pending ARM faults, listen again if unreachable, and restore the configured secret."""
        self._arm.faults.clear()
        self._entra.restore_secret()
        if self._server is not None:
            self._server.start()

    # --- internals -----------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        response = self._entra.handle(request) or self._arm.handle(request)
        if response is None:
            response = Response(
                404, {"error": {"code": "NotFound", "message": f"No such endpoint: {request.path}"}}
            )
        with self._log_lock:
            self._log.append((request.method, request.path, response.status))
        return response

    def _handle_blob(self, request: Request) -> Response:
        response = self._blob.handle(request)
        with self._log_lock:
            self._log.append((request.method, request.path, response.status))
        return response

    def _running(self) -> TlsHttpServer:
        if self._server is None:
            raise RuntimeError("AzureEmulator is not started")
        return self._server
