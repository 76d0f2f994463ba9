"""What the failback service needs from the world, as protocols (lambdas/domain/failback_service.py).

The handlers pass the adapters (lambdas/adapters/drs, azure_vms, azure_network, ec2, sts: each module is an
implementation of its protocol) and the state store; unit tests pass fakes (tests/fakes/). Nothing here
imports an SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.domain.failback import BootFacts, ClientDisk, GalleryImage, VmNow
from lambdas.domain.records import RunRecord
from lambdas.plan import Plan

Rules = list[dict[str, Any]]  # one network security group's rules, as azure_network reads them


class Drs(Protocol):
    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...

    def uses_private_ip_for_failback(self, recovery_instance_id: str) -> bool: ...

    def jobs_since(self, since: datetime) -> list[dict[str, Any]]: ...

    def start_failback_launch(self, recovery_instance_ids: list[str], tags: dict[str, str]) -> str: ...

    def endpoint_url(self) -> str: ...


class AzureVms(Protocol):
    """VMs and managed disks. The begin_* calls start an operation and return its poller."""

    def gallery_image(self, version_id: str) -> GalleryImage: ...

    def vm_document(self, vm_id: str, *, user_data: bool = False) -> dict[str, Any]: ...

    def vm_now(self, vm_id: str) -> tuple[VmNow, dict[str, Any], str]: ...

    def vm_tags(self, vm_id: str) -> dict[str, str] | None: ...

    def boot_facts(self, vm_id: str) -> BootFacts: ...

    def boot_problems(self, facts: BootFacts, image: GalleryImage, subscription_id: str) -> list[str]: ...

    def memory_mb(self, subscription_id: str, location: str, vm_size: str) -> int | None: ...

    def client_disk(self, disk_id: str) -> tuple[ClientDisk, dict[str, str]]: ...

    def begin_power(self, vm_id: str, action: str) -> Any: ...

    def begin_put_vm(self, vm_id: str, body: dict[str, Any]) -> Any: ...

    def begin_create_disk(
        self, disk_id: str, location: str, image_version_id: str, tags: dict[str, str]
    ) -> Any: ...

    def begin_create_empty_disk(
        self,
        disk_id: str,
        location: str,
        size_gb: int,
        tags: dict[str, str],
        *,
        os_type: str | None = None,
        hyper_v_generation: str | None = None,
    ) -> Any: ...

    def begin_create_vm_from_disks(
        self,
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
    ) -> Any: ...

    def begin_delete_disk(self, disk_id: str) -> Any: ...

    def resource_name(self, resource_id: str) -> str: ...

    def disk_id_in(self, vm_id: str, name: str) -> str: ...

    def vm_id_in(self, vm_id: str, name: str) -> str: ...


class AzureNetwork(Protocol):
    def outbound_path(self, vm_document: dict[str, Any]) -> tuple[list[tuple[str, Rules]], str | None]: ...

    def subnet_path(self, subnet_id: str) -> list[tuple[str, Rules]] | None: ...


class Ec2(Protocol):
    def network_facts(self, instance_ids: list[str]) -> dict[str, dict[str, Any]]: ...


class Sts(Protocol):
    def role_credentials(self, role_arn: str, session_name: str, seconds: int) -> dict[str, str]: ...


class FailbackStore(Protocol):
    """The part of the state store (lambdas/adapters/state_store.StateStore) failback uses."""

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...

    def record_layout_once(self, plan: str, server: str, layout: dict[str, Any], run_id: str) -> None: ...

    def layout(self, plan: str, server: str) -> dict[str, Any] | None: ...

    def forget_layout(self, plan: str, server: str) -> None: ...

    def record_new_vm_once(self, plan: str, server: str, new_vm: dict[str, Any], run_id: str) -> None: ...

    def new_vm(self, plan: str, server: str) -> dict[str, Any] | None: ...


class Log(Protocol):
    def warning(self, msg: str, *, extra: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class FailbackPorts:
    drs: Drs
    vms: AzureVms
    network: AzureNetwork
    ec2: Ec2
    sts: Sts
    store: FailbackStore
    log: Log
    # FAILBACK_INSTALLATION_ROLE_ARN and AWS_REGION, read only when a failback document is written.
    env: Mapping[str, str]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class FailbackRun:
    """The run a failback task works for: its plan and the keys of its run record."""

    plan: Plan
    run_id: str
    run_sk: str
    started_at: datetime
