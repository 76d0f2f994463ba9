"""A plan's replication health from DRS's source servers: each server's replication state and lag, and the
figures the dashboard and the outage signal use. A plan server DRS does not report counts as not
continuous (it cannot be launched from current data)."""

from __future__ import annotations

from typing import Any

from lambdas.domain.preflight import replication_state
from lambdas.plan import Plan


def replication_health(plan: Plan, source_servers: list[dict[str, Any]]) -> dict[str, Any]:
    servers = {}
    for server in source_servers:
        state, lag = replication_state(server)
        servers[server["sourceServerID"]] = {"state": state, "lagSeconds": lag}
    lags = [s["lagSeconds"] for s in servers.values() if s["lagSeconds"] is not None]
    missing = len(plan.servers()) - len(source_servers)
    return {
        "servers": servers,
        "maxLagSeconds": max(lags) if lags else None,
        "notContinuous": sum(1 for s in servers.values() if s["state"] != "CONTINUOUS") + missing,
        "stalled": sum(1 for s in servers.values() if s["state"] == "STALLED"),
    }
