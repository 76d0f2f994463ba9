"""Return to normal: replication Azure -> AWS comes back by itself, then the recovery instances go.

Each task parses its input and runs one step of lambdas/domain/return_to_normal.py with the adapters as its
ports (replication_agents.py installs the agents on VMs failback created)."""

from __future__ import annotations

import os
from typing import Any

from lambdas.adapters import azure_vms, drs, state_store, sts
from lambdas.domain import return_to_normal
from lambdas.domain.return_to_normal_ports import ReturnToNormalPorts, ReturnToNormalRun
from lambdas.handlers.common import RunContext, RunTask, logger, now, task
from lambdas.progress import Replication


def ports() -> ReturnToNormalPorts:
    return ReturnToNormalPorts(
        drs=drs, vms=azure_vms, sts=sts, store=state_store.store(), log=logger, env=os.environ, clock=now
    )


def run_of(run: RunContext) -> ReturnToNormalRun:
    return ReturnToNormalRun(run.load_plan(), run.run_id, run.run_sk, run.started_at)


@task(RunTask)
def handler(event: RunTask) -> dict[str, Any]:
    """Record where replication stands; stop a pairing a failback left behind; start STOPPED servers."""
    return return_to_normal.restore(run_of(event.run), ports())


@task(RunTask)
def check_handler(event: RunTask) -> Replication:
    """PENDING until every source server is CONTINUOUS and then every recovery instance is terminated."""
    return return_to_normal.check(run_of(event.run), ports())
