"""Find a run record in the local cloud's state table (the demo and the integration tests follow runs with
it; the progress printer itself is drctl's, in drctl/progress.py)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import state_store


def find_run(plan: str, execution_arn: str) -> dict[str, Any] | None:
    """The run record as stored."""
    run = state_store.run_of_execution(state_store.query_runs(plan, limit=50), execution_arn)
    return run.to_document() if run is not None else None
