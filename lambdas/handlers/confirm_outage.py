"""Before an alarm fails production over, ask Azure itself. If Azure answers that every source VM is
running and provisioned, the alarm is not confirmed: nothing is failed over and the on-call engineer is
notified (the run ends with OutageNotConfirmed). If Azure does not answer, or any VM is down, the outage is
confirmed. The evidence goes into the run record and the report."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import azure_compute, state_store
from lambdas.errors import AzureRequestFailed, AzureUnavailable, OutageNotConfirmed
from lambdas.handlers.common import RunTask, iso, now, task


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    evidence: dict[str, dict[str, str]] = {}
    azure = azure_compute.SourcePower()
    for server in plan.servers():
        try:
            evidence[server.name] = azure.power_state(server.azure_vm_id)
        except (AzureUnavailable, AzureRequestFailed) as exc:
            evidence[server.name] = {"power": "no answer", "provisioning": "no answer", "error": str(exc)}
    healthy = [
        name
        for name, state in evidence.items()
        if state["power"] == "running" and state["provisioning"] == "succeeded"
    ]
    confirmed = len(healthy) < len(evidence)
    run.update_record({"confirmation": {"at": iso(now()), "confirmed": confirmed, "evidence": evidence}})
    if not confirmed:
        reason = (
            f"the outage alarm fired but Azure reports all {len(healthy)} source VMs running and "
            "provisioned; no failover was started. Start recovery by hand if users are affected."
        )
        # finish_run notifies with this reason; drctl status shows it with the refused starts.
        state_store.store().record_refusal(
            run.plan,
            {
                "at": iso(now()),
                "workflow": run.workflow,
                "trigger": run.trigger,
                "alarmName": (run.record().trigger or {}).get("alarmName"),
                "execution": run.execution_arn,
                "reason": reason,
            },
        )
        raise OutageNotConfirmed(reason)
    return {"confirmed": True, "down": sorted(set(evidence) - set(healthy))}
