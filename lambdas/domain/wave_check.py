"""Check one wave's launch: read its servers' progress from the wave's DRS jobs, record each server's
launch (recovery and EC2 instance, snapshot time) or failure once, and fail the wave when a critical server
failed or the launch took longer than `timing.launch_timeout_minutes` from the wave's request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from lambdas.domain.measure import iso, parse_time
from lambdas.domain.records import RunRecord
from lambdas.domain.waves import WaveProgress, wave_of, wave_progress
from lambdas.errors import LaunchFailed
from lambdas.plan import Plan
from lambdas.progress import WaveLaunch, done_or_pending


class Drs(Protocol):
    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]: ...

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...


class RunStore(Protocol):
    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CheckPorts:
    drs: Drs
    store: RunStore
    clock: Callable[[], datetime]  # wall time: what the run record says, and the launch timeout


@dataclass(frozen=True)
class CheckRun:
    plan: Plan
    run_sk: str
    started_at: datetime  # the timeout's start when the wave's request time is unreadable
    is_drill: bool


def check_wave(
    run: CheckRun, index: int, job_ids: list[str], requested_at: str, ports: CheckPorts
) -> WaveLaunch:
    """DONE once every server of the wave launched or an optional one failed; PENDING while some launch."""
    plan = run.plan
    wave = wave_of(plan, index)
    progress = wave_progress(wave, ports.drs.jobs(job_ids))
    fields = _record_fields(run, progress, ports)
    if fields:
        ports.store.update_run(plan.name, run.run_sk, fields)

    requested = parse_time(requested_at) or run.started_at
    timed_out = ports.clock() - requested > timedelta(minutes=plan.timing.launch_timeout_minutes)
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


def _record_fields(run: CheckRun, progress: WaveProgress, ports: CheckPorts) -> dict[str, Any]:
    """The run record's fields for servers whose launch or failure it does not hold yet: a server's
    recovery instances are looked up once, when its launch is first seen."""
    record = ports.store.run_record(run.plan.name, run.run_sk).servers or {}
    seen = iso(ports.clock())
    fields: dict[str, Any] = {}
    new_ids = [sid for sid in progress.launched if not (sid in record and record[sid].recovery_instance_id)]
    if new_ids:
        instances = {
            ri["sourceServerID"]: ri for ri in ports.drs.recovery_instances(new_ids, drill=run.is_drill)
        }
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
    return fields
