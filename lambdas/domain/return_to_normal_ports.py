"""What return to normal needs from the world, as protocols (lambdas/domain/return_to_normal.py).

The handlers pass the adapters (lambdas/adapters/drs, azure_vms, sts: each module is an implementation of
its protocol) and the state store; unit tests pass fakes (tests/fakes/). Nothing here imports an SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.domain.records import RunRecord
from lambdas.plan import Plan


class Drs(Protocol):
    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...

    def stop_failback(self, recovery_instance_id: str) -> None: ...

    def source_servers(self, source_server_ids: list[str]) -> list[dict[str, Any]]: ...

    def all_source_servers(self) -> list[dict[str, Any]]: ...

    def start_replication(self, source_server_id: str) -> dict[str, Any]: ...

    def active_jobs(self) -> list[dict[str, Any]]: ...

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]: ...

    def endpoint_url(self) -> str: ...


class Poller(Protocol):
    """An Azure long-running operation; its result is None while it still runs after `timeout`."""

    def result(self, timeout: float | None = None) -> Any: ...


class RunCommand(Protocol):
    """Azure Run Command on a VM, and what the guest reports of itself."""

    def computer_name(self, vm_id: str) -> str | None: ...

    def run_shell_script(self, vm_id: str, script: list[str]) -> Poller: ...

    def rest(self, model: Any) -> dict[str, Any]: ...


class Sts(Protocol):
    def role_credentials(self, role_arn: str, session_name: str, seconds: int) -> dict[str, str]: ...


class ReturnToNormalStore(Protocol):
    """The part of the state store (lambdas/adapters/state_store.StateStore) return to normal uses."""

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...

    def new_vm(self, plan: str, server: str) -> dict[str, Any] | None: ...

    def forget_new_vm(self, plan: str, server: str) -> None: ...


class Log(Protocol):
    def info(self, msg: str, *, extra: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReturnToNormalPorts:
    drs: Drs
    vms: RunCommand
    sts: Sts
    store: ReturnToNormalStore
    log: Log
    # AWS_REGION and AGENT_INSTALLATION_ROLE_ARN (read only when an agent is installed), DR_STACK_NAME.
    env: Mapping[str, str]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class ReturnToNormalRun:
    """The run a return-to-normal task works for: its plan and the keys of its run record."""

    plan: Plan
    run_id: str
    run_sk: str
    started_at: datetime
