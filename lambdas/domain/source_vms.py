"""The Azure source VMs before a failover: confirm the outage, then fence them.

confirm_outage: before an alarm fails production over, ask Azure itself. If Azure answers that every source
VM is running and provisioned, the alarm is not confirmed: nothing is failed over and the on-call engineer
is notified (the run ends with OutageNotConfirmed). If Azure does not answer, or any VM is down, the outage
is confirmed. The evidence goes into the run record and the report.

fence: deallocate the source VMs so two copies never serve at once. When Azure does not answer (the outage
we are failing over from), recovery proceeds and the run record says which servers were not fenced, so the
operator knows to fence them when Azure returns.

The services get what they call as SourcePorts (lambdas/handlers/confirm_outage.py builds them from the
adapters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.domain.measure import iso
from lambdas.domain.records import RunRecord
from lambdas.errors import AzureRequestFailed, AzureUnavailable, OutageNotConfirmed
from lambdas.plan import Plan, Server

FENCE_WAIT_SECONDS = 240
# What the Azure port raises; the message is the reason the run record gives.
AZURE_ERRORS = (AzureUnavailable, AzureRequestFailed)


class Deallocation(Protocol):
    """A deallocation Azure accepted (its long-running operation)."""

    def result(self, timeout: float | None = None) -> object: ...

    def done(self) -> bool: ...


class AzureSource(Protocol):
    """The source VMs' power (lambdas.adapters.azure_compute.SourcePower). Each call raises only
    AZURE_ERRORS; after Azure did not answer twice in a row, the rest are not tried (AzureUnavailable)."""

    def power_state(self, vm_id: str) -> dict[str, str]: ...  # {"power": ..., "provisioning": ...}

    def begin_deallocate(self, vm_id: str) -> Deallocation: ...


class SourceStore(Protocol):
    """The state store operations these services use (lambdas.adapters.state_store.StateStore has them)."""

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...

    def record_refusal(self, plan: str, refusal: dict[str, Any]) -> None: ...

    def record_automatic_failover(self, plan: str, at: str) -> None: ...


class Log(Protocol):
    def warning(self, msg: str, *, extra: Mapping[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class SourcePorts:
    azure: AzureSource
    store: SourceStore
    log: Log
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]  # seconds, for the fence's wait on the deallocations


@dataclass(frozen=True)
class SourceRun:
    """The run, as these services need it."""

    plan: Plan
    run_sk: str
    workflow: str
    trigger: str
    execution_arn: str


def confirm_outage(run: SourceRun, ports: SourcePorts) -> dict[str, Any]:
    """Record what Azure says of every source VM; raise OutageNotConfirmed when all are up."""
    plan = run.plan.name
    evidence: dict[str, dict[str, str]] = {}
    for server in run.plan.servers():
        try:
            evidence[server.name] = ports.azure.power_state(server.azure_vm_id)
        except AZURE_ERRORS as exc:
            evidence[server.name] = {"power": "no answer", "provisioning": "no answer", "error": str(exc)}
    healthy = [
        name
        for name, state in evidence.items()
        if state["power"] == "running" and state["provisioning"] == "succeeded"
    ]
    confirmed = len(healthy) < len(evidence)
    confirmation = {"at": iso(ports.clock()), "confirmed": confirmed, "evidence": evidence}
    ports.store.update_run(plan, run.run_sk, {"confirmation": confirmation})
    if not confirmed:
        reason = (
            f"the outage alarm fired but Azure reports all {len(healthy)} source VMs running and "
            "provisioned; no failover was started. Start recovery by hand if users are affected."
        )
        # finish_run notifies with this reason; drctl status shows it with the refused starts.
        ports.store.record_refusal(
            plan,
            {
                "at": iso(ports.clock()),
                "workflow": run.workflow,
                "trigger": run.trigger,
                "alarmName": (ports.store.run_record(plan, run.run_sk).trigger or {}).get("alarmName"),
                "execution": run.execution_arn,
                "reason": reason,
            },
        )
        raise OutageNotConfirmed(reason)
    return {"confirmed": True, "down": sorted(set(evidence) - set(healthy))}


def fence(run: SourceRun, ports: SourcePorts) -> dict[str, Any]:
    """Deallocate every source VM, waiting up to FENCE_WAIT_SECONDS in all; record each server's outcome."""
    plan = run.plan.name
    if run.trigger == "alarm":
        ports.store.record_automatic_failover(plan, iso(ports.clock()))
    fencing: dict[str, dict[str, Any]] = {}
    requested: dict[str, tuple[Server, Deallocation]] = {}
    for server in run.plan.servers():
        try:
            requested[server.source_server_id] = (server, ports.azure.begin_deallocate(server.azure_vm_id))
        except AZURE_ERRORS as exc:
            fencing[server.source_server_id] = {"name": server.name, "fenced": False, "reason": str(exc)}
    deadline = ports.monotonic() + FENCE_WAIT_SECONDS
    for sid, (server, deallocation) in requested.items():
        try:
            deallocation.result(timeout=max(1.0, deadline - ports.monotonic()))
            done = deallocation.done()
            fencing[sid] = {
                "name": server.name,
                "fenced": done,
                "reason": "deallocated" if done else "deallocation requested, not confirmed in time",
            }
        except AZURE_ERRORS as exc:
            fencing[sid] = {"name": server.name, "fenced": False, "reason": str(exc)}
    at = iso(ports.clock())
    for entry in fencing.values():
        entry["at"] = at
    ports.store.update_run(plan, run.run_sk, {"fencing": fencing})
    unfenced = sorted(v["name"] for v in fencing.values() if not v["fenced"])
    if unfenced:
        ports.log.warning("source not fenced", extra={"servers": unfenced})
    return {"fenced": len(fencing) - len(unfenced), "unfenced": unfenced}
