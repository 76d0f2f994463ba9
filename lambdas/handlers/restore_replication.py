"""Return to normal: stop failback, restart replication Azure -> AWS, terminate recovery instances,
then wait until every source server replicates CONTINUOUS again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lambdas.adapters import drs
from lambdas.errors import DrsRefused, ReplicationNotRestored
from lambdas.handlers.common import RunTask, iso, now, task


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    source_ids = [s.source_server_id for s in plan.servers()]
    instances = drs.recovery_instances(source_ids, drill=False)
    for ri in instances:
        if (ri.get("failback") or {}).get("state") not in (None, "FAILBACK_NOT_STARTED"):
            _tolerate(("ResourceNotFoundException",), drs.stop_failback, ri["recoveryInstanceID"])
    servers = {s["sourceServerID"]: s for s in drs.source_servers(source_ids)}
    restarted = []
    for sid in source_ids:
        state = ((servers.get(sid) or {}).get("dataReplicationInfo") or {}).get("dataReplicationState")
        if state not in (
            "CONTINUOUS",
            "INITIATING",
            "INITIAL_SYNC",
            "BACKLOG",
            "CREATING_SNAPSHOT",
            "RESCAN",
        ):
            # ConflictException: already replicating, which is the state we want.
            _tolerate(("ConflictException",), drs.start_replication, sid)
            restarted.append(sid)
    ids = [ri["recoveryInstanceID"] for ri in instances]
    job_ids = drs.terminate_recovery_instances(ids) if ids else []
    run.update_record(
        {
            "restore": {
                "at": iso(now()),
                "replicationRestarted": restarted,
                "terminated": ids,
                "jobIds": job_ids,
            }
        }
    )
    return {"replication_restarted": len(restarted), "terminating": len(ids)}


def _tolerate(codes: tuple[str, ...], fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except DrsRefused as exc:
        if exc.code not in codes:
            raise


@task(RunTask)
def check_handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    source_ids = [s.source_server_id for s in plan.servers()]
    states = {
        s["sourceServerID"]: (s.get("dataReplicationInfo") or {}).get("dataReplicationState")
        for s in drs.source_servers(source_ids)
    }
    remaining = drs.recovery_instances(source_ids, drill=False)
    waiting = sorted(
        plan.server_by_source_id(sid).name for sid in source_ids if states.get(sid) != "CONTINUOUS"
    )
    if waiting or remaining:
        if now() - run.started_at > timedelta(minutes=plan.timing.replication_timeout_minutes):
            raise ReplicationNotRestored(
                f"not back to CONTINUOUS within timing.replication_timeout_minutes "
                f"({plan.timing.replication_timeout_minutes}): {', '.join(waiting[:20]) or 'none'}; "
                f"recovery instances left: {len(remaining)}"
            )
        return {
            "status": "PENDING",
            "not_continuous": waiting[:20],
            "recovery_instances_left": len(remaining),
        }
    run.update_record({"restore.completedAt": iso(now())})
    return {"status": "DONE"}
