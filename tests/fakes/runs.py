"""One running run of a plan, opened in a state store as begin_run opens it: the start of most domain
service tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.domain.records import RunRecord
from lambdas.domain.runs import RunStore

STARTED = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
RUN_ID = "run-1"
RUN_SK = f"RUN#2026-03-01T11:00:00.000Z#{RUN_ID}"


def execution_arn(workflow: str, run_id: str = RUN_ID) -> str:
    return f"arn:aws:states:us-east-1:111111111111:execution:dr-{workflow}:{run_id}"


def open_run(store: RunStore, plan: str, workflow: str = "drill", **fields: Any) -> RunRecord:
    """A RUNNING record with RUN_SK, started at STARTED, with the given fields too."""
    record = RunRecord(
        sk=RUN_SK,
        run_id=RUN_ID,
        plan=plan,
        workflow=workflow,
        execution_arn=execution_arn(workflow),
        status="RUNNING",
        started_at="2026-03-01T11:00:00.000Z",
        **fields,
    )
    assert store.open_run(record)
    return record
