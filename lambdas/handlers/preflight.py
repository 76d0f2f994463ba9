"""Preflight: replication healthy, lag under the plan's threshold, no server in an active DRS job, DRS job
quota headroom."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lambdas import ownership
from lambdas.adapters import drs, service_quotas
from lambdas.domain import preflight
from lambdas.errors import PreflightFailed
from lambdas.handlers.common import RunTask, logger, task


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    servers = drs.source_servers([s.source_server_id for s in plan.servers()])
    in_force = service_quotas.drs_quotas_in_force()
    problems, warnings = preflight.check(
        plan,
        servers,
        drs.active_jobs(),
        for_recovery=run.workflow == "recovery",
        quotas=in_force.quotas,
        owner=ownership.stack_name(),
    )
    if in_force.unread:
        warnings.append(
            "Service Quotas did not answer for DRS quota(s) "
            f"{', '.join(in_force.unread)}: planning with the stack's configured figures"
        )
    lags = {
        s["sourceServerID"]: preflight.lag_seconds((s.get("dataReplicationInfo") or {}).get("lagDuration"))
        for s in servers
    }
    run.update_record(
        {
            "preflight": {
                "problems": problems,
                "warnings": warnings,
                "lagSeconds": lags,
                "drsQuotas": asdict(in_force.quotas),
            }
        }
    )
    if problems:
        logger.warning("preflight failed", extra={"problems": problems})
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise PreflightFailed(f"nothing was launched: {shown}")
    return {"servers": len(servers), "warnings": warnings[:20]}
