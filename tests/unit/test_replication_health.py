"""A plan's replication health (lambdas/domain/replication_health.py) from DRS's source servers."""

from __future__ import annotations

from typing import Any

from lambdas.domain.replication_health import replication_health
from lambdas.plan import parse_plan


def source(server_id: str, state: str, lag: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"dataReplicationState": state}
    if lag is not None:
        info["lagDuration"] = lag
    return {"sourceServerID": server_id, "dataReplicationInfo": info}


def test_states_lags_and_the_figures_of_the_dashboard(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    ids = [s.source_server_id for s in plan.servers()]
    found = [
        source(ids[0], "CONTINUOUS", "PT2S"),
        source(ids[1], "STALLED", "PT1M30S"),
        source(ids[2], "INITIAL_SYNC", None),
    ]
    health = replication_health(plan, found)  # the fourth server DRS does not report

    assert health["servers"] == {
        ids[0]: {"state": "CONTINUOUS", "lagSeconds": 2.0},
        ids[1]: {"state": "STALLED", "lagSeconds": 90.0},
        ids[2]: {"state": "INITIAL_SYNC", "lagSeconds": None},
    }
    assert health["maxLagSeconds"] == 90.0
    assert health["notContinuous"] == 3  # stalled, syncing, and the one DRS does not know
    assert health["stalled"] == 1


def test_no_lag_reported_gives_no_maximum(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    found = [source(s.source_server_id, "CONTINUOUS", None) for s in plan.servers()]
    health = replication_health(plan, found)
    assert health["maxLagSeconds"] is None and health["notContinuous"] == 0 and health["stalled"] == 0
