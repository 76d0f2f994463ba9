"""Failback from AWS to Azure through the DRS Failback Client.

An Azure source cannot use DRS reverse replication (that is for servers that came from EC2): instead a
VM in Azure boots the DRS Failback Client, which pulls the recovery instance's data back. Each step is
safe to retry: VM creation is an idempotent ARM PUT, a failback launch is not repeated for instances
already launching or done.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any, Literal

from lambdas.adapters import azure_compute, drs
from lambdas.domain.waves import PLAN_TAG, RUN_TAG
from lambdas.errors import FailbackFailed
from lambdas.handlers.common import RunTask, iso, now, task

FAILBACK_CLIENT_TAG = "drs-recovery-instance-id"
START_WAIT_SECONDS = 240
GIB = 1024**3


def recovery_instances_of(run_plan: Any) -> list[dict[str, Any]]:
    return drs.recovery_instances([s.source_server_id for s in run_plan.servers()], drill=False)


def disk_sizes_gib(recovery_instance: dict[str, Any]) -> list[int]:
    """Disks of the failback VM: each at least as large as the recovery instance's (whole GiB, rounded up)."""
    disks = (recovery_instance.get("recoveryInstanceProperties") or {}).get("disks") or []
    sizes = [max(1, math.ceil(int(d.get("bytes", 0)) / GIB)) for d in disks]
    if not sizes:
        raise FailbackFailed(f"recovery instance {recovery_instance['recoveryInstanceID']} reports no disks")
    return sizes


def failback_vm_name(server_name: str) -> str:
    return f"{server_name}-failback"


@task(RunTask)
def prepare_handler(event: RunTask) -> dict[str, Any]:
    """Create the failback-client VMs in Azure (not waited for: the DRS state says when they are up)."""
    run = event.run
    plan = run.load_plan()
    instances = recovery_instances_of(plan)
    missing = {s.source_server_id for s in plan.servers()} - {ri["sourceServerID"] for ri in instances}
    if missing:
        names = sorted(plan.server_by_source_id(sid).name for sid in missing)
        raise FailbackFailed(f"no recovery instance to fail back for: {', '.join(names)}")
    failback = plan.azure.failback
    created: dict[str, Any] = {}
    for ri in instances:
        server = plan.server_by_source_id(ri["sourceServerID"])
        sizes = disk_sizes_gib(ri)
        name = failback_vm_name(server.name)
        try:
            azure_compute.begin_create_failback_client(
                plan.azure.subscription_id,
                failback.resource_group,
                name,
                failback.location,
                failback.vm_size,
                failback.image_id,
                failback.subnet_id,
                sizes,
                {FAILBACK_CLIENT_TAG: ri["recoveryInstanceID"], PLAN_TAG: plan.name, RUN_TAG: run.run_id},
            )
        except azure_compute.azure_errors() as exc:
            raise azure_compute.classify(exc) from None
        vm_id = (
            f"/subscriptions/{plan.azure.subscription_id}/resourceGroups/{failback.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{name}"
        )
        created[ri["sourceServerID"]] = {
            "name": server.name,
            "recoveryInstanceId": ri["recoveryInstanceID"],
            "failbackVmId": vm_id,
            "diskSizesGib": sizes,
        }
    run.update_record({"failback": {"requestedAt": iso(now()), "servers": created}})
    return {"failback_vms": len(created)}


class FailbackStateInput(RunTask, frozen=True):
    want: Literal["READY_FOR_LAUNCH", "COMPLETED"]


@task(FailbackStateInput)
def check_handler(event: FailbackStateInput) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    states = {
        ri["recoveryInstanceID"]: (ri.get("failback") or {}).get("state", "UNKNOWN")
        for ri in recovery_instances_of(plan)
    }
    wanted = f"FAILBACK_{event.want}"
    # Once launched, an instance that was READY moves on; COMPLETED also satisfies READY_FOR_LAUNCH.
    accepted = {wanted, "FAILBACK_COMPLETED"} if event.want == "READY_FOR_LAUNCH" else {wanted}
    errors = sorted(rid for rid, state in states.items() if state == "FAILBACK_ERROR")
    if errors:
        raise FailbackFailed(f"DRS reports FAILBACK_ERROR for recovery instances {', '.join(errors)}")
    waiting = sorted(rid for rid, state in states.items() if state not in accepted)
    if waiting:
        if now() - run.started_at > timedelta(minutes=plan.timing.failback_timeout_minutes):
            raise FailbackFailed(
                f"{len(waiting)} recovery instances not {wanted} within timing.failback_timeout_minutes "
                f"({plan.timing.failback_timeout_minutes}): {', '.join(waiting[:10])}"
            )
        return {"status": "PENDING", "waiting": len(waiting)}
    run.update_record({f"failback.{event.want.lower()}At": iso(now())})
    return {"status": "DONE", "instances": len(states)}


@task(RunTask)
def launch_handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    ready = [
        ri["recoveryInstanceID"]
        for ri in recovery_instances_of(plan)
        if (ri.get("failback") or {}).get("state") == "FAILBACK_READY_FOR_LAUNCH"
    ]
    already = [
        j["jobID"] for j in drs.jobs_since(run.started_at) if (j.get("tags") or {}).get(RUN_TAG) == run.run_id
    ]
    if already or not ready:
        return {"job_id": already[0] if already else None, "launched": 0}
    job_id = drs.start_failback_launch(ready, {RUN_TAG: run.run_id, PLAN_TAG: plan.name})
    run.update_record({"failback.launchJobId": job_id, "failback.launchRequestedAt": iso(now())})
    return {"job_id": job_id, "launched": len(ready)}


@task(RunTask)
def start_vms_handler(event: RunTask) -> dict[str, Any]:
    """Boot the failed-back Azure VMs from their disks, now holding the data from AWS."""
    run = event.run
    servers = (run.record().get("failback") or {}).get("servers") or {}
    pollers = []
    try:
        for entry in servers.values():
            pollers.append(azure_compute.begin_start(entry["failbackVmId"]))
        deadline = time.monotonic() + START_WAIT_SECONDS
        for poller in pollers:
            poller.result(timeout=max(1.0, deadline - time.monotonic()))
    except azure_compute.azure_errors() as exc:
        raise azure_compute.classify(exc) from None
    run.update_record({"failback.azureStartedAt": iso(now())})
    return {"started": len(pollers)}
