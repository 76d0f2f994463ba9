"""Return to normal: replication Azure -> AWS comes back by itself, then the recovery instances go.

After a failback to the original source machines their replication agents run again: each source server
rescans and returns to CONTINUOUS without any call (DRS user guide: no agent reinstall after failing back to
the original source server). StartReplication is only for a server DRS reports STOPPED. The recovery
instances are terminated only once every source server is CONTINUOUS again: until then they are the only
copy of the data that is not stale.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lambdas.adapters import drs
from lambdas.errors import DrsRefused, ReplicationNotRestored
from lambdas.handlers.common import RunTask, iso, now, task

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
    states = _replication_states(source_ids)
    restarted = _start_stopped(states)
    run.update_record({"restore": {"at": iso(now()), "states": states, "replicationStarted": restarted}})
    return {"replication_started": len(restarted)}


@task(RunTask)
def check_handler(event: RunTask) -> dict[str, Any]:
    """PENDING until every source server is CONTINUOUS and then every recovery instance is terminated."""
    run = event.run
    plan = run.load_plan()
    source_ids = [s.source_server_id for s in plan.servers()]
    states = _replication_states(source_ids)
    _start_stopped(states)
    waiting = sorted(
        plan.server_by_source_id(sid).name for sid in source_ids if states.get(sid) != "CONTINUOUS"
    )
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
            record = run.record().get("restore") or {}
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
        return {
            "status": "PENDING",
            "not_continuous": waiting[:20],
            "recovery_instances_left": len(remaining),
        }
    run.update_record({"restore.completedAt": iso(now())})
    return {"status": "DONE"}


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
