"""Before an alarm-started recovery fails production over, ask Azure whether the source VMs are really down
(lambdas/domain/source_vms.confirm_outage): if all are up, the run ends with OutageNotConfirmed."""

from __future__ import annotations

import time
from typing import Any

from lambdas.adapters import azure_compute, state_store
from lambdas.domain import source_vms
from lambdas.handlers.common import RunContext, RunTask, logger, now, task


def ports() -> source_vms.SourcePorts:
    """The adapters, with a circuit of its own for this invocation's Azure calls."""
    return source_vms.SourcePorts(
        azure=azure_compute.SourcePower(),
        store=state_store.store(),
        log=logger,
        clock=now,
        monotonic=time.monotonic,
    )


def run_of(run: RunContext) -> source_vms.SourceRun:
    return source_vms.SourceRun(run.load_plan(), run.run_sk, run.workflow, run.trigger, run.execution_arn)


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    return source_vms.confirm_outage(run_of(event.run), ports())
