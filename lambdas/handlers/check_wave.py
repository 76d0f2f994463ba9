"""Check one wave's launch (lambdas/domain/wave_check.py): record each server's launch as it happens; fail
the wave on a critical server's failure or the launch timeout."""

from __future__ import annotations

from lambdas.adapters import drs, state_store
from lambdas.domain.wave_check import CheckPorts, CheckRun, check_wave
from lambdas.handlers.common import RunTask, now, task
from lambdas.progress import WaveLaunch


class CheckWaveInput(RunTask, frozen=True):
    wave: int
    job_ids: list[str]
    requested_at: str


@task(CheckWaveInput)
def handler(event: CheckWaveInput) -> WaveLaunch:
    run = event.run
    ports = CheckPorts(drs=drs, store=state_store.store(), clock=now)
    check = CheckRun(run.load_plan(), run.run_sk, run.started_at, run.is_drill)
    return check_wave(check, event.wave, event.job_ids, event.requested_at, ports)
