"""The approval gate (lambdas/domain/approval.py) against the in-memory state store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.domain import approval
from lambdas.plan import parse_plan
from tests.fakes.runs import RUN_SK, execution_arn, open_run
from tests.fakes.state_store import InMemoryStateStore

ARN = execution_arn("recovery")


def test_the_token_is_parked_for_drctl_the_run_records_the_terms_and_on_call_is_asked(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = parse_plan(sample_plan_document)
    store = InMemoryStateStore()
    open_run(store, plan.name, "recovery")
    published: list[tuple[str, dict[str, Any]]] = []
    ports = approval.ApprovalPorts(
        store=store,
        publish=lambda subject, message: published.append((subject, message)),
        clock=lambda: datetime(2026, 3, 1, 11, 2, tzinfo=UTC),
    )

    assert approval.request(approval.ApprovalRun(plan, RUN_SK, ARN), "token-1", ports) == {"requested": True}

    assert store.plan_state(plan.name).pending_approval == {
        "taskToken": "token-1",
        "executionArn": ARN,
        "since": "2026-03-01T11:02:00.000Z",
    }
    assert store.run_record(plan.name, RUN_SK).approval == {
        "requestedAt": "2026-03-01T11:02:00.000Z",
        "timeoutMinutes": plan.approval.timeout_minutes,
        "onTimeout": plan.approval.on_timeout,
    }
    [(subject, message)] = published
    assert subject == "[DR] approval needed: failover of shop"
    assert message["action"] == "drctl approve --plan shop   (or: drctl abort --plan shop)"
    assert message["execution"] == ARN and "token-1" not in str(message)  # the token is not broadcast
