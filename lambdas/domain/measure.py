"""Achieved RTO and RPO of a run, from the timeline in its run record.

RPO: trigger time minus the point-in-time snapshot the server was launched from (data lost); an on-demand
snapshot taken after the trigger still lacks what had not replicated yet, so the replication lag seen at
preflight is the floor.
RTO: trigger time to the moment the server passed its health check (time to recover).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso(moment: datetime) -> str:
    """The timestamps of run records and plan state: UTC, milliseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def measurements(record: dict[str, Any], rto_target_minutes: int, rpo_target_minutes: int) -> dict[str, Any]:
    trigger = parse_time(record.get("startedAt"))
    lags = (record.get("preflight") or {}).get("lagSeconds") or {}
    per_server: dict[str, dict[str, float | None]] = {}
    for source_server_id, server in (record.get("servers") or {}).items():
        snapshot = parse_time(server.get("snapshotAt"))
        healthy = parse_time(server.get("healthyAt"))
        lag = float(lags.get(source_server_id) or 0.0)
        per_server[source_server_id] = {
            "rpo_seconds": max((trigger - snapshot).total_seconds(), lag) if trigger and snapshot else None,
            "rto_seconds": (healthy - trigger).total_seconds() if trigger and healthy else None,
        }
    rpos = [v["rpo_seconds"] for v in per_server.values() if v["rpo_seconds"] is not None]
    rtos = [v["rto_seconds"] for v in per_server.values() if v["rto_seconds"] is not None]
    rpo = max(rpos) if rpos else None
    rto = max(rtos) if rtos and len(rtos) == len(per_server) else None
    return {
        "rpo_seconds": rpo,
        "rto_seconds": rto,
        "rpo_target_seconds": rpo_target_minutes * 60,
        "rto_target_seconds": rto_target_minutes * 60,
        "rpo_met": rpo is not None and rpo <= rpo_target_minutes * 60,
        "rto_met": rto is not None and rto <= rto_target_minutes * 60,
        "servers": per_server,
    }
