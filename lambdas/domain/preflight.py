"""Preflight: is it safe to launch? Pure checks over what DRS reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from lambdas.domain.waves import capacity, chunks
from lambdas.ownership import OWNER_TAG_KEY, untagged
from lambdas.plan import Plan
from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas

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


def jobs_needed(plan: Plan, quotas: DrsQuotas = DEFAULT_QUOTAS) -> int:
    """Jobs the largest wave starts (waves run one after another)."""
    return max(len(chunks(wave.servers, quotas.max_servers_per_job)) for wave in plan.waves)


# During a real Azure outage the agents cannot reach AWS, so replication reports these states while the
# PIT snapshots taken before the outage are intact. Recovery accepts them (the report shows the lag,
# which is the data loss); a drill does not, since a drill must prove replication is healthy.
SOURCE_DOWN_STATES = ("DISCONNECTED", "STALLED")


ReadinessVerdict = Literal["ready", "source_down", "not_continuous", "lagging"]


@dataclass(frozen=True)
class Readiness:
    """How a source server's replication stands for a launch (drctl plan validate words it for operators)."""

    verdict: ReadinessVerdict
    state: str
    lag: float | None
    error: str | None  # DRS's dataReplicationError.error, if any


def replication_state(source_server: dict[str, Any]) -> tuple[str, float | None]:
    """A DRS source server's replication state and its lag in seconds (None when DRS gives none)."""
    info = source_server.get("dataReplicationInfo") or {}
    return str(info.get("dataReplicationState", "UNKNOWN")), lag_seconds(info.get("lagDuration"))


def replication_readiness(source_server: dict[str, Any], max_lag_seconds: int) -> Readiness:
    state, lag = replication_state(source_server)
    error = ((source_server.get("dataReplicationInfo") or {}).get("dataReplicationError") or {}).get("error")
    if state in SOURCE_DOWN_STATES:
        verdict: ReadinessVerdict = "source_down"
    elif state != "CONTINUOUS":
        verdict = "not_continuous"
    elif lag is not None and lag > max_lag_seconds:
        verdict = "lagging"
    else:
        verdict = "ready"
    return Readiness(verdict, state, lag, error)


def check(
    plan: Plan,
    source_servers: list[dict[str, Any]],
    active_jobs: list[dict[str, Any]],
    for_recovery: bool,
    quotas: DrsQuotas = DEFAULT_QUOTAS,
    owner: str | None = None,
) -> tuple[list[str], list[str]]:
    """(problems that must stop a launch, warnings for the report); no problems means safe to go.

    `owner` is the stack name the servers must be tagged with (lambdas/ownership.py): the stack's roles may
    act on no other server, so an untagged one would fail the launch halfway."""
    problems: list[str] = []
    warnings: list[str] = []
    by_id = {server["sourceServerID"]: server for server in source_servers}
    not_owned = set(untagged(source_servers, owner)) if owner else set()
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
        if server.source_server_id in not_owned:
            problems.append(
                f"{label}: not tagged {OWNER_TAG_KEY}={owner}; tag the source server in DRS so this stack "
                "may launch it"
            )
        if server.source_server_id in busy:
            problems.append(
                f"{label}: still in an active job of DRS ({busy[server.source_server_id]}), which DRS cannot "
                "cancel: start again when it has ended"
            )
        readiness = replication_readiness(found, plan.preflight.max_lag_seconds)
        state, lag = readiness.state, readiness.lag
        if for_recovery and readiness.verdict == "source_down":
            warnings.append(f"{label}: replication {state} (source unreachable), lag {lag or 0:.0f}s")
        elif readiness.verdict in ("source_down", "not_continuous"):
            problems.append(f"{label}: replication is {state}, needs CONTINUOUS")
        elif readiness.verdict == "lagging":
            problems.append(
                f"{label}: replication lag {lag:.0f}s exceeds preflight.max_lag_seconds "
                f"{plan.preflight.max_lag_seconds}"
            )
    # Jobs wait for room under the account's quotas (launch_wave queues them): a warning, not a refusal.
    needed = jobs_needed(plan, quotas)
    room = capacity(active_jobs, quotas)
    largest = max(len(wave.servers) for wave in plan.waves)
    if room.jobs < needed or room.servers < min(largest, quotas.max_servers_in_active_jobs):
        warnings.append(
            f"DRS already runs {len(active_jobs)} jobs: waves wait for room under the quotas of "
            f"{quotas.max_concurrent_jobs} jobs and {quotas.max_servers_in_active_jobs} servers in jobs"
        )
    return problems, warnings
