"""Fence the Azure source before failover, best effort: deallocate the source VMs so two copies never serve
at once (lambdas/domain/source_vms.fence). Servers Azure did not fence are named in the run record."""

from __future__ import annotations

from typing import Any

from lambdas.domain import source_vms
from lambdas.handlers.common import RunTask, task
from lambdas.handlers.confirm_outage import ports, run_of


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    return source_vms.fence(run_of(event.run), ports())
