"""Return to normal for servers that failed back to a NEW VM (azure.failback.target "new"): a new AWS
Replication Agent through Azure Run Command (lambdas/domain/return_to_normal.install_agents)."""

from __future__ import annotations

from typing import Any

from lambdas.domain import return_to_normal
from lambdas.handlers.common import RunTask, task
from lambdas.handlers.restore_replication import ports, run_of


@task(RunTask)
def install_handler(event: RunTask) -> dict[str, Any]:
    """Install the AWS Replication Agent on every new VM that has none registered yet in this run."""
    return return_to_normal.install_agents(run_of(event.run), ports())
