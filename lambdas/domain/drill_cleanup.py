"""Terminate drill instances: after every drill, also one that failed at any point after launch.

Every drill recovery instance of the plan's source servers is terminated, not just the ones this run
recorded: a launch whose Lambda died before recording it must not leave an instance running. A source
server belongs to one plan only (checked at synth), so no other plan's drill is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from lambdas.domain.measure import iso
from lambdas.errors import CleanupIncomplete
from lambdas.plan import Plan
from lambdas.progress import Cleanup


class Drs(Protocol):
    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]: ...


class RunStore(Protocol):
    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CleanupPorts:
    drs: Drs
    store: RunStore
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class DrillRun:
    plan: Plan
    run_sk: str
    started_at: datetime


def _drill_instances(run: DrillRun, ports: CleanupPorts) -> list[dict[str, Any]]:
    return ports.drs.recovery_instances([s.source_server_id for s in run.plan.servers()], drill=True)


def terminate(run: DrillRun, ports: CleanupPorts) -> dict[str, Any]:
    """Start terminating every drill instance of the plan's servers; record what was asked."""
    ids = [ri["recoveryInstanceID"] for ri in _drill_instances(run, ports)]
    job_ids = ports.drs.terminate_recovery_instances(ids) if ids else []
    cleanup = {"requestedAt": iso(ports.clock()), "recoveryInstanceIds": ids, "jobIds": job_ids}
    ports.store.update_run(run.plan.name, run.run_sk, {"cleanup": cleanup})
    return {"terminating": len(ids), "job_ids": job_ids}


def check(run: DrillRun, ports: CleanupPorts) -> Cleanup:
    """DONE once no drill instance is left; after twice the launch timeout from the run's start, the run
    fails naming what the operator must terminate."""
    plan = run.plan
    remaining = _drill_instances(run, ports)
    if remaining:
        if ports.clock() - run.started_at > timedelta(minutes=plan.timing.launch_timeout_minutes * 2):
            raise CleanupIncomplete(
                f"{len(remaining)} drill instances still not terminated: check DRS recovery instances "
                f"of plan {plan.name} and terminate them"
            )
        return Cleanup(status="PENDING", remaining=len(remaining))
    ports.store.update_run(plan.name, run.run_sk, {"cleanup.completedAt": iso(ports.clock())})
    return Cleanup(status="DONE", remaining=0)
