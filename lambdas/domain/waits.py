"""Event-driven waits. A workflow that waits for DRS registers its task token under the ids the awaited
events name (source servers for launches, recovery instances for failback); the DRS event handler resumes
it at once. Delivery of DRS events is best effort, so every wait also times out into a regular check
(timing.fallback_poll_seconds). A late or duplicate event finds no token, or a used one, and does nothing.

The service gets what it calls as WaitPorts (lambdas/handlers/waits.py builds them from the adapters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from lambdas.domain.measure import iso
from lambdas.domain.records import RunRecord, Waiter
from lambdas.domain.waves import wave_of, wave_progress
from lambdas.errors import InvalidInput
from lambdas.plan import Plan

# A waiter no event removed (its wait ended in the fallback check) expires from the table after this.
WAIT_TTL_SECONDS = 7 * 86_400
# DRS failback states after which a failback wait has news: done, or failed.
FAILBACK_SETTLED_STATES = frozenset({"FAILBACK_COMPLETED", "FAILBACK_ERROR"})


class Drs(Protocol):
    """The DRS calls the waits make (lambdas.adapters.drs)."""

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]: ...

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...


class WaitStore(Protocol):
    """The state store operations the waits use (lambdas.adapters.state_store.StateStore has them)."""

    def add_waiter(self, resource_id: str, waiter: Waiter) -> None: ...

    def waiters(self, resource_id: str) -> list[Waiter]: ...

    def remove_waiter(self, resource_id: str, execution_arn: str) -> None: ...

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...


class Executions(Protocol):
    """Step Functions (lambdas.adapters.executions)."""

    def resume_task(self, token: str, output: dict[str, Any]) -> bool: ...  # False: the wait had ended


@dataclass(frozen=True)
class WaitPorts:
    drs: Drs
    store: WaitStore
    executions: Executions
    clock: Callable[[], datetime]  # an aware datetime


@dataclass(frozen=True)
class Wait:
    """One registration: the run waiting (its run record key, execution) and what it awaits."""

    run_sk: str
    execution_arn: str
    task_token: str
    kind: Literal["wave", "failback"]
    wave: int | None = None  # required for kind "wave"
    job_ids: list[str] = field(default_factory=list)  # the wave's DRS launch jobs
    # Servers the last check saw settled (launched or failed): more than that means news already.
    settled: int = 0


def register(wait: Wait, plan: Plan, ports: WaitPorts) -> dict[str, Any]:
    """Park the task token under every awaited resource, then look once for news it would miss."""
    resources = resources_awaited(wait, plan, ports)
    moment = ports.clock()
    waiter = Waiter(
        execution_arn=wait.execution_arn,
        task_token=wait.task_token,
        kind=wait.kind,
        since=iso(moment),
        ttl=int(moment.timestamp()) + WAIT_TTL_SECONDS,
    )
    for resource in resources:
        ports.store.add_waiter(resource, waiter)
    if news_since_last_check(wait, plan, ports):
        ports.executions.resume_task(
            wait.task_token, {"resumed_by": "register_wait", "resource": None, "detail": {}}
        )
        return {"waiting_on": 0, "resumed": True}
    return {"waiting_on": len(resources), "resumed": False}


def resources_awaited(wait: Wait, plan: Plan, ports: WaitPorts) -> list[str]:
    """The ids the awaited DRS events name: the wave's source servers, or the failback's recovery
    instances."""
    if wait.kind == "wave":
        if wait.wave is None:
            raise InvalidInput("register_wait input: wave is required for kind 'wave'")
        return [s.source_server_id for s in wave_of(plan, wait.wave).servers]
    servers = ports.store.run_record(plan.name, wait.run_sk).failback_servers()
    return [entry["recoveryInstanceId"] for entry in servers.values()]


def news_since_last_check(wait: Wait, plan: Plan, ports: WaitPorts) -> bool:
    """Whatever happened between the last check and this registration would be missed by the events
    (they may have fired already): look once more, after the token is in place."""
    if wait.kind == "wave" and wait.wave is not None:
        progress = wave_progress(wave_of(plan, wait.wave), ports.drs.jobs(wait.job_ids))
        settled = len(progress.launched) + len(progress.failed)
        return progress.status != "IN_PROGRESS" or settled > wait.settled
    instances = ports.drs.recovery_instances([s.source_server_id for s in plan.servers()], drill=False)
    return any((ri.get("failback") or {}).get("state") in FAILBACK_SETTLED_STATES for ri in instances)


def resource_id(arn: str) -> str:
    """The id at the end of a DRS resource ARN (…:source-server/s-123 → s-123)."""
    return arn.rsplit("/", 1)[-1]


def resume(detail_type: str, resources: list[str], detail: dict[str, Any], ports: WaitPorts) -> int:
    """Resume every wait parked under the event's resources, once: each waiter goes whatever the answer (a
    used token means the wait ended already). Returns how many waits this event resumed."""
    resumed = 0
    for arn in resources:
        resource = resource_id(arn)
        for waiter in ports.store.waiters(resource):
            output = {"resumed_by": detail_type, "resource": resource, "detail": detail}
            if ports.executions.resume_task(waiter.task_token, output):
                resumed += 1
            ports.store.remove_waiter(resource, waiter.execution_arn)
    return resumed
