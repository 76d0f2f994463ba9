"""Point the plan's DNS record at AWS (after failover) or back at Azure (after failback):
lambdas/domain/traffic.py."""

from __future__ import annotations

from typing import Any, Literal

from lambdas.adapters import drs, ec2, route53, state_store
from lambdas.domain import traffic
from lambdas.handlers.common import RunTask, now, task


class SwitchInput(RunTask, frozen=True):
    to: Literal["aws", "azure"]


@task(SwitchInput)
def handler(event: SwitchInput) -> dict[str, Any]:
    run = event.run
    ports = traffic.TrafficPorts(drs=drs, ec2=ec2, dns=route53, store=state_store.store(), clock=now)
    switching = traffic.TrafficRun(run.load_plan(), run.run_id, run.run_sk, run.workflow)
    return traffic.switch(switching, event.to, ports)
