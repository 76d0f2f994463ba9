from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import drs_calls, event, run, run_record

pytestmark = pytest.mark.integration


def newest_snapshot_at_or_before(cloud: LocalCloud, source_server_id: str, moment: datetime) -> str:
    items = cloud.client("drs").describe_recovery_snapshots(sourceServerID=source_server_id, order="DESC")[
        "items"
    ]
    times = [datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00")) for s in items]
    return max(t for t in times if t <= moment).isoformat()


def test_drill_from_the_newest_snapshot_at_or_before_a_time(cloud: LocalCloud, plan: Plan) -> None:
    requested = datetime.now(UTC) - timedelta(minutes=25)
    document = {**event("drill-point-in-time.json"), "snapshot": requested.isoformat()}
    result = run(cloud, "drill", document)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    record = run_record(plan, result["executionArn"])
    for source_server_id, server in record["servers"].items():
        used = datetime.fromisoformat(server["snapshotAt"].replace("Z", "+00:00"))
        assert used <= requested
        assert used.isoformat() == newest_snapshot_at_or_before(cloud, source_server_id, requested)
    # RPO is measured against the snapshot actually used: at least 25 minutes here.
    assert record["measurements"]["rpo_seconds"] >= 25 * 60
    assert record["measurements"]["rpo_met"] is False  # the plan's target is 15 minutes


def test_a_time_before_every_snapshot_is_refused_before_launch(cloud: LocalCloud, plan: Plan) -> None:
    document = {
        **event("drill-point-in-time.json"),
        "snapshot": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
    }
    result = run(cloud, "drill", document)
    assert result["status"] == "FAILED" and result["error"] == "LaunchFailed"
    assert "shop-db-1: no PIT snapshot at or before" in result["cause"]
    assert drs_calls(cloud, "StartRecovery") == []
