"""Return to normal: replication Azure -> AWS comes back by itself, then the recovery instances go.

After a failback to the original source machines their replication agents run again: each source server
rescans and returns to CONTINUOUS without any call (DRS user guide: no agent reinstall after failing back to
the original source server). StartReplication is only for a server DRS reports STOPPED. A server that failed
back to a new VM (azure.failback.target "new") gets a new agent and so a new source server
(replication_agents.py): that one must reach CONTINUOUS, and the plan change to make is recorded. The recovery
instances are terminated only once every source server is CONTINUOUS again: until then they are the only
copy of the data that is not stale.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from lambdas.adapters import drs, state_store
from lambdas.errors import DrsRefused, ReplicationNotRestored
from lambdas.handlers.common import RunContext, RunTask, iso, now, task
from lambdas.handlers.replication_agents import new_vm_servers
from lambdas.ownership import OWNER_TAG_KEY, STACK_NAME_ENV
from lambdas.plan import Plan
from lambdas.progress import Replication

# Failback states that leave a pairing behind to stop (a completed failback leaves none).
_PAIRED = {
    "FAILBACK_IN_PROGRESS",
    "FAILBACK_READY_FOR_LAUNCH",
    "FAILBACK_ERROR",
    "FAILBACK_NOT_READY_FOR_LAUNCH",
}


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    """Record where replication stands; stop a pairing a failback left behind; start STOPPED servers."""
    run = event.run
    plan = run.load_plan()
    source_ids = [s.source_server_id for s in plan.servers()]
    for ri in drs.recovery_instances(source_ids, drill=False):
        if (ri.get("failback") or {}).get("state") in _PAIRED:
            _tolerate(
                ("ResourceNotFoundException", "ConflictException"),
                drs.stop_failback,
                ri["recoveryInstanceID"],
            )
    new_vms = new_vm_servers(plan)
    states = _replication_states(source_ids)
    # A server whose VM is gone is not restarted: its replacement gets a new agent and source server.
    restarted = _start_stopped({sid: state for sid, state in states.items() if sid not in new_vms})
    run.update_record(
        {
            "restore": {
                "at": iso(now()),
                "states": states,
                "replicationStarted": restarted,
                "newSourceServers": {},
            }
        }
    )
    return {"replication_started": len(restarted), "new_vms": len(new_vms)}


@task(RunTask)
def check_handler(event: RunTask) -> Replication:
    """PENDING until every source server is CONTINUOUS and then every recovery instance is terminated."""
    run = event.run
    plan = run.load_plan()
    source_ids = [s.source_server_id for s in plan.servers()]
    replacements = _replacement_source_servers(run, plan)  # plan's id -> new source server id (or None)
    watched = [sid for sid in source_ids if sid not in replacements]
    states = _replication_states(watched + [r for r in replacements.values() if r])
    _start_stopped({sid: states[sid] for sid in watched if sid in states})

    def replicating(sid: str) -> bool:
        if sid in replacements:  # its replacement must be CONTINUOUS (none yet: not registered)
            replacement = replacements[sid]
            return replacement is not None and states.get(replacement) == "CONTINUOUS"
        return states.get(sid) == "CONTINUOUS"

    waiting = sorted(plan.server_by_source_id(sid).name for sid in source_ids if not replicating(sid))
    remaining = drs.recovery_instances(source_ids, drill=False) if not waiting else []
    if not waiting and remaining:
        # One job per source server at a time: an instance whose server is in a job (its termination, started
        # by an earlier check) is left to that job.
        busy = {
            s.get("sourceServerID")
            for job in drs.active_jobs()
            for s in job.get("participatingServers") or []
        }
        ids = [ri["recoveryInstanceID"] for ri in remaining if ri["sourceServerID"] not in busy]
        if ids:
            job_ids = drs.terminate_recovery_instances(ids)
            record = run.record().restore_section()
            run.update_record(
                {
                    "restore.continuousAt": record.get("continuousAt") or iso(now()),
                    "restore.terminated": sorted({*record.get("terminated", []), *ids}),
                    "restore.jobIds": [*record.get("jobIds", []), *job_ids],
                }
            )
    if waiting or remaining:
        if now() - run.started_at > timedelta(minutes=plan.timing.replication_timeout_minutes):
            raise ReplicationNotRestored(
                f"not back to CONTINUOUS within timing.replication_timeout_minutes "
                f"({plan.timing.replication_timeout_minutes}): {', '.join(waiting[:20]) or 'none'}; "
                f"recovery instances left: {len(remaining)} (kept until replication is CONTINUOUS)"
            )
        return Replication(
            status="PENDING", not_continuous=waiting[:20], recovery_instances_left=len(remaining)
        )
    run.update_record({"restore.completedAt": iso(now())})
    for sid in replacements:
        # The new VM is the server's now; the run record keeps what failback recorded of it.
        state_store.store().forget_new_vm(plan.name, plan.server_by_source_id(sid).name)
    return Replication(status="DONE", plan_changes=len(replacements))


def _replacement_source_servers(run: RunContext, plan: Plan) -> dict[str, str | None]:
    """For servers that failed back to a new VM: the source server its new agent registered, once DRS
    lists it (found by the guest's hostname, added after the install, not one of the plan's). Records it
    with the plan change to make."""
    recorded = run.record().restore_section().get("newSourceServers") or {}
    found: dict[str, str | None] = {}
    candidates: list[dict[str, Any]] | None = None
    for sid in new_vm_servers(plan):
        entry = recorded.get(sid) or {}
        if entry.get("sourceServerId"):
            found[sid] = str(entry["sourceServerId"])
            continue
        found[sid] = None
        if not entry.get("installRequestedAt"):
            continue
        candidates = drs.all_source_servers() if candidates is None else candidates
        new_id = _registered(candidates, entry, exclude={s.source_server_id for s in plan.servers()})
        if new_id:
            found[sid] = new_id
            server = plan.server_by_source_id(sid)
            change = plan_change(plan, server.name, new_id, str(entry["vmId"]))
            run.update_record(
                {
                    f"restore.newSourceServers.{sid}.sourceServerId": new_id,
                    f"restore.newSourceServers.{sid}.registeredAt": iso(now()),
                    f"restore.newSourceServers.{sid}.planChange": change,
                }
            )
    return found


def _registered(candidates: list[dict[str, Any]], entry: dict[str, Any], exclude: set[str]) -> str | None:
    since = _parse(str(entry["installRequestedAt"])) - timedelta(minutes=5)  # clocks of two services
    hostname = str(entry.get("hostname") or "").lower()
    matches = []
    for server in candidates:
        hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
        added = (server.get("lifeCycle") or {}).get("addedToServiceDateTime")
        if server.get("sourceServerID") in exclude or str(hints.get("hostname") or "").lower() != hostname:
            continue
        if added and _parse(str(added)) >= since:
            matches.append((str(added), str(server["sourceServerID"])))
    return max(matches)[1] if matches else None


def plan_change(plan: Plan, server: str, source_server_id: str, vm_id: str) -> dict[str, Any]:
    """What the operator changes in the plan so that the new VM and source server are the server's."""
    stack = os.environ.get(STACK_NAME_ENV, "<stack name>")
    return {
        "plan": plan.name,
        "server": server,
        "set": {"source_server_id": source_server_id, "azure_vm_id": vm_id},
        "remove": ["failback.target", "failback.new_vm"],
        "tag": {OWNER_TAG_KEY: stack},
        "text": (
            f"plan {plan.name}, server {server}: set source_server_id to {source_server_id} and azure_vm_id "
            f"to {vm_id}; remove its failback target 'new'; tag {source_server_id} in DRS with "
            f"{OWNER_TAG_KEY}={stack}"
        ),
    }


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _replication_states(source_ids: list[str]) -> dict[str, str]:
    return {
        s["sourceServerID"]: str((s.get("dataReplicationInfo") or {}).get("dataReplicationState"))
        for s in drs.source_servers(source_ids)
    }


def _start_stopped(states: dict[str, str]) -> list[str]:
    stopped = [sid for sid, state in states.items() if state == "STOPPED"]
    for sid in stopped:
        # ConflictException: replication already started meanwhile, which is the state we want.
        _tolerate(("ConflictException",), drs.start_replication, sid)
    return stopped


def _tolerate(codes: tuple[str, ...], fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except DrsRefused as exc:
        if exc.code not in codes:
            raise
