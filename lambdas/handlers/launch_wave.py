"""Launch one wave: one DRS job per 200 servers, from the latest PIT snapshot or the newest one at or
before the requested time. Safe to retry: jobs this run already started for the wave are found by tag."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import drs
from lambdas.domain.measure import parse_time
from lambdas.domain.waves import chunks, job_tags, jobs_already_started, wave_of
from lambdas.errors import LaunchFailed
from lambdas.handlers.common import RunTask, iso, logger, now, task


class LaunchWaveInput(RunTask, frozen=True):
    wave: int


@task(LaunchWaveInput)
def handler(event: LaunchWaveInput) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    wave = wave_of(plan, event.wave)
    started = jobs_already_started(drs.jobs_since(run.started_at), run.run_id, event.wave)
    at_or_before = parse_time(run.snapshot) if run.snapshot != "latest" else None

    job_ids: list[str] = []
    requested = iso(now())
    record_fields: dict[str, Any] = {}
    for server in wave.servers:
        record_fields[f"servers.{server.source_server_id}"] = {
            "name": server.name,
            "wave": event.wave,
            "launchRequestedAt": requested,
        }
    for chunk_index, servers in enumerate(chunks(wave.servers)):
        if chunk_index in started:
            logger.info("wave chunk already launched", extra={"wave": event.wave, "chunk": chunk_index})
            job_ids.append(started[chunk_index]["jobID"])
            continue
        requests = []
        for server in servers:
            overrides = server.launch_overrides.drs_fields()
            if overrides:
                drs.apply_launch_configuration(server.source_server_id, overrides)
            item = {"sourceServerID": server.source_server_id}
            if at_or_before is not None:
                snapshot = drs.latest_snapshot(server.source_server_id, at_or_before)
                if snapshot is None:
                    raise LaunchFailed(
                        f"{server.name}: no PIT snapshot at or before {run.snapshot}; "
                        "choose a later time or 'latest'"
                    )
                item["recoverySnapshotID"] = snapshot["snapshotID"]
            requests.append(item)
        job = drs.start_recovery(
            requests, run.is_drill, job_tags(run.plan, run.run_id, event.wave, chunk_index)
        )
        job_ids.append(job["jobID"])
    record_fields[f"waves.w{event.wave}"] = {
        "name": wave.name,
        "jobIds": job_ids,
        "launchRequestedAt": requested,
    }
    run.update_record(record_fields)
    return {"wave": event.wave, "job_ids": job_ids, "requested_at": requested}
