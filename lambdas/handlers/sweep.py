"""The sweep, run by the replication monitor: runs whose execution ended without closing them are closed
ABORTED, and drill instances left by ended drills are terminated (lambdas/domain/sweep.py)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import drs, executions, notify, state_store
from lambdas.domain import sweep
from lambdas.handlers.common import logger, now


def ended_without_closing(plan: str) -> list[str]:
    """Close the plan's runs still marked RUNNING whose execution has ended; returns their run ids."""
    return sweep.ended_without_closing(plan, ports())


def drill_instances_left(plan: str, source_server_ids: list[str]) -> list[str]:
    """Terminate the drill instances left by ended drills of the plan; returns those terminated."""
    return sweep.drill_instances_left(plan, source_server_ids, ports())


def ports() -> sweep.SweepPorts:
    return sweep.SweepPorts(
        store=state_store.store(),
        executions=executions,
        drs=drs,
        publish=notify.publish,
        clear_failback_credentials=_clear_failback_credentials,
        log=logger,
        now=now,
    )


def _clear_failback_credentials(servers: dict[str, Any]) -> dict[str, Any]:
    # Imported for a stopped failback only: the replication monitor loads the failback handler no other time.
    from lambdas.adapters import azure_vms
    from lambdas.domain.failback_service import clear_failback_credentials

    return clear_failback_credentials(servers, azure_vms, now)
