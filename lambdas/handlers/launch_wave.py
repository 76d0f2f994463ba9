"""Launch one wave of the run (lambdas/domain/wave_launch.py): the DRS jobs that have room under the
account's job quotas; PENDING while servers wait for room."""

from __future__ import annotations

import time

from lambdas.adapters import drs, service_quotas, state_store
from lambdas.domain.wave_launch import LaunchPorts, LaunchRun, launch_wave
from lambdas.handlers.common import RunTask, logger, now, task
from lambdas.progress import WaveStart


class LaunchWaveInput(RunTask, frozen=True):
    wave: int


@task(LaunchWaveInput)
def handler(event: LaunchWaveInput) -> WaveStart:
    run = event.run
    ports = LaunchPorts(
        drs=drs,
        quotas=lambda: service_quotas.drs_quotas_in_force().quotas,
        store=state_store.store(),
        log=logger,
        clock=now,
        monotonic=time.monotonic,
    )
    launch = LaunchRun(run.load_plan(), run.run_id, run.run_sk, run.started_at, run.is_drill, run.snapshot)
    return launch_wave(launch, event.wave, ports)
