"""Preflight: is it safe to launch? Pure checks over what DRS reports."""

from __future__ import annotations

import re
from typing import Any

from lambdas.domain.waves import chunks
from lambdas.plan import MAX_CONCURRENT_JOBS, MAX_SERVERS_PER_JOB, Plan

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def lag_seconds(duration: str | None) -> float | None:
    """ISO-8601 duration (DRS lagDuration, e.g. 'PT1M5S') in seconds; None when DRS gives none."""
    if not duration:
        return None
    match = _DURATION.match(duration)
    if not match:
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86_400 + hours * 3_600 + minutes * 60 + seconds


def jobs_needed(plan: Plan) -> int:
    """Jobs the largest wave starts at once (waves run one after another)."""
    return max(len(chunks(wave.servers, MAX_SERVERS_PER_JOB)) for wave in plan.waves)


# During a real Azure outage the agents cannot reach AWS, so replication reports these states while the
# PIT snapshots taken before the outage are intact. Recovery accepts them (the report shows the lag,
# which is the data loss); a drill does not, since a drill must prove replication is healthy.
SOURCE_DOWN_STATES = ("DISCONNECTED", "STALLED")


def check(
    plan: Plan,
    source_servers: list[dict[str, Any]],
    active_jobs: list[dict[str, Any]],
    for_recovery: bool,
) -> tuple[list[str], list[str]]:
    """(problems that must stop a launch, warnings for the report); no problems means safe to go."""
    problems: list[str] = []
    warnings: list[str] = []
    by_id = {server["sourceServerID"]: server for server in source_servers}
    # DRS runs one job per source server at a time and cannot cancel one (e.g. a launch still running after
    # its drill timed out): a server in an active job cannot be launched until that job ends.
    busy = {
        participant.get("sourceServerID"): job["jobID"]
        for job in active_jobs
        for participant in job.get("participatingServers") or []
    }
    for server in plan.servers():
        label = f"{server.name} ({server.source_server_id})"
        found = by_id.get(server.source_server_id)
        if found is None:
            problems.append(f"{label}: not a DRS source server in this account and region")
            continue
        if server.source_server_id in busy:
            problems.append(
                f"{label}: still in an active job of DRS ({busy[server.source_server_id]}), which DRS cannot "
                "cancel: start again when it has ended"
            )
        info = found.get("dataReplicationInfo") or {}
        state = info.get("dataReplicationState", "UNKNOWN")
        lag = lag_seconds(info.get("lagDuration"))
        if for_recovery and state in SOURCE_DOWN_STATES:
            warnings.append(f"{label}: replication {state} (source unreachable), lag {lag or 0:.0f}s")
            continue
        if state != "CONTINUOUS":
            problems.append(f"{label}: replication is {state}, needs CONTINUOUS")
        elif lag is not None and lag > plan.preflight.max_lag_seconds:
            problems.append(
                f"{label}: replication lag {lag:.0f}s exceeds preflight.max_lag_seconds "
                f"{plan.preflight.max_lag_seconds}"
            )
    needed = jobs_needed(plan)
    if len(active_jobs) + needed > MAX_CONCURRENT_JOBS:
        problems.append(
            f"DRS already runs {len(active_jobs)} jobs; this plan needs {needed} more at once and the quota "
            f"is {MAX_CONCURRENT_JOBS}"
        )
    return problems, warnings
