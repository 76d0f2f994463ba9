"""Point the plan's DNS record at AWS (after failover) or back at Azure (after failback). Route 53's UPSERT
is idempotent, so a retried switch is harmless; the record's previous value goes into the run record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from lambdas.domain.measure import iso
from lambdas.errors import ValidationFailed
from lambdas.plan import Plan


class Drs(Protocol):
    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]: ...


class Ec2(Protocol):
    def private_ips(self, instance_ids: list[str]) -> dict[str, str]: ...


class Dns(Protocol):
    def current_value(self, hosted_zone_id: str, record_name: str, record_type: str) -> str | None: ...

    def upsert(
        self, hosted_zone_id: str, record_name: str, record_type: str, value: str, ttl: int, comment: str
    ) -> str: ...


class RunStore(Protocol):
    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class TrafficPorts:
    drs: Drs
    ec2: Ec2
    dns: Dns
    store: RunStore
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class TrafficRun:
    plan: Plan
    run_id: str
    run_sk: str
    workflow: str


def switch(run: TrafficRun, to: Literal["aws", "azure"], ports: TrafficPorts) -> dict[str, Any]:
    plan = run.plan
    traffic = plan.traffic
    if traffic is None:
        return {"switched": False, "reason": "plan has no traffic section"}
    if to == "azure":
        value = traffic.azure_value
    elif traffic.aws_value is not None:
        value = traffic.aws_value
    else:
        value = _recovery_instance_ip(plan, traffic.aws_server, ports)
    previous = ports.dns.current_value(traffic.hosted_zone_id, traffic.record_name, traffic.record_type)
    change = ports.dns.upsert(
        traffic.hosted_zone_id,
        traffic.record_name,
        traffic.record_type,
        value,
        traffic.ttl_seconds,
        f"dr-orchestrator {run.workflow} {run.run_id}",
    )
    ports.store.update_run(
        plan.name,
        run.run_sk,
        {
            "traffic": {
                "to": to,
                "record": traffic.record_name,
                "from": previous,
                "value": value,
                "changeId": change,
                "at": iso(ports.clock()),
            }
        },
    )
    return {"switched": True, "to": to, "value": value}


def _recovery_instance_ip(plan: Plan, server_name: str | None, ports: TrafficPorts) -> str:
    """traffic.aws_server: the private IP of that server's recovery instance."""
    server = next(s for s in plan.servers() if s.name == server_name)
    instances = ports.drs.recovery_instances([server.source_server_id], drill=False)
    ips = ports.ec2.private_ips([ri["ec2InstanceID"] for ri in instances if ri.get("ec2InstanceID")])
    if not ips:
        raise ValidationFailed(
            f"traffic.aws_server {server.name} has no running recovery instance with an IP"
        )
    return sorted(ips.values())[0]
