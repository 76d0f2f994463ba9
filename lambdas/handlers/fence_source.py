"""Fence the Azure source before failover: deallocate the source VMs so two copies never serve at once.

When Azure does not answer (the outage we are failing over from), recovery proceeds and the run record
says which servers were not fenced, so the operator knows to fence them when Azure returns.
"""

from __future__ import annotations

import time
from typing import Any

from lambdas.adapters import azure_compute, state_store
from lambdas.errors import AzureRequestFailed, AzureUnavailable
from lambdas.handlers.common import RunTask, iso, logger, now, task

FENCE_WAIT_SECONDS = 240


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    if run.trigger == "alarm":
        state_store.store().record_automatic_failover(run.plan, iso(now()))
    errors = (AzureUnavailable, AzureRequestFailed)
    fencing: dict[str, dict[str, Any]] = {}
    pollers = {}
    azure = azure_compute.SourcePower()
    for server in plan.servers():
        try:
            pollers[server.source_server_id] = azure.begin_deallocate(server.azure_vm_id)
        except errors as exc:
            fencing[server.source_server_id] = {"name": server.name, "fenced": False, "reason": str(exc)}
    deadline = time.monotonic() + FENCE_WAIT_SECONDS
    for sid, poller in pollers.items():
        name = plan.server_by_source_id(sid).name
        try:
            poller.result(timeout=max(1.0, deadline - time.monotonic()))
            done = poller.done()
            fencing[sid] = {
                "name": name,
                "fenced": done,
                "reason": "deallocated" if done else "deallocation requested, not confirmed in time",
            }
        except errors as exc:
            fencing[sid] = {"name": name, "fenced": False, "reason": str(exc)}
    at = iso(now())
    for entry in fencing.values():
        entry["at"] = at
    run.update_record({"fencing": fencing})
    unfenced = sorted(v["name"] for v in fencing.values() if not v["fenced"])
    if unfenced:
        logger.warning("source not fenced", extra={"servers": unfenced})
    return {"fenced": len(fencing) - len(unfenced), "unfenced": unfenced}
