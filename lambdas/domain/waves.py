"""Waves and DRS jobs: splitting, idempotency tags, and reading job progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lambdas.plan import MAX_SERVERS_PER_JOB, Plan, Wave
from lambdas.quotas import DrsQuotas

RUN_TAG = "dr-orchestrator:run-id"
WAVE_TAG = "dr-orchestrator:wave"
CHUNK_TAG = "dr-orchestrator:chunk"
PLAN_TAG = "dr-orchestrator:plan"


def chunks(items: list[Any], size: int = MAX_SERVERS_PER_JOB) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(frozen=True)
class Capacity:
    """Room left under the account's DRS job quotas, from the jobs DRS reports as not COMPLETED."""

    jobs: int
    servers: int


def capacity(active_jobs: list[dict[str, Any]], quotas: DrsQuotas) -> Capacity:
    """Every job that is not COMPLETED counts, whoever started it (another plan, a drill's cleanup, the
    console): the quotas are per account."""
    busy = [job for job in active_jobs if job.get("status") != "COMPLETED"]
    servers = sum(len(job.get("participatingServers") or []) for job in busy)
    return Capacity(
        jobs=quotas.max_concurrent_jobs - len(busy),
        servers=quotas.max_servers_in_active_jobs - servers,
    )


def busy_source_servers(active_jobs: list[dict[str, Any]]) -> set[str]:
    """Source servers in a DRS job not yet COMPLETED: DRS refuses another job for them."""
    return {
        str(participant["sourceServerID"])
        for job in active_jobs
        for participant in job.get("participatingServers") or []
    }


def startable(pending: list[tuple[int, int]], room: Capacity) -> list[int]:
    """Which pending chunks (index, servers) fit now, in wave order: a chunk that does not fit waits, and
    so do the chunks after it, so a wave's jobs start in order and a large chunk is not starved."""
    chosen: list[int] = []
    jobs, servers = room.jobs, room.servers
    for index, size in pending:
        if jobs < 1 or size > servers:
            break
        chosen.append(index)
        jobs -= 1
        servers -= size
    return chosen


def job_tags(plan: str, run_id: str, wave: int, chunk: int) -> dict[str, str]:
    return {PLAN_TAG: plan, RUN_TAG: run_id, WAVE_TAG: str(wave), CHUNK_TAG: str(chunk)}


def jobs_already_started(jobs: list[dict[str, Any]], run_id: str, wave: int) -> dict[int, dict[str, Any]]:
    """Jobs this run already started for a wave, by chunk: a retried launch must not launch twice."""
    found: dict[int, dict[str, Any]] = {}
    for job in jobs:
        tags = job.get("tags") or {}
        if tags.get(RUN_TAG) == run_id and tags.get(WAVE_TAG) == str(wave):
            found[int(tags.get(CHUNK_TAG, "0"))] = job
    return found


@dataclass
class WaveProgress:
    status: str  # IN_PROGRESS | COMPLETED | FAILED
    launched: dict[str, str] = field(default_factory=dict)  # source server id -> recovery instance id
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    critical_failed: list[str] = field(default_factory=list)


def wave_progress(wave: Wave, jobs: list[dict[str, Any]]) -> WaveProgress:
    """Read launch status of a wave's servers from its DRS jobs.

    DRS has no LAUNCH_END event: a server succeeded when its launchStatus is LAUNCHED.
    """
    statuses: dict[str, tuple[str, str | None]] = {}
    all_done = bool(jobs)
    for job in jobs:
        if job.get("status") != "COMPLETED":
            all_done = False
        for server in job.get("participatingServers", []):
            statuses[server["sourceServerID"]] = (
                server.get("launchStatus", "PENDING"),
                server.get("recoveryInstanceID"),
            )
    progress = WaveProgress(status="IN_PROGRESS")
    for server in wave.servers:
        launch_status, instance_id = statuses.get(server.source_server_id, ("PENDING", None))
        if launch_status == "LAUNCHED" and instance_id:
            progress.launched[server.source_server_id] = instance_id
        elif launch_status in ("FAILED", "TERMINATED") or (all_done and launch_status != "LAUNCHED"):
            progress.failed.append(server.source_server_id)
            if server.critical:
                progress.critical_failed.append(server.source_server_id)
        else:
            progress.pending.append(server.source_server_id)
    if progress.critical_failed:
        progress.status = "FAILED"
    elif not progress.pending:
        progress.status = "COMPLETED"
    return progress


def wave_of(plan: Plan, index: int) -> Wave:
    if not 0 <= index < len(plan.waves):
        raise IndexError(f"plan {plan.name} has no wave {index}")
    return plan.waves[index]
