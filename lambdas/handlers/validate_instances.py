"""Validate recovered instances: EC2 running with both status checks passing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lambdas.adapters import ec2
from lambdas.domain.measure import parse_time
from lambdas.errors import ValidationFailed
from lambdas.handlers.common import RunTask, iso, now, task
from lambdas.progress import Validation


class ValidateInput(RunTask, frozen=True):
    first_checked_at: str | None = None


@task(ValidateInput)
def handler(event: ValidateInput) -> Validation:
    run = event.run
    plan = run.load_plan()
    servers = run.record().servers or {}
    launched = {sid: s.ec2_instance_id for sid, s in servers.items() if s.ec2_instance_id}
    health = ec2.instance_health(list(launched.values()))
    checked = iso(now())
    fields: dict[str, Any] = {}
    waiting = []
    for sid, instance_id in launched.items():
        status = health.get(instance_id, {})
        ok = (
            status.get("state") == "running"
            and status.get("system") == "ok"
            and status.get("instance") == "ok"
        )
        if ok and not servers[sid].healthy_at:
            fields[f"servers.{sid}.healthyAt"] = checked
        if not ok:
            waiting.append(servers[sid].name or sid)
    if fields:
        run.update_record(fields)
    first = event.first_checked_at or checked
    if waiting:
        started = parse_time(first) or now()
        if now() - started > timedelta(minutes=plan.timing.validation_timeout_minutes):
            raise ValidationFailed(
                f"status checks not passing after timing.validation_timeout_minutes "
                f"({plan.timing.validation_timeout_minutes}): {', '.join(sorted(waiting)[:20])}"
            )
        return Validation(status="PENDING", waiting=len(waiting), first_checked_at=first)
    return Validation(status="DONE", healthy=len(launched), first_checked_at=first)
