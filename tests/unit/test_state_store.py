"""The state store's contract, run against the in-memory fake and against DynamoDB (moto), so the fake the
unit tests use cannot drift from the real store: the lock, lifecycle rules, and the run record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from moto import mock_aws

from lambdas.adapters.state_store import DynamoStateStore, StateStore
from lambdas.domain.records import RunRecord, ServerRecord, Waiter
from tests.fakes.state_store import InMemoryStateStore

A = "arn:aws:states:us-east-1:111122223333:execution:dr-drill:a"
B = "arn:aws:states:us-east-1:111122223333:execution:dr-drill:b"
T0, T1, T2 = "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z", "2026-01-01T00:10:00.000Z"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[StateStore]:
    if request.param == "memory":
        yield InMemoryStateStore()
        return
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb: Any = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="state",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoStateStore(dynamodb=dynamodb, table="state")


def settle(store: StateStore, lifecycle: str, incomplete: bool = False) -> None:
    """Leave plan shop in `lifecycle` (unlocked), as a finished run would."""
    assert store.take_lock("shop", "drill", A, T0) is not None
    assert store.release_lock("shop", A, lifecycle, incomplete, T0) is not None


def test_a_plan_that_never_ran_is_normal_and_its_lock_is_taken_once(store: StateStore) -> None:
    assert store.plan_state("shop").to_document() == {}
    taken = store.take_lock("shop", "drill", A, T0)
    assert taken is not None
    assert (taken.lifecycle, taken.active_execution, taken.active_workflow, taken.locked_at) == (
        "NORMAL",
        A,
        "drill",
        T0,
    )
    assert store.take_lock("shop", "drill", B, T1) is None  # another execution: refused
    assert store.plan_state("shop").active_execution == A  # and nothing changed
    assert store.take_lock("shop", "drill", A, T1) is not None  # the same execution (a retried Lambda)


def test_only_the_holder_releases_the_lock(store: StateStore) -> None:
    store.take_lock("shop", "recovery", A, T0)
    store.request_approval("shop", {"taskToken": "t", "executionArn": A, "since": T0})
    assert store.release_lock("shop", B, "FAILED_OVER", False, T1) is None
    assert store.plan_state("shop").active_execution == A
    released = store.release_lock("shop", A, "FAILED_OVER", True, T1, last_drill={"at": T1, "result": "X"})
    assert released is not None
    assert released.to_document() == {
        "lifecycle": "FAILED_OVER",
        "incomplete": True,
        "lastExecution": A,
        "updatedAt": T1,
        "lastDrill": {"at": T1, "result": "X"},
    }
    assert store.release_lock("shop", A, "NORMAL", False, T2) is None  # released already
    assert store.release_lock("billing", A, "NORMAL", False, T2) is None  # no state at all
    assert store.plan_state("billing").to_document() == {}


@pytest.mark.parametrize(
    ("lifecycle", "incomplete", "allowed"),
    [
        ("NORMAL", False, {"drill", "recovery"}),
        ("FAILED_OVER", False, {"failback"}),
        ("FAILED_OVER", True, {"failback", "recovery"}),  # an incomplete recovery may be run again
        ("FAILED_BACK", False, {"return_to_normal"}),
        ("FAILED_BACK", True, {"return_to_normal"}),
    ],
)
def test_each_workflow_starts_only_from_its_lifecycle_states(
    store: StateStore, lifecycle: str, incomplete: bool, allowed: set[str]
) -> None:
    settle(store, lifecycle, incomplete)
    for workflow in ("drill", "recovery", "failback", "return_to_normal"):
        taken = store.take_lock("shop", workflow, B, T1)
        assert (taken is not None) == (workflow in allowed), workflow
        if taken is not None:
            assert taken.lifecycle == lifecycle
            store.release_lock("shop", B, lifecycle, incomplete, T1)


def test_a_stale_lock_is_taken_over_only_when_named(store: StateStore) -> None:
    store.take_lock("shop", "drill", A, T0)
    assert store.take_lock("shop", "drill", B, T1, stale="arn:other") is None
    taken = store.take_lock("shop", "drill", B, T1, stale=A)
    assert taken is not None and taken.active_execution == B


def test_the_flapping_guard_refuses_an_automatic_start_after_the_cutoff(store: StateStore) -> None:
    assert store.take_lock("shop", "recovery", A, T0, automatic_cutoff=T0) is not None  # never failed over
    store.release_lock("shop", A, "NORMAL", False, T0)
    store.record_automatic_failover("shop", T1)
    assert store.take_lock("shop", "recovery", B, T2, automatic_cutoff=T1) is None  # began at the cutoff
    assert not store.plan_state("shop").active_execution  # refused: the lock stays free
    assert store.take_lock("shop", "recovery", B, T2, automatic_cutoff=T2) is not None


def test_plan_state_records(store: StateStore) -> None:
    store.record_refusal("shop", {"at": T0, "reason": "r", "alarmName": None})
    store.record_replication("shop", {"at": T0, "maxLagSeconds": 1.5, "servers": {}})
    store.record_drill_sweep("shop", {"at": T0, "terminated": ["ri-1"]})
    state = store.plan_state("shop")
    assert state.last_refusal == {"at": T0, "reason": "r", "alarmName": None}
    assert state.replication == {"at": T0, "maxLagSeconds": 1.5, "servers": {}}
    assert state.last_drill_sweep == {"at": T0, "terminated": ["ri-1"]}


def run(run_id: str, started_at: str = T0, status: str = "RUNNING") -> RunRecord:
    return RunRecord(
        sk=f"RUN#{started_at}#{run_id}",
        run_id=run_id,
        plan="shop",
        workflow="recovery",
        execution_arn=f"{A}-{run_id}",
        status=status,
        started_at=started_at,
        took_over_from=None,
        servers={},
        waves={},
        errors=[],
    )


def test_a_run_record_is_opened_once_and_read_back_as_written(store: StateStore) -> None:
    first = run("r1")
    assert store.open_run(first)
    assert not store.open_run(run("r1", status="FAILED"))
    assert store.run_record("shop", first.sk) == first
    store.open_run(run("r0", started_at="2025-12-31T00:00:00.000Z"))
    store.open_run(run("r2", started_at=T2))
    assert [r.run_id for r in store.runs("shop")] == ["r2", "r1", "r0"]
    assert [r.run_id for r in store.runs("shop", limit=2)] == ["r2", "r1"]
    assert store.runs("billing") == []


def test_launches_and_server_progress_are_recorded_per_server(store: StateStore) -> None:
    record = run("r1")
    store.open_run(record)
    requested = {
        "s-1": ServerRecord(name="web", wave=1, launch_requested_at=T0),
        "s-2": ServerRecord(name="db"),
    }
    store.record_launch("shop", record.sk, 1, {"name": "app", "jobIds": ["drsjob-1"]}, requested)
    store.record_servers(
        "shop",
        record.sk,
        {"s-1": ServerRecord(recovery_instance_id="ri-1", ec2_instance_id=None, launched_at=T1)},
    )
    store.record_servers("shop", record.sk, {"s-1": ServerRecord(healthy_at=T2)})
    store.update_run("shop", record.sk, {"failback": {"servers": {}}})
    store.update_run("shop", record.sk, {"failback.servers.s-1": {"vmId": "vm"}, "fencing": {}})
    stored = store.run_record("shop", record.sk)
    assert stored.servers and stored.servers["s-1"].to_document() == {
        "name": "web",
        "wave": 1,
        "launchRequestedAt": T0,
        "recoveryInstanceId": "ri-1",
        "ec2InstanceId": None,
        "launchedAt": T1,
        "healthyAt": T2,
    }
    assert stored.servers["s-2"].name == "db"
    assert stored.waves == {"w1": {"name": "app", "jobIds": ["drsjob-1"]}}
    assert stored.failback_servers() == {"s-1": {"vmId": "vm"}}


def test_a_run_is_aborted_only_while_running(store: StateStore) -> None:
    record = run("r1")
    store.open_run(record)
    assert store.abort_run("shop", record.sk, T1, {"status": "ABORTED"})
    assert not store.abort_run("shop", record.sk, T2, {"status": "TIMED_OUT"})
    closed = store.run_record("shop", record.sk)
    assert (closed.status, closed.ended_at, closed.execution, closed.closed_by) == (
        "ABORTED",
        T1,
        {"status": "ABORTED"},
        "sweep",
    )
    assert not store.abort_run("shop", "RUN#none", T1, {})
    finished = run("r2")
    store.open_run(finished)
    store.finish_run("shop", finished.sk, {"status": "SUCCEEDED", "endedAt": T2, "lifecycleAfter": "NORMAL"})
    assert not store.abort_run("shop", finished.sk, T2, {})
    assert store.run_record("shop", finished.sk).status == "SUCCEEDED"
    taken_over = run("r3")
    store.open_run(taken_over)
    store.mark_taken_over("shop", taken_over.sk, B, T2)
    assert store.run_record("shop", taken_over.sk).taken_over_by == B


def test_a_trigger_event_is_claimed_by_its_first_execution(store: StateStore) -> None:
    assert store.claim_event("e-1", A, 100) == A
    assert store.claim_event("e-1", B, 200) == A
    assert store.claim_event("e-1", A, 300) == A


def test_failback_records_are_written_once(store: StateStore) -> None:
    assert store.layout("shop", "web") is None
    store.record_layout_once("shop", "web", {"osDisk": "d1"}, "r1")
    store.record_layout_once("shop", "web", {"osDisk": "d2"}, "r2")
    assert store.layout("shop", "web") == {"osDisk": "d1"}
    store.forget_layout("shop", "web")
    assert store.layout("shop", "web") is None
    store.record_new_vm_once("shop", "web", {"vmId": "vm-1"}, "r1")
    store.record_new_vm_once("shop", "web", {"vmId": "vm-2"}, "r2")
    assert store.new_vm("shop", "web") == {"vmId": "vm-1"}
    store.forget_new_vm("shop", "web")
    store.forget_new_vm("shop", "web")
    assert store.new_vm("shop", "web") is None


def test_parked_task_tokens_are_found_by_resource(store: StateStore) -> None:
    store.add_waiter("s-1", Waiter(execution_arn=A, task_token="t-a", kind="wave", since=T0, ttl=9))
    store.add_waiter("s-1", Waiter(execution_arn=B, task_token="t-b", kind="wave", since=T0, ttl=9))
    store.add_waiter("s-1", Waiter(execution_arn=A, task_token="t-a2", kind="wave", since=T1, ttl=9))
    assert sorted((w.execution_arn, w.task_token) for w in store.waiters("s-1")) == [(A, "t-a2"), (B, "t-b")]
    store.remove_waiter("s-1", A)
    assert [w.task_token for w in store.waiters("s-1")] == ["t-b"]
    assert store.waiters("s-2") == []
