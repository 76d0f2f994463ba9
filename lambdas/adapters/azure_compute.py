"""Azure compute through azure-mgmt-compute, authenticated with a service principal whose secret lives in
AWS Secrets Manager. The Azure SDK is imported here only (it costs ~0.3 s of import), so handlers that do
not talk to Azure never pay for it.

Secret (JSON): {"tenant_id", "client_id", "client_secret",
                "authority_host"?: "https://login.microsoftonline.com",
                "resource_manager"?: "https://management.azure.com"}
The two endpoints are configurable for sovereign clouds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from lambdas.adapters.aws import client as aws_client
from lambdas.errors import AzureRequestFailed, AzureUnavailable

if TYPE_CHECKING:
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient

T = TypeVar("T")
_SECRET_TTL_SECONDS = 300
_lock = threading.Lock()
_cache: dict[str, Any] = {}


@dataclass(frozen=True)
class VmRef:
    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, resource_id: str) -> VmRef:
        parts = resource_id.strip("/").split("/")
        lowered = [p.lower() for p in parts]
        try:
            return cls(
                subscription_id=parts[lowered.index("subscriptions") + 1],
                resource_group=parts[lowered.index("resourcegroups") + 1],
                name=parts[lowered.index("virtualmachines") + 1],
            )
        except (ValueError, IndexError):
            raise ValueError(f"not an Azure VM resource id: {resource_id}") from None


def reset_caches() -> None:
    """Forget the cached secret and clients (after the credential or the endpoints changed)."""
    with _lock:
        _cache.clear()


def _secrets_provider() -> Any:
    # Powertools caches the value for max_age; built on the project's client (endpoint, retries).
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    with _lock:
        if "secrets" not in _cache:
            _cache["secrets"] = SecretsProvider(boto3_client=aws_client("secretsmanager"))
        return _cache["secrets"]


SECRET_FIELDS = ("tenant_id", "client_id", "client_secret")
NOT_A_DOCUMENT = "(the secret is not a JSON document)"


def missing_secret_fields(secret: object) -> list[str]:
    """What a credential secret lacks, by field name (never a value): the Lambdas and `drctl plan validate`
    check the same rule."""
    if not isinstance(secret, dict):
        return [NOT_A_DOCUMENT]
    return [field for field in SECRET_FIELDS if not secret.get(field)]


def _secret() -> dict[str, str]:
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    try:
        secret = _secrets_provider().get(
            os.environ["AZURE_SECRET_ARN"], max_age=_SECRET_TTL_SECONDS, transform="json"
        )
        missing = missing_secret_fields(secret)
    except TransformParameterError:
        missing = [NOT_A_DOCUMENT]
    if missing:
        # Name the fields, never the values.
        raise AzureUnavailable(
            f"Azure credential secret is missing {', '.join(missing)}: see README, 'Azure access'"
        )
    return dict(secret)


def _credential(secret: dict[str, str], retries: int) -> Any:
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        secret["tenant_id"],
        secret["client_id"],
        secret["client_secret"],
        authority=secret.get("authority_host", "https://login.microsoftonline.com"),
        # Sovereign and private authorities are not in Entra's public instance list.
        disable_instance_discovery="authority_host" in secret,
        connection_timeout=5,
        read_timeout=20,
        retry_total=min(retries, 2),
    )


def _client_options(secret: dict[str, str], retries: int) -> dict[str, Any]:
    resource_manager = secret.get("resource_manager", "https://management.azure.com").rstrip("/")
    return {
        "base_url": resource_manager,
        "credential_scopes": [f"{resource_manager}/.default"],
        "connection_timeout": 5,
        "read_timeout": 30,
        "retry_total": retries,
        "retry_backoff_max": 10,
    }


def build_compute_client(
    secret: dict[str, str], subscription_id: str, *, retries: int = 3
) -> ComputeManagementClient:
    """A compute client signed in with the secret's service principal (no network call until used)."""
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(
        _credential(secret, retries), subscription_id, **_client_options(secret, retries)
    )


def build_network_client(
    secret: dict[str, str], subscription_id: str, *, retries: int = 3
) -> NetworkManagementClient:
    """A network client (NICs, subnets, NSGs: read only) signed in like the compute client."""
    from azure.mgmt.network import NetworkManagementClient

    return NetworkManagementClient(
        _credential(secret, retries), subscription_id, **_client_options(secret, retries)
    )


def compute(subscription_id: str) -> ComputeManagementClient:
    return _cached("compute", subscription_id, build_compute_client)


def network(subscription_id: str) -> NetworkManagementClient:
    return _cached("network", subscription_id, build_network_client)


def _cached(kind: str, subscription_id: str, build: Any) -> Any:
    secret = _secret()
    key = f"{kind}:{subscription_id}:{secret['client_id']}:{hash(secret['client_secret'])}"
    with _lock:
        if key not in _cache:
            _cache[key] = build(secret, subscription_id)
        return _cache[key]


def azure_errors() -> tuple[type[Exception], ...]:
    from azure.core.exceptions import AzureError

    return (AzureError,)


def describe_azure_error(exc: Exception) -> str:
    """A short, secret-free description of an Azure SDK error: type, HTTP status, ARM error code and message.
    (ARM error messages name resources and parameters, never credentials.)"""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    name = type(exc).__name__
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = str(getattr(error, "message", "") or "")[:300]
    return (
        f"{name}"
        + (f" HTTP {status}" if status else "")
        + (f" {code}" if code else "")
        + (f": {message}" if message else "")
    )


def classify(exc: Exception) -> Exception:
    """The orchestrator error for an Azure SDK error: transient ones are retried, the rest are not."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    description = describe_azure_error(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    # Entra answers a rejected credential with an AADSTS code; without one, sign-in did not get an answer.
    rejected = "AADSTS" in str(exc) or "invalid_client" in str(exc)
    if isinstance(exc, ClientAuthenticationError) and status is None and not rejected:
        return AzureUnavailable(f"Azure sign-in endpoint unreachable: {description}")
    if isinstance(exc, ClientAuthenticationError):
        return AzureRequestFailed(
            f"Azure rejected the service principal ({description}): "
            "check the credential secret (README, 'Azure access')"
        )
    if isinstance(exc, HttpResponseError) and status is not None and status < 500 and status != 429:
        return AzureRequestFailed(f"Azure refused the request: {description}")
    return AzureUnavailable(f"Azure unavailable: {description}")


def described(exc: Exception) -> AzureUnavailable | AzureRequestFailed:
    """classify's error for an SDK error, its message describe_azure_error's alone: the run record's outage
    confirmation and fencing quote it as the reason."""
    kind = AzureUnavailable if isinstance(classify(exc), AzureUnavailable) else AzureRequestFailed
    return kind(describe_azure_error(exc))


def _described_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except azure_errors() as exc:
        # Chained: AzureCircuit counts only the errors Azure itself caused.
        raise described(exc) from exc


class AzureCircuit:
    """Stops calling Azure after it failed to answer `threshold` times in a row: during an outage every
    call would wait for its own timeouts, and a plan of hundreds of VMs would outlast the Lambda."""

    def __init__(self, threshold: int = 2) -> None:
        self.threshold = threshold
        self.failures = 0

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args), for a function raising its SDK errors as described() ones."""
        if self.failures >= self.threshold:
            raise AzureUnavailable(f"not tried: Azure did not answer the previous {self.failures} calls")
        try:
            result = fn(*args)
        except AzureUnavailable as exc:
            # Azure's silence counts; a credential secret lacking a field (no call made) does not.
            if isinstance(exc.__cause__, azure_errors()):
                self.failures += 1
            raise
        self.failures = 0
        return result


class Operation:
    """A long-running operation's poller whose result() raises described() errors, not the SDK's."""

    def __init__(self, poller: Any) -> None:
        self._poller = poller

    def result(self, timeout: float | None = None) -> Any:
        return _described_call(self._poller.result, timeout=timeout)

    def done(self) -> bool:
        return bool(self._poller.done())


def power_state(vm_id: str) -> dict[str, str]:
    """The VM's power and provisioning states; Azure's errors raised as described() ones."""
    ref = VmRef.parse(vm_id)
    operations = compute(ref.subscription_id).virtual_machines
    view = _described_call(operations.instance_view, ref.resource_group, ref.name)
    states = {"power": "unknown", "provisioning": "unknown"}
    for status in view.statuses or []:
        code = status.code or ""
        if code.startswith("PowerState/"):
            states["power"] = code.split("/", 1)[1]
        elif code.startswith("ProvisioningState/"):
            states["provisioning"] = code.split("/", 1)[1]
    return states


def begin_deallocate(vm_id: str) -> Operation:
    """Start deallocating the VM; Azure's errors, here and from the operation, raised as described() ones."""
    ref = VmRef.parse(vm_id)
    operations = compute(ref.subscription_id).virtual_machines
    return Operation(_described_call(operations.begin_deallocate, ref.resource_group, ref.name))


class SourcePower:
    """The source VMs' power_state and begin_deallocate through one AzureCircuit: the Azure port of
    lambdas/domain/source_vms.py, one per task invocation."""

    def __init__(self) -> None:
        self._circuit = AzureCircuit()

    def power_state(self, vm_id: str) -> dict[str, str]:
        return self._circuit.call(power_state, vm_id)

    def begin_deallocate(self, vm_id: str) -> Operation:
        return self._circuit.call(begin_deallocate, vm_id)


def begin_start(vm_id: str) -> Any:
    ref = VmRef.parse(vm_id)
    return compute(ref.subscription_id).virtual_machines.begin_start(ref.resource_group, ref.name)


def begin_create_failback_client(
    subscription_id: str,
    resource_group: str,
    name: str,
    location: str,
    vm_size: str,
    image_id: str,
    subnet_id: str,
    disk_sizes_gib: list[int],
    tags: dict[str, str],
) -> Any:
    """Create (or converge) a VM booting the DRS Failback Client image with disks matching the recovery
    instance's: the first disk is the OS disk, the rest are data disks. PUT is idempotent in ARM."""
    os_disk, *data_disks = disk_sizes_gib
    # The ARM REST body (camelCase, nested under "properties"), as the SDK sends a dict unchanged.
    parameters: dict[str, Any] = {
        "location": location,
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": vm_size},
            "storageProfile": {
                "imageReference": {"id": image_id},
                "osDisk": {"createOption": "FromImage", "diskSizeGB": os_disk, "deleteOption": "Delete"},
                "dataDisks": [
                    {"lun": lun, "createOption": "Empty", "diskSizeGB": size, "deleteOption": "Delete"}
                    for lun, size in enumerate(data_disks)
                ],
            },
            "networkProfile": {
                "networkApiVersion": "2022-11-01",
                "networkInterfaceConfigurations": [
                    {
                        "name": f"{name}-nic",
                        "properties": {
                            "primary": True,
                            "ipConfigurations": [
                                {"name": "primary", "properties": {"subnet": {"id": subnet_id}}}
                            ],
                        },
                    }
                ],
            },
        },
    }
    # The SDK's type hints name only the model class; a dict body is sent as it is.
    operations: Any = compute(subscription_id).virtual_machines
    return operations.begin_create_or_update(resource_group, name, parameters)
