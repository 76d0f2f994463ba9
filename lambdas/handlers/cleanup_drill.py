"""Terminate drill instances: after every drill, also one that failed at any point after launch.

Every drill recovery instance of the plan's source servers is terminated, not just the ones this run
recorded: a launch whose Lambda died before recording it must not leave an instance running. A source
server belongs to one plan only (checked at synth), so no other plan's drill is touched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lambdas.adapters import drs
from lambdas.errors import CleanupIncomplete
from lambdas.handlers.common import RunTask, iso, now, task
from lambdas.progress import Cleanup


def drill_instances(source_server_ids: list[str]) -> list[dict[str, Any]]:
    return drs.recovery_instances(source_server_ids, drill=True)


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    instances = drill_instances([s.source_server_id for s in plan.servers()])
    ids = [ri["recoveryInstanceID"] for ri in instances]
    job_ids = drs.terminate_recovery_instances(ids) if ids else []
    run.update_record({"cleanup": {"requestedAt": iso(now()), "recoveryInstanceIds": ids, "jobIds": job_ids}})
    return {"terminating": len(ids), "job_ids": job_ids}


@task(RunTask)
def check_handler(event: RunTask) -> Cleanup:
    run = event.run
    plan = run.load_plan()
    remaining = drill_instances([s.source_server_id for s in plan.servers()])
    if remaining:
        if now() - run.started_at > timedelta(minutes=plan.timing.launch_timeout_minutes * 2):
            raise CleanupIncomplete(
                f"{len(remaining)} drill instances still not terminated: check DRS recovery instances "
                f"of plan {plan.name} and terminate them"
            )
        return Cleanup(status="PENDING", remaining=len(remaining))
    run.update_record({"cleanup.completedAt": iso(now())})
    return Cleanup(status="DONE", remaining=0)
