"""Terminate the drill's instances and check they are gone: lambdas/domain/drill_cleanup.py."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import drs, state_store
from lambdas.domain import drill_cleanup
from lambdas.domain.drill_cleanup import CleanupPorts, DrillRun
from lambdas.handlers.common import RunContext, RunTask, now, task
from lambdas.progress import Cleanup


def _run(run: RunContext) -> DrillRun:
    return DrillRun(run.load_plan(), run.run_sk, run.started_at)


def _ports() -> CleanupPorts:
    return CleanupPorts(drs=drs, store=state_store.store(), clock=now)


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    return drill_cleanup.terminate(_run(event.run), _ports())


@task(RunTask)
def check_handler(event: RunTask) -> Cleanup:
    return drill_cleanup.check(_run(event.run), _ports())
