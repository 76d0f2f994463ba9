"""Every few minutes: replication health of every plan, as CloudWatch metrics (dashboard, outage signal)
and as a snapshot in the plan's state item (`drctl status`); and a sweep of drill instances left behind.

A DRS job cannot be cancelled: when a drill times out and cleans up while one of its launch jobs still runs,
that job may launch its drill instance later. The sweep terminates drill instances launched by a drill of
this orchestrator (found by the job's tags) whose run has ended; it never touches a running drill's
instances, nor drill instances launched outside the orchestrator."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.adapters import drs, state_store
from lambdas.domain.preflight import lag_seconds
from lambdas.domain.waves import PLAN_TAG, RUN_TAG
from lambdas.handlers.common import iso, logger, metrics, now
from lambdas.plan import plan_catalog


def plan_replication(source_servers: list[dict[str, Any]]) -> dict[str, Any]:
    servers = {}
    for server in source_servers:
        info = server.get("dataReplicationInfo") or {}
        servers[server["sourceServerID"]] = {
            "state": info.get("dataReplicationState", "UNKNOWN"),
            "lagSeconds": lag_seconds(info.get("lagDuration")),
        }
    lags = [s["lagSeconds"] for s in servers.values() if s["lagSeconds"] is not None]
    return {
        "servers": servers,
        "maxLagSeconds": max(lags) if lags else None,
        "notContinuous": sum(1 for s in servers.values() if s["state"] != "CONTINUOUS"),
        "stalled": sum(1 for s in servers.values() if s["state"] == "STALLED"),
    }


def orphaned_drill_instances(
    plan: str, instances: list[dict[str, Any]], jobs: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> list[str]:
    """Drill instances whose launch job was started by an ended run of this plan."""
    ended = {r["runId"] for r in runs if r.get("status") not in (None, "RUNNING")}
    tags = {job["jobID"]: job.get("tags") or {} for job in jobs}
    ours = {job_id for job_id, t in tags.items() if t.get(PLAN_TAG) == plan and t.get(RUN_TAG) in ended}
    return sorted(ri["recoveryInstanceID"] for ri in instances if ri.get("jobID") in ours)


def sweep_drill_instances(plan: str, source_server_ids: list[str]) -> list[str]:
    instances = drs.recovery_instances(source_server_ids, drill=True)
    if not instances:
        return []
    jobs = drs.jobs(sorted({ri["jobID"] for ri in instances if ri.get("jobID")}))
    orphans = orphaned_drill_instances(plan, instances, jobs, state_store.query_runs(plan, limit=50))
    if orphans:
        drs.terminate_recovery_instances(orphans)
        logger.warning(
            "terminating drill instances left by an ended drill", extra={"plan": plan, "ids": orphans}
        )
        state_store.set_fields(
            state_store.plan_key(plan), {"lastDrillSweep": {"at": iso(now()), "terminated": orphans}}
        )
    return orphans


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, plan in plan_catalog().items():
        found = drs.source_servers([s.source_server_id for s in plan.servers()])
        replication = plan_replication(found)
        missing = len(plan.servers()) - len(found)
        replication["notContinuous"] += missing
        state_store.set_fields(state_store.plan_key(name), {"replication": {**replication, "at": iso(now())}})
        metrics.add_dimension(name="plan", value=name)
        if replication["maxLagSeconds"] is not None:
            metrics.add_metric(
                name="MaxReplicationLagSeconds", unit=MetricUnit.Seconds, value=replication["maxLagSeconds"]
            )
        metrics.add_metric(
            name="ServersNotContinuous", unit=MetricUnit.Count, value=replication["notContinuous"]
        )
        metrics.add_metric(name="ServersStalled", unit=MetricUnit.Count, value=replication["stalled"])
        metrics.flush_metrics()
        summary[name] = {k: v for k, v in replication.items() if k != "servers"}
        summary[name]["sweptDrillInstances"] = sweep_drill_instances(
            name, [s.source_server_id for s in plan.servers()]
        )
    return summary
