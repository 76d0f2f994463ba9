"""Validation of recovered instances: EC2 running with both status checks passing, within the plan's
timing.validation_timeout_minutes of the first check. (lambdas/validation.py is the parsing of inputs.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lambdas.domain.measure import iso, parse_time
from lambdas.domain.records import ServerRecord
from lambdas.errors import ValidationFailed
from lambdas.progress import Validation


@dataclass(frozen=True)
class HealthPorts:
    # EC2 instance id -> {"state", "system", "instance"} as DescribeInstanceStatus reports them.
    instance_health: Callable[[list[str]], dict[str, dict[str, str]]]
    update_record: Callable[[dict[str, Any]], None]  # fields of the run record to set
    now: Callable[[], datetime]


def passing(status: dict[str, str]) -> bool:
    return (
        status.get("state") == "running" and status.get("system") == "ok" and status.get("instance") == "ok"
    )


def validate(
    servers: dict[str, ServerRecord], timeout_minutes: int, first_checked_at: str | None, ports: HealthPorts
) -> Validation:
    """Check the launched instances; each passing for the first time gets its healthyAt. PENDING while some
    are not passing, ValidationFailed once that has lasted longer than timeout_minutes."""
    launched = {sid: s.ec2_instance_id for sid, s in servers.items() if s.ec2_instance_id}
    health = ports.instance_health(list(launched.values()))
    checked = iso(ports.now())
    fields: dict[str, Any] = {}
    waiting = []
    for sid, instance_id in launched.items():
        ok = passing(health.get(instance_id, {}))
        if ok and not servers[sid].healthy_at:
            fields[f"servers.{sid}.healthyAt"] = checked
        if not ok:
            waiting.append(servers[sid].name or sid)
    if fields:
        ports.update_record(fields)
    first = first_checked_at or checked
    if waiting:
        started = parse_time(first) or ports.now()
        if ports.now() - started > timedelta(minutes=timeout_minutes):
            raise ValidationFailed(
                f"status checks not passing after timing.validation_timeout_minutes "
                f"({timeout_minutes}): {', '.join(sorted(waiting)[:20])}"
            )
        return Validation(status="PENDING", waiting=len(waiting), first_checked_at=first)
    return Validation(status="DONE", healthy=len(launched), first_checked_at=first)
