"""Every few minutes: replication health of every plan, as CloudWatch metrics (dashboard, outage signal)
and as a snapshot in the plan's state item (`drctl status`); and the sweep (lambdas/handlers/sweep.py):
runs whose execution ended without closing them are closed ABORTED and release their lock, and drill
instances left by ended drills are terminated. The figures come from lambdas/domain/replication_health.py."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.adapters import drs, state_store
from lambdas.domain.replication_health import replication_health
from lambdas.handlers import sweep
from lambdas.handlers.common import iso, logger, new_metrics, now
from lambdas.plan import plan_catalog


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, plan in plan_catalog().items():
        found = drs.source_servers([s.source_server_id for s in plan.servers()])
        replication = replication_health(plan, found)
        state_store.store().record_replication(name, {**replication, "at": iso(now())})
        metrics = new_metrics()
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
        summary[name]["abortedRuns"] = sweep.ended_without_closing(name)
        summary[name]["sweptDrillInstances"] = sweep.drill_instances_left(
            name, [s.source_server_id for s in plan.servers()]
        )
    return summary
