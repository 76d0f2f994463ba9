"""Launch one wave: one DRS job per `max_servers_per_job` servers, from the latest PIT snapshot or the newest
one at or before the requested time.

The account's DRS job quotas (lambdas/quotas.py; the values Service Quotas applies to the account when it
answers) are shared by every plan and by jobs started elsewhere, so a job starts only when DRS's active jobs
leave room for it; otherwise the wave answers PENDING and the state machine calls again after
`timing.poll_seconds`. The same happens when DRS itself refuses a job with ServiceQuotaExceededException
(another plan took the room first) and when this invocation has used its time budget. Safe to call again:
jobs this run already started for the wave are found by tag.

DRS calls per server: a launch-configuration read (plus a write only when it differs) for servers with
`launch_overrides`, and a snapshot lookup when the run asks for a point in time; then one StartRecovery per
job. They run on a few threads, paced by botocore's adaptive retry mode when DRS throttles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from lambdas.domain.measure import iso, parse_time
from lambdas.domain.records import RunRecord
from lambdas.domain.waves import capacity, chunks, job_tags, jobs_already_started, startable, wave_of
from lambdas.errors import DrsRefused, LaunchFailed
from lambdas.plan import Plan, Server
from lambdas.progress import WaveStart, done_or_pending
from lambdas.quotas import DrsQuotas

# The function's timeout is 300 s (constructs/task_functions.py): stop starting new jobs well before it, and
# let the next call carry on. Preparation calls run on this many threads.
TIME_BUDGET_SECONDS = 150.0
PREPARE_THREADS = 4


class Drs(Protocol):
    def jobs_since(self, since: datetime) -> list[dict[str, Any]]: ...

    def active_jobs(self) -> list[dict[str, Any]]: ...

    def start_recovery(
        self, servers: list[dict[str, str]], is_drill: bool, tags: dict[str, str]
    ) -> dict[str, Any]: ...

    def apply_launch_configuration(self, source_server_id: str, fields: dict[str, Any]) -> bool: ...

    def latest_snapshot(
        self, source_server_id: str, at_or_before: datetime | None
    ) -> dict[str, Any] | None: ...


class RunStore(Protocol):
    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


class Log(Protocol):
    def info(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...


@dataclass(frozen=True)
class LaunchPorts:
    drs: Drs
    quotas: Callable[[], DrsQuotas]  # the DRS job quotas in force for the account
    store: RunStore
    log: Log
    clock: Callable[[], datetime]  # wall time: what the run record says
    monotonic: Callable[[], float]  # the time budget


@dataclass(frozen=True)
class LaunchRun:
    plan: Plan
    run_id: str
    run_sk: str
    started_at: datetime
    is_drill: bool
    snapshot: str  # "latest" or an ISO time


def launch_wave(run: LaunchRun, index: int, ports: LaunchPorts) -> WaveStart:
    """Start the wave's jobs that have room under the quotas; record them; PENDING while servers wait."""
    deadline = ports.monotonic() + TIME_BUDGET_SECONDS
    plan, drs, log = run.plan, ports.drs, ports.log
    wave = wave_of(plan, index)
    limits = ports.quotas()
    groups = chunks(wave.servers, limits.max_servers_per_job)
    started = jobs_already_started(drs.jobs_since(run.started_at), run.run_id, index)
    pending = [(chunk, len(group)) for chunk, group in enumerate(groups) if chunk not in started]
    room = capacity(drs.active_jobs(), limits) if pending else None
    at_or_before = parse_time(run.snapshot) if run.snapshot != "latest" else None

    record_fields: dict[str, Any] = {}
    for chunk in startable(pending, room) if room else []:
        if ports.monotonic() > deadline:
            log.info("time budget used: the next call starts the rest", extra={"wave": index})
            break
        requests = _prepare(drs, groups[chunk], at_or_before, run.snapshot)
        try:
            job = drs.start_recovery(requests, run.is_drill, job_tags(plan.name, run.run_id, index, chunk))
        except DrsRefused as refused:
            if refused.code != "ServiceQuotaExceededException":
                raise
            log.info("DRS job quota reached: wave queued", extra={"wave": index, "chunk": chunk})
            break
        started[chunk] = job
        requested = iso(ports.clock())
        for server in groups[chunk]:
            record_fields[f"servers.{server.source_server_id}"] = {
                "name": server.name,
                "wave": index,
                "launchRequestedAt": requested,
            }

    job_ids = [started[chunk]["jobID"] for chunk in sorted(started)]
    queued = sum(len(group) for chunk, group in enumerate(groups) if chunk not in started)
    # The launch timeout runs from the wave's last job start: time spent queued for quota is not DRS's.
    created = [parse_time(job.get("creationDateTime")) for job in started.values()]
    requested_at = iso(max((c for c in created if c is not None), default=ports.clock()))
    wave_record: dict[str, Any] = {
        "name": wave.name,
        "jobIds": job_ids,
        "launchRequestedAt": requested_at,
        "queuedServers": queued,
    }
    if queued:
        # A wave does not wait for room forever: the plan's launch timeout bounds the queueing too.
        previous = (ports.store.run_record(plan.name, run.run_sk).waves or {}).get(f"w{index}", {})
        now = ports.clock()
        since = parse_time(previous.get("queuedSince")) or now
        wave_record["queuedSince"] = iso(since)
        if now - since > timedelta(minutes=plan.timing.launch_timeout_minutes):
            ports.store.update_run(plan.name, run.run_sk, {**record_fields, f"waves.w{index}": wave_record})
            raise LaunchFailed(
                f"wave {wave.name}: {queued} servers waited longer than timing.launch_timeout_minutes "
                f"({plan.timing.launch_timeout_minutes}) for room under the DRS job quotas"
            )
    record_fields[f"waves.w{index}"] = wave_record
    ports.store.update_run(plan.name, run.run_sk, record_fields)
    if queued:
        log.info("wave queued", extra={"wave": index, "queued_servers": queued, "jobs": len(job_ids)})
    return WaveStart(
        status=done_or_pending(not queued),
        wave=index,
        job_ids=job_ids,
        queued_servers=queued,
        requested_at=requested_at,
    )


def _prepare(
    drs: Drs, servers: list[Server], at_or_before: datetime | None, snapshot: str
) -> list[dict[str, str]]:
    """The StartRecovery items of one job, after the servers' launch configurations are as the plan says."""

    def one(server: Server) -> dict[str, str]:
        overrides = server.launch_overrides.drs_fields()
        if overrides:
            drs.apply_launch_configuration(server.source_server_id, overrides)
        item = {"sourceServerID": server.source_server_id}
        if at_or_before is not None:
            found = drs.latest_snapshot(server.source_server_id, at_or_before)
            if found is None:
                raise LaunchFailed(
                    f"{server.name}: no PIT snapshot at or before {snapshot}; choose a later time or 'latest'"
                )
            item["recoverySnapshotID"] = found["snapshotID"]
        return item

    if not any(s.launch_overrides.drs_fields() for s in servers) and at_or_before is None:
        return [{"sourceServerID": s.source_server_id} for s in servers]
    with ThreadPoolExecutor(max_workers=PREPARE_THREADS) as pool:
        return list(pool.map(one, servers))
