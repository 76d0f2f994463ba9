"""Preflight: replication healthy, lag under the plan's threshold, no server in an active DRS job, DRS job
quota headroom (lambdas/domain/preflight_gate.py, with the checks of lambdas/domain/preflight.py)."""

from __future__ import annotations

from typing import Any

from lambdas import ownership
from lambdas.adapters import drs, service_quotas, state_store
from lambdas.domain.preflight_gate import PreflightPorts, PreflightRun, verify
from lambdas.handlers.common import RunTask, logger, task


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    ports = PreflightPorts(
        drs=drs,
        quotas=service_quotas.drs_quotas_in_force,
        store=state_store.store(),
        log=logger,
        owner=ownership.stack_name(),
    )
    return verify(PreflightRun(run.load_plan(), run.run_sk, run.workflow == "recovery"), ports)
