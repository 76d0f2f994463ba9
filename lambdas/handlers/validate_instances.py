"""Validate recovered instances: EC2 running with both status checks passing
(lambdas/domain/health_checks.py)."""

from __future__ import annotations

from lambdas.adapters import ec2
from lambdas.domain import health_checks
from lambdas.handlers.common import RunTask, now, task
from lambdas.progress import Validation


class ValidateInput(RunTask, frozen=True):
    first_checked_at: str | None = None


@task(ValidateInput)
def handler(event: ValidateInput) -> Validation:
    run = event.run
    plan = run.load_plan()
    ports = health_checks.HealthPorts(
        instance_health=ec2.instance_health, update_record=run.update_record, now=now
    )
    return health_checks.validate(
        run.record().servers or {}, plan.timing.validation_timeout_minutes, event.first_checked_at, ports
    )
