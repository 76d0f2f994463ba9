"""Failback from AWS to the plan's Azure VMs through the DRS Failback Client: the workflow's tasks.

Each parses its input and runs one step of lambdas/domain/failback_preflight.py or failback_service.py
with the adapters as its ports. Every step converges: retried, stopped or failed runs resume from the VMs'
real state and the layout recorded before the first change."""

from __future__ import annotations

import os
from typing import Any, Literal

from lambdas.adapters import azure_network, azure_vms, drs, ec2, state_store, sts
from lambdas.domain import failback_preflight, failback_service
from lambdas.domain.failback_ports import FailbackPorts, FailbackRun
from lambdas.handlers.common import RunContext, RunTask, logger, now, task
from lambdas.progress import Converging, FailbackState


def ports() -> FailbackPorts:
    return FailbackPorts(
        drs=drs,
        vms=azure_vms,
        network=azure_network,
        ec2=ec2,
        sts=sts,
        store=state_store.store(),
        log=logger,
        env=os.environ,
        clock=now,
    )


def _run(run: RunContext) -> FailbackRun:
    return FailbackRun(run.load_plan(), run.run_id, run.run_sk, run.started_at)


@task(RunTask)
def prepare_handler(event: RunTask) -> dict[str, Any]:
    """Check every VM can fail back and record its disk layout; changes nothing in Azure."""
    return failback_preflight.prepare(_run(event.run), ports())


@task(RunTask)
def boot_clients_handler(event: RunTask) -> Converging:
    """Boot the failback client on every VM; PENDING until every VM runs it."""
    return failback_service.boot_clients(_run(event.run), ports())


class ReadyInput(RunTask, frozen=True):
    want: Literal["READY_FOR_LAUNCH", "COMPLETED"]


@task(ReadyInput)
def check_handler(event: ReadyInput) -> FailbackState:
    """DRS failback state of every recovery instance; tends the clients while they pair."""
    return failback_service.check(_run(event.run), ports(), event.want)


@task(RunTask)
def launch_handler(event: RunTask) -> dict[str, Any]:
    return failback_service.launch(_run(event.run), ports())


@task(RunTask)
def restore_handler(event: RunTask) -> Converging:
    """Give every VM its own OS disk back; PENDING until every VM runs its own OS again."""
    return failback_service.restore(_run(event.run), ports())


@task(RunTask)
def clear_credentials_handler(event: RunTask) -> dict[str, Any]:
    """After a failure: no failback document (credentials) stays in any VM's userData."""
    outcome = failback_service.clear_credentials(_run(event.run), ports())
    return {"cleared": outcome["cleared"], "failed": outcome["failed"]}
