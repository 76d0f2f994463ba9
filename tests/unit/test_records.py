"""Typed records read and write the stored documents unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.domain.records import PlanState, RunRecord, ServerRecord

RUN: dict[str, Any] = {
    "pk": "PLAN#shop",
    "sk": "RUN#2026-01-01T00:00:00.000Z#run-1",
    "runId": "run-1",
    "plan": "shop",
    "workflow": "recovery",
    "executionArn": "arn:aws:states:us-east-1:1:execution:dr-recovery:run-1",
    "status": "RUNNING",
    "startedAt": "2026-01-01T00:00:00.000Z",
    "trigger": {"kind": "manual", "alarmName": None},
    "tookOverFrom": None,
    "servers": {
        "s-1": {"name": "web", "wave": 1, "recoveryInstanceId": "i-1", "healthyAt": "t", "laterField": 3},
        "s-2": {"name": "db", "ec2InstanceId": None},
    },
    "waves": {"w1": {"jobIds": ["drsjob-1"]}},
    "errors": [],
    "fencing": {"vm": {"fenced": True}},
    "aFieldOfALaterRelease": {"kept": [1, 2.5]},
}


def test_a_run_record_round_trips_the_stored_document() -> None:
    record = RunRecord.from_document(RUN)
    assert record.to_document() == RUN
    assert record.servers and record.servers["s-1"].healthy_at == "t"
    assert record.servers["s-2"].ec2_instance_id is None
    assert record.extra == {"pk": "PLAN#shop", "aFieldOfALaterRelease": {"kept": [1, 2.5]}}


def test_absent_fields_stay_absent_and_null_fields_stay_null() -> None:
    document = {k: v for k, v in RUN.items() if k not in ("servers", "waves", "fencing")}
    record = RunRecord.from_document(document)
    assert not record.servers and not record.waves
    assert record.took_over_from is None
    assert record.to_document() == document


def test_a_plan_state_round_trips_and_names_its_fields() -> None:
    document = {
        "pk": "PLAN#shop",
        "sk": "STATE",
        "lifecycle": "FAILED_OVER",
        "incomplete": True,
        "activeExecution": "arn:x",
        "pendingApproval": {"taskToken": "t", "executionArn": "arn:x", "since": "t"},
        "lastDrillSweep": {"at": "t", "terminated": ["ri-1"]},
    }
    state = PlanState.from_document(document)
    assert (state.lifecycle, state.incomplete, state.active_execution) == ("FAILED_OVER", True, "arn:x")
    assert state.to_document() == document
    assert PlanState.from_document({}).to_document() == {}


def test_a_server_record_keeps_its_unknown_fields() -> None:
    server = ServerRecord.from_document({"name": "web", "probe": {"ok": True}})
    assert server.to_document() == {"name": "web", "probe": {"ok": True}}


def test_a_run_record_without_its_identity_is_refused() -> None:
    with pytest.raises(Exception, match="runId"):
        RunRecord.from_document({k: v for k, v in RUN.items() if k != "runId"})
