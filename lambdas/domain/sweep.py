"""The sweep, run by the replication monitor every 5 minutes: nothing a run leaves behind stays for long.

1. Runs whose execution ended without its last task (stopped from the console, timed out, failed in that
   task): the run record still says RUNNING and the plan's lock is still held. The sweep asks Step Functions
   (DescribeExecution) about each run marked RUNNING; an execution that is no longer RUNNING has its record
   closed ABORTED and its lock released (the lifecycle settles as after a failed run), and the on-call
   channel is told.
2. Drill instances of ended drills: a DRS job cannot be cancelled, so a drill stopped, or timed out, while
   one of its launch jobs runs gets its drill instances after it ended. The sweep terminates the drill
   instances launched by an ended drill of this plan (found by the job's tags); it never touches a running
   drill's instances, nor drill instances launched outside the orchestrator. An instance whose source server
   is still in a DRS job (DRS allows one job per server) is left for the next sweep.
The first step runs before the second, so a stopped drill's instances go in the same sweep. A stopped
failback also has the failback credentials cleared from its VMs' userData in the first step.

The services get what they call as SweepPorts (lambdas/handlers/sweep.py builds them from the adapters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.domain import lifecycle
from lambdas.domain.measure import iso
from lambdas.domain.records import PlanState, RunRecord
from lambdas.domain.waves import PLAN_TAG, RUN_TAG, busy_source_servers
from lambdas.errors import DrsRefused


class SweepStore(Protocol):
    """The state store operations the sweep uses (lambdas.adapters.state_store.StateStore has them)."""

    def runs(self, plan: str, limit: int = 20) -> list[RunRecord]: ...

    def abort_run(self, plan: str, run_sk: str, at: str, execution: dict[str, Any]) -> bool: ...

    def release_lock(
        self, plan: str, execution_arn: str, lifecycle: str, incomplete: bool, at: str
    ) -> PlanState | None: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...

    def record_drill_sweep(self, plan: str, sweep: dict[str, Any]) -> None: ...


class Executions(Protocol):
    """Step Functions (lambdas.adapters.executions)."""

    @property
    def RUNNING(self) -> str: ...  # DescribeExecution's status of an execution still running

    def describe(self, execution_arn: str) -> dict[str, Any]: ...


class Drs(Protocol):
    """The DRS calls the sweep makes (lambdas.adapters.drs)."""

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]: ...

    def active_jobs(self) -> list[dict[str, Any]]: ...

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]: ...


class Log(Protocol):
    def warning(self, msg: str, *, extra: Mapping[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class SweepPorts:
    store: SweepStore
    executions: Executions
    drs: Drs
    publish: Callable[[str, dict[str, Any]], None]  # to the on-call channel: subject, message
    # Clears the failback document from the VMs of a failback record's servers; returns the outcome.
    clear_failback_credentials: Callable[[dict[str, Any]], dict[str, Any]]
    log: Log
    now: Callable[[], datetime]


def ended_without_closing(plan: str, ports: SweepPorts) -> list[str]:
    """Close the plan's runs still marked RUNNING whose execution has ended; returns their run ids."""
    closed = []
    for record in ports.store.runs(plan, limit=50):
        if record.status != "RUNNING" or not record.execution_arn:
            continue
        execution = ports.executions.describe(record.execution_arn)
        if execution["status"] != ports.executions.RUNNING and close_aborted(plan, record, execution, ports):
            closed.append(record.run_id)
    return closed


def close_aborted(plan: str, record: RunRecord, execution: dict[str, Any], ports: SweepPorts) -> bool:
    """Mark the run ABORTED and release the plan's lock if the run still holds it. False when the run was
    closed meanwhile (its last task ran after all)."""
    ended = iso(ports.now())
    seen = {
        "status": execution["status"],
        **({"stoppedAt": iso(execution["stopDate"])} if execution.get("stopDate") else {}),
        **{k: str(execution[k])[:2000] for k in ("error", "cause") if execution.get(k)},
    }
    store = ports.store
    if not store.abort_run(plan, record.sk, ended, seen):
        return False
    workflow = record.workflow
    new_state, incomplete = lifecycle.lifecycle_after(
        workflow, False, workflow == "recovery" and lifecycle.changed_production(record)
    )
    released = store.release_lock(plan, record.execution_arn, new_state, incomplete, ended)
    summary: dict[str, Any] = {
        "plan": plan,
        "workflow": workflow,
        "execution": record.execution_arn,
        "executionStatus": execution["status"],
        "lockReleased": released is not None,
        "lifecycle": new_state if released is not None else None,
    }
    failback_servers = record.failback_servers()
    if workflow == "failback" and failback_servers:
        # A stopped failback never ran its "clear credentials" step: no credential stays in userData.
        outcome = ports.clear_failback_credentials(failback_servers)
        store.update_run(plan, record.sk, {"failback.credentialsCleared": outcome})
        summary["credentialsCleared"] = outcome
    ports.log.warning("closed a run whose execution ended without closing it", extra=summary)
    ports.publish(f"[DR] {workflow} {execution['status'].lower()} for {plan}: run closed ABORTED", summary)
    return True


def orphaned_drill_instances(
    plan: str, instances: list[dict[str, Any]], jobs: list[dict[str, Any]], runs: list[RunRecord]
) -> list[str]:
    """Drill instances whose launch job was started by an ended run of this plan."""
    ended = {r.run_id for r in runs if r.status != "RUNNING"}
    tags = {job["jobID"]: job.get("tags") or {} for job in jobs}
    ours = {job_id for job_id, t in tags.items() if t.get(PLAN_TAG) == plan and t.get(RUN_TAG) in ended}
    return sorted(ri["recoveryInstanceID"] for ri in instances if ri.get("jobID") in ours)


def drill_instances_left(plan: str, source_server_ids: list[str], ports: SweepPorts) -> list[str]:
    """Terminate the drill instances left by ended drills of the plan; returns those terminated."""
    drs = ports.drs
    instances = drs.recovery_instances(source_server_ids, drill=True)
    if not instances:
        return []
    jobs = drs.jobs(sorted({ri["jobID"] for ri in instances if ri.get("jobID")}))
    orphans = orphaned_drill_instances(plan, instances, jobs, ports.store.runs(plan, limit=50))
    if not orphans:
        return []
    busy = busy_source_servers(drs.active_jobs())
    by_id = {ri["recoveryInstanceID"]: ri for ri in instances}
    ready = [i for i in orphans if by_id[i].get("sourceServerID") not in busy]
    if not ready:
        return []
    try:
        drs.terminate_recovery_instances(ready)
    except DrsRefused as refused:  # a job started meanwhile: the next sweep tries again
        ports.log.warning(
            "drill instances left for the next sweep", extra={"plan": plan, "reason": str(refused)}
        )
        return []
    ports.log.warning(
        "terminating drill instances left by an ended drill", extra={"plan": plan, "ids": ready}
    )
    ports.store.record_drill_sweep(plan, {"at": iso(ports.now()), "terminated": ready})
    return ready
