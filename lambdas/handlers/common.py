"""What every task handler shares: logging, input parsing, and the run context passed between tasks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics

from lambdas.adapters import state_store
from lambdas.clock import iso as iso  # every handler's clock (re-exported)
from lambdas.clock import now as now
from lambdas.domain.records import RunRecord
from lambdas.errors import InvalidInput
from lambdas.plan import Plan, plan_catalog
from lambdas.progress import TaskProgress
from lambdas.validation import StrictModel, parse_input, to_document

logger = Logger(service="dr-orchestrator")


def new_metrics() -> EphemeralMetrics:
    """A metrics batch of its own: Powertools' Metrics shares one set of dimensions between every instance,
    so two emissions in flight (one per plan, or a task and the replication monitor) would mix theirs."""
    return EphemeralMetrics(namespace="DrOrchestrator", service="dr-orchestrator")


M = TypeVar("M", bound=StrictModel)


class TaskInput(StrictModel, frozen=True):
    """A task's input: unknown fields are errors."""


class RunContext(TaskInput, frozen=True):
    """Made by begin_run, handed to every later task of the execution."""

    plan: str
    workflow: str
    run_id: str
    execution_arn: str
    started_at: datetime
    run_sk: str
    trigger: str
    snapshot: str
    is_drill: bool
    poll_seconds: int
    fallback_poll_seconds: int
    wave_count: int
    approval_required: bool
    approval_timeout_seconds: int
    approval_on_timeout: str

    def load_plan(self) -> Plan:
        return load_plan(self.plan)

    def record(self) -> RunRecord:
        return state_store.run_record(self.plan, self.run_sk)

    def update_record(self, fields: dict[str, Any]) -> None:
        state_store.store().update_run(self.plan, self.run_sk, fields)


class RunTask(TaskInput, frozen=True):
    run: RunContext


def load_plan(name: str) -> Plan:
    catalog = plan_catalog()
    if name not in catalog:
        raise InvalidInput(f"plan: unknown plan '{name}'; this stack has: {', '.join(sorted(catalog))}")
    return catalog[name]


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def task(model: type[M]) -> Callable[[Callable[[M], dict[str, Any] | TaskProgress]], Handler]:
    """Turn `fn(parsed_input) -> dict | TaskProgress` into a Lambda handler with structured logging."""

    def decorate(fn: Callable[[M], dict[str, Any] | TaskProgress]) -> Handler:
        @functools.wraps(fn)
        @logger.inject_lambda_context(log_event=False, clear_state=True)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            parsed = parse_input(model, event, f"{fn.__module__.rsplit('.', 1)[-1]} input")
            run = getattr(parsed, "run", None)
            if isinstance(run, RunContext):
                logger.append_keys(plan=run.plan, workflow=run.workflow, run_id=run.run_id)
            answer = fn(parsed)
            result: dict[str, Any] = to_document(answer) if isinstance(answer, TaskProgress) else answer
            logger.info("task done", extra={"result": result})
            return result

        return handler

    return decorate
