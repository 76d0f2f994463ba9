"""Launch one wave: one DRS job per `max_servers_per_job` servers, from the latest PIT snapshot or the newest
one at or before the requested time.

The account's DRS job quotas (lambdas/quotas.py; the values Service Quotas applies to the account when it
answers) are shared by every plan and by jobs started elsewhere, so
a job starts only when DRS's active jobs leave room for it; otherwise the wave answers PENDING and the state
machine calls again after `timing.poll_seconds`. The same happens when DRS itself refuses a job with
ServiceQuotaExceededException (another plan took the room first) and when this invocation has used its
time budget. Safe to call again: jobs this run already started for the wave are found by tag.

DRS calls per server: a launch-configuration read (plus a write only when it differs) for servers with
`launch_overrides`, and a snapshot lookup when the run asks for a point in time; then one StartRecovery per
job. They run on a few threads, paced by botocore's adaptive retry mode when DRS throttles.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from lambdas.adapters import drs, service_quotas
from lambdas.domain.measure import parse_time
from lambdas.domain.waves import capacity, chunks, job_tags, jobs_already_started, startable, wave_of
from lambdas.errors import DrsRefused, LaunchFailed
from lambdas.handlers.common import RunTask, iso, logger, now, task
from lambdas.plan import Server
from lambdas.progress import WaveStart, done_or_pending

# The function's timeout is 300 s (constructs/task_functions.py): stop starting new jobs well before it, and
# let the next call carry on. Preparation calls run on this many threads.
TIME_BUDGET_SECONDS = 150.0
PREPARE_THREADS = 4


class LaunchWaveInput(RunTask, frozen=True):
    wave: int


@task(LaunchWaveInput)
def handler(event: LaunchWaveInput) -> WaveStart:
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    run = event.run
    plan = run.load_plan()
    wave = wave_of(plan, event.wave)
    limits = service_quotas.drs_quotas_in_force().quotas
    groups = chunks(wave.servers, limits.max_servers_per_job)
    started = jobs_already_started(drs.jobs_since(run.started_at), run.run_id, event.wave)
    pending = [(index, len(group)) for index, group in enumerate(groups) if index not in started]
    room = capacity(drs.active_jobs(), limits) if pending else None
    at_or_before = parse_time(run.snapshot) if run.snapshot != "latest" else None

    record_fields: dict[str, Any] = {}
    for index in startable(pending, room) if room else []:
        if time.monotonic() > deadline:
            logger.info("time budget used: the next call starts the rest", extra={"wave": event.wave})
            break
        requests = _prepare(groups[index], at_or_before, run.snapshot)
        try:
            job = drs.start_recovery(
                requests, run.is_drill, job_tags(run.plan, run.run_id, event.wave, index)
            )
        except DrsRefused as refused:
            if refused.code != "ServiceQuotaExceededException":
                raise
            logger.info("DRS job quota reached: wave queued", extra={"wave": event.wave, "chunk": index})
            break
        started[index] = job
        requested = iso(now())
        for server in groups[index]:
            record_fields[f"servers.{server.source_server_id}"] = {
                "name": server.name,
                "wave": event.wave,
                "launchRequestedAt": requested,
            }

    job_ids = [started[index]["jobID"] for index in sorted(started)]
    queued = sum(len(group) for index, group in enumerate(groups) if index not in started)
    # The launch timeout runs from the wave's last job start: time spent queued for quota is not DRS's.
    created = [parse_time(job.get("creationDateTime")) for job in started.values()]
    requested_at = iso(max((c for c in created if c is not None), default=now()))
    wave_record: dict[str, Any] = {
        "name": wave.name,
        "jobIds": job_ids,
        "launchRequestedAt": requested_at,
        "queuedServers": queued,
    }
    if queued:
        # A wave does not wait for room forever: the plan's launch timeout bounds the queueing too.
        previous = (run.record().waves or {}).get(f"w{event.wave}", {})
        since = parse_time(previous.get("queuedSince")) or now()
        wave_record["queuedSince"] = iso(since)
        if now() - since > timedelta(minutes=plan.timing.launch_timeout_minutes):
            run.update_record({**record_fields, f"waves.w{event.wave}": wave_record})
            raise LaunchFailed(
                f"wave {wave.name}: {queued} servers waited longer than timing.launch_timeout_minutes "
                f"({plan.timing.launch_timeout_minutes}) for room under the DRS job quotas"
            )
    record_fields[f"waves.w{event.wave}"] = wave_record
    run.update_record(record_fields)
    if queued:
        logger.info("wave queued", extra={"wave": event.wave, "queued_servers": queued, "jobs": len(job_ids)})
    return WaveStart(
        status=done_or_pending(not queued),
        wave=event.wave,
        job_ids=job_ids,
        queued_servers=queued,
        requested_at=requested_at,
    )


def _prepare(servers: list[Server], at_or_before: datetime | None, snapshot: str) -> list[dict[str, str]]:
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
