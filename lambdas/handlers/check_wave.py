"""Read a wave's launch progress from its DRS jobs; record each server's launch as it happens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lambdas.adapters import drs
from lambdas.domain.measure import parse_time
from lambdas.domain.waves import wave_of, wave_progress
from lambdas.errors import LaunchFailed
from lambdas.handlers.common import RunTask, iso, now, task
from lambdas.progress import WaveLaunch, done_or_pending


class CheckWaveInput(RunTask, frozen=True):
    wave: int
    job_ids: list[str]
    requested_at: str


@task(CheckWaveInput)
def handler(event: CheckWaveInput) -> WaveLaunch:
    run = event.run
    plan = run.load_plan()
    wave = wave_of(plan, event.wave)
    progress = wave_progress(wave, drs.jobs(event.job_ids))
    record = run.record().servers or {}
    seen = iso(now())
    fields: dict[str, Any] = {}
    new_ids = [sid for sid in progress.launched if not (sid in record and record[sid].recovery_instance_id)]
    if new_ids:
        instances = {ri["sourceServerID"]: ri for ri in drs.recovery_instances(new_ids, drill=run.is_drill)}
        for sid in new_ids:
            instance = instances.get(sid, {})
            fields[f"servers.{sid}.recoveryInstanceId"] = progress.launched[sid]
            fields[f"servers.{sid}.ec2InstanceId"] = instance.get("ec2InstanceID")
            fields[f"servers.{sid}.snapshotAt"] = instance.get("pointInTimeSnapshotDateTime")
            fields[f"servers.{sid}.launchedAt"] = seen
    for sid in progress.failed:
        if not (sid in record and record[sid].launch_failed):
            fields[f"servers.{sid}.launchFailed"] = True
            fields[f"servers.{sid}.launchFailedAt"] = seen
    if fields:
        run.update_record(fields)

    requested = parse_time(event.requested_at) or run.started_at
    timed_out = now() - requested > timedelta(minutes=plan.timing.launch_timeout_minutes)
    if progress.status == "FAILED":
        names = [plan.server_by_source_id(sid).name for sid in progress.critical_failed]
        raise LaunchFailed(f"wave {wave.name}: critical servers failed to launch: {', '.join(names)}")
    if progress.status == "IN_PROGRESS" and timed_out:
        names = [plan.server_by_source_id(sid).name for sid in progress.pending]
        raise LaunchFailed(
            f"wave {wave.name}: not launched within timing.launch_timeout_minutes "
            f"({plan.timing.launch_timeout_minutes}): {', '.join(names[:20])}"
        )
    # FAILED raised above: what is left is IN_PROGRESS or COMPLETED.
    return WaveLaunch(
        status=done_or_pending(progress.status == "COMPLETED"),
        launched=len(progress.launched),
        failed=len(progress.failed),
        pending=len(progress.pending),
        settled=len(progress.launched) + len(progress.failed),
    )
