"""Preflight: replication healthy, lag under the plan's threshold, no server in an active DRS job, DRS job
quota headroom."""

from __future__ import annotations

from typing import Any

from lambdas import ownership, quotas
from lambdas.adapters import drs
from lambdas.domain import preflight
from lambdas.errors import PreflightFailed
from lambdas.handlers.common import RunTask, logger, task


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    servers = drs.source_servers([s.source_server_id for s in plan.servers()])
    problems, warnings = preflight.check(
        plan,
        servers,
        drs.active_jobs(),
        for_recovery=run.workflow == "recovery",
        quotas=quotas.current(),
        owner=ownership.stack_name(),
    )
    lags = {
        s["sourceServerID"]: preflight.lag_seconds((s.get("dataReplicationInfo") or {}).get("lagDuration"))
        for s in servers
    }
    run.update_record({"preflight": {"problems": problems, "warnings": warnings, "lagSeconds": lags}})
    if problems:
        logger.warning("preflight failed", extra={"problems": problems})
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise PreflightFailed(f"nothing was launched: {shown}")
    return {"servers": len(servers), "warnings": warnings[:20]}
