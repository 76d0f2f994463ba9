"""Point the plan's DNS record at AWS (after failover) or back at Azure (after failback)."""

from __future__ import annotations

from typing import Any, Literal

from lambdas.adapters import drs, ec2, route53
from lambdas.errors import ValidationFailed
from lambdas.handlers.common import RunTask, iso, now, task


class SwitchInput(RunTask, frozen=True):
    to: Literal["aws", "azure"]


@task(SwitchInput)
def handler(event: SwitchInput) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    traffic = plan.traffic
    if traffic is None:
        return {"switched": False, "reason": "plan has no traffic section"}
    if event.to == "azure":
        value = traffic.azure_value
    elif traffic.aws_value is not None:
        value = traffic.aws_value
    else:
        server = next(s for s in plan.servers() if s.name == traffic.aws_server)
        instances = drs.recovery_instances([server.source_server_id], drill=False)
        ips = ec2.private_ips([ri["ec2InstanceID"] for ri in instances if ri.get("ec2InstanceID")])
        if not ips:
            raise ValidationFailed(
                f"traffic.aws_server {server.name} has no running recovery instance with an IP"
            )
        value = sorted(ips.values())[0]
    previous = route53.current_value(traffic.hosted_zone_id, traffic.record_name, traffic.record_type)
    change = route53.upsert(
        traffic.hosted_zone_id,
        traffic.record_name,
        traffic.record_type,
        value,
        traffic.ttl_seconds,
        f"dr-orchestrator {run.workflow} {run.run_id}",
    )
    run.update_record(
        {
            "traffic": {
                "to": event.to,
                "record": traffic.record_name,
                "from": previous,
                "value": value,
                "changeId": change,
                "at": iso(now()),
            }
        }
    )
    return {"switched": True, "to": event.to, "value": value}
