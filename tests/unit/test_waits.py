"""The event-driven waits (lambdas/domain/waits.py) against the in-memory state store and port-level fakes:
a registration parks the token under every awaited resource and resumes at once on news the events would
miss; a DRS event resumes each parked wait once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import waits
from lambdas.domain.measure import iso
from lambdas.domain.records import RunRecord, Waiter
from lambdas.errors import InvalidInput
from lambdas.plan import parse_plan
from tests.conftest import SAMPLE_PLAN
from tests.fakes.state_store import InMemoryStateStore

PLAN = parse_plan(json.loads(SAMPLE_PLAN.read_text()))
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
RUN_SK = "RUN#2026-05-01T09:00:00.000Z#drill-1"
ARN = "arn:aws:states:us-east-1:123456789012:execution:dr-drill:drill-1"
WAVE_1 = [s.source_server_id for s in PLAN.waves[1].servers]  # three servers
LAUNCH = "DRS Source Server Launch Result"


def server_arn(source_server_id: str) -> str:
    return f"arn:aws:drs:us-east-1:123456789012:source-server/{source_server_id}"


@dataclass
class FakeDrs:
    job_list: list[dict[str, Any]] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)
    asked_instances: list[tuple[list[str], bool]] = field(default_factory=list)

    def jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        return [job for job in self.job_list if job["jobID"] in job_ids]

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        self.asked_instances.append((source_server_ids, drill))
        return self.instances


@dataclass
class FakeExecutions:
    """Step Functions' task tokens: each answers once; a used (or ended) one answers False."""

    resumed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def resume_task(self, token: str, output: dict[str, Any]) -> bool:
        if token in self.used:
            return False
        self.used.add(token)
        self.resumed.append((token, output))
        return True


class Clock:
    """Moves on a second at every read, so a second read would show."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        moment, self.at = self.at, self.at + timedelta(seconds=1)
        return moment


@dataclass
class World:
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    drs: FakeDrs = field(default_factory=FakeDrs)
    executions: FakeExecutions = field(default_factory=FakeExecutions)

    def ports(self) -> waits.WaitPorts:
        return waits.WaitPorts(drs=self.drs, store=self.store, executions=self.executions, clock=Clock())

    def parked(self, resource: str) -> list[Waiter]:
        return self.store.waiters(resource)


def wave_wait(token: str = "token-1", settled: int = 0, execution_arn: str = ARN) -> waits.Wait:
    return waits.Wait(
        run_sk=RUN_SK,
        execution_arn=execution_arn,
        task_token=token,
        kind="wave",
        wave=1,
        job_ids=["drsjob-1"],
        settled=settled,
    )


def job(status: str, launch_statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "jobID": "drsjob-1",
        "status": status,
        "participatingServers": [
            {"sourceServerID": sid, "launchStatus": launch, "recoveryInstanceID": f"i-{sid[-4:]}"}
            for sid, launch in launch_statuses.items()
        ],
    }


def open_failback(store: InMemoryStateStore, servers: dict[str, Any]) -> None:
    """A failback run record with the servers its preparation recorded."""
    record = RunRecord(
        sk=RUN_SK,
        run_id="failback-1",
        plan=PLAN.name,
        workflow="failback",
        execution_arn=ARN,
        status="RUNNING",
        started_at=iso(T0),
        failback={"servers": servers},
    )
    assert store.open_run(record)


# --- registration -----------------------------------------------------------------------------------------


def test_a_wave_wait_parks_one_waiter_under_each_server_of_the_wave() -> None:
    world = World()
    world.drs.job_list = [job("STARTED", {sid: "PENDING" for sid in WAVE_1})]
    answer = waits.register(wave_wait(), PLAN, world.ports())
    assert answer == {"waiting_on": 3, "resumed": False}
    # since and ttl from the same read of the clock
    ttl = int(T0.timestamp()) + waits.WAIT_TTL_SECONDS
    expected = Waiter(execution_arn=ARN, task_token="token-1", kind="wave", since=iso(T0), ttl=ttl)
    assert {sid: world.parked(sid) for sid in WAVE_1} == {sid: [expected] for sid in WAVE_1}
    assert set(world.store.parked) == set(WAVE_1)  # the other wave's server awaits nothing
    assert world.executions.resumed == []


def test_a_failback_wait_parks_under_the_recovery_instances_of_the_run() -> None:
    world = World()
    servers = {"s-1": {"recoveryInstanceId": "i-1"}, "s-2": {"recoveryInstanceId": "i-2"}}
    open_failback(world.store, servers)
    world.drs.instances = [{"recoveryInstanceID": "i-1", "failback": {"state": "FAILBACK_IN_PROGRESS"}}]
    wait = waits.Wait(run_sk=RUN_SK, execution_arn=ARN, task_token="t", kind="failback")
    answer = waits.register(wait, PLAN, world.ports())
    assert answer == {"waiting_on": 2, "resumed": False}
    assert sorted(world.store.parked) == ["i-1", "i-2"]
    assert [w.kind for w in world.parked("i-1")] == ["failback"]
    # the failback's news: the failover recovery instances of every server of the plan
    assert world.drs.asked_instances == [([s.source_server_id for s in PLAN.servers()], False)]
    assert world.executions.resumed == []


def test_a_wave_that_settled_more_servers_since_the_last_check_is_resumed_at_once() -> None:
    world = World()
    # one launched, one failed (not critical: the wave goes on), one pending
    world.drs.job_list = [job("STARTED", {WAVE_1[0]: "LAUNCHED", WAVE_1[1]: "PENDING", WAVE_1[2]: "FAILED"})]
    answer = waits.register(wave_wait(settled=1), PLAN, world.ports())
    assert answer == {"waiting_on": 0, "resumed": True}
    assert world.executions.resumed == [
        ("token-1", {"resumed_by": "register_wait", "resource": None, "detail": {}})
    ]
    # parked all the same: a later event finds the token used
    assert set(world.store.parked) == set(WAVE_1)


def test_a_wave_with_as_many_settled_as_the_last_check_saw_waits() -> None:
    world = World()
    # one launched, one failed (not critical: the wave goes on), one pending
    world.drs.job_list = [job("STARTED", {WAVE_1[0]: "LAUNCHED", WAVE_1[1]: "PENDING", WAVE_1[2]: "FAILED"})]
    answer = waits.register(wave_wait(settled=2), PLAN, world.ports())
    assert answer == {"waiting_on": 3, "resumed": False}
    assert world.executions.resumed == []


def test_a_wave_finished_since_the_last_check_is_resumed_at_once() -> None:
    world = World()
    # all settled already at the last check, but the job has ended since: the wave is no longer in progress
    world.drs.job_list = [job("COMPLETED", {sid: "LAUNCHED" for sid in WAVE_1})]
    answer = waits.register(wave_wait(settled=3), PLAN, world.ports())
    assert answer == {"waiting_on": 0, "resumed": True}
    assert [token for token, _ in world.executions.resumed] == ["token-1"]


@pytest.mark.parametrize("state", sorted(waits.FAILBACK_SETTLED_STATES))
def test_a_failback_settled_since_the_last_check_is_resumed_at_once(state: str) -> None:
    world = World()
    open_failback(world.store, {"s-1": {"recoveryInstanceId": "i-1"}})
    world.drs.instances = [
        {"recoveryInstanceID": "i-0"},  # no failback state yet
        {"recoveryInstanceID": "i-1", "failback": {"state": state}},
    ]
    wait = waits.Wait(run_sk=RUN_SK, execution_arn=ARN, task_token="t", kind="failback")
    assert waits.register(wait, PLAN, world.ports()) == {"waiting_on": 0, "resumed": True}
    assert [token for token, _ in world.executions.resumed] == ["t"]


def test_the_failback_settled_states() -> None:
    assert {"FAILBACK_COMPLETED", "FAILBACK_ERROR"} == waits.FAILBACK_SETTLED_STATES


def test_a_wave_wait_without_its_wave_is_refused_before_anything_is_parked() -> None:
    world = World()
    wait = waits.Wait(run_sk=RUN_SK, execution_arn=ARN, task_token="t", kind="wave")
    with pytest.raises(InvalidInput, match="wave is required for kind 'wave'"):
        waits.register(wait, PLAN, world.ports())
    assert world.store.parked == {}
    assert world.executions.resumed == []


# --- DRS events -------------------------------------------------------------------------------------------


def test_an_event_resumes_each_parked_wait_once_and_removes_it() -> None:
    world = World()
    first = Waiter(execution_arn=f"{ARN}-a", task_token="token-a")
    second = Waiter(execution_arn=f"{ARN}-b", task_token="token-b")
    world.store.add_waiter("s-1", first)
    world.store.add_waiter("s-1", second)
    world.store.add_waiter("s-2", Waiter(execution_arn=f"{ARN}-c", task_token="token-c"))
    detail = {"state": "LAUNCHED"}
    resumed = waits.resume(LAUNCH, [server_arn("s-1")], detail, world.ports())
    assert resumed == 2
    assert world.executions.resumed == [
        ("token-a", {"resumed_by": LAUNCH, "resource": "s-1", "detail": detail}),
        ("token-b", {"resumed_by": LAUNCH, "resource": "s-1", "detail": detail}),
    ]
    assert world.parked("s-1") == []
    assert [w.task_token for w in world.parked("s-2")] == ["token-c"]  # not named by the event
    assert waits.resume(LAUNCH, [server_arn("s-1")], detail, world.ports()) == 0  # a duplicate delivery


def test_a_used_token_is_removed_and_not_counted() -> None:
    world = World()
    world.executions.used.add("token-a")  # its wait ended already (resumed, timed out or stopped)
    world.store.add_waiter("s-1", Waiter(execution_arn=f"{ARN}-a", task_token="token-a"))
    world.store.add_waiter("s-1", Waiter(execution_arn=f"{ARN}-b", task_token="token-b"))
    assert waits.resume(LAUNCH, [server_arn("s-1")], {}, world.ports()) == 1
    assert [token for token, _ in world.executions.resumed] == ["token-b"]
    assert world.parked("s-1") == []


def test_an_event_for_resources_nobody_awaits_does_nothing() -> None:
    world = World()
    world.store.add_waiter("s-1", Waiter(execution_arn=ARN, task_token="token-a"))
    assert waits.resume(LAUNCH, [server_arn("s-9"), server_arn("s-10")], {}, world.ports()) == 0
    assert world.executions.resumed == []
    assert [w.task_token for w in world.parked("s-1")] == ["token-a"]


def test_a_registered_wave_wait_is_resumed_by_the_first_launch_event_only() -> None:
    world = World()
    world.drs.job_list = [job("STARTED", {sid: "PENDING" for sid in WAVE_1})]
    waits.register(wave_wait(), PLAN, world.ports())
    assert waits.resume(LAUNCH, [server_arn(WAVE_1[0])], {}, world.ports()) == 1
    # the other servers' waiters still hold the used token: their events resume nothing, and clear them
    assert waits.resume(LAUNCH, [server_arn(sid) for sid in WAVE_1[1:]], {}, world.ports()) == 0
    assert [token for token, _ in world.executions.resumed] == ["token-1"]
    assert all(world.parked(sid) == [] for sid in WAVE_1)


def test_the_resource_id_ends_the_arn() -> None:
    assert waits.resource_id("arn:aws:drs:us-east-1:123456789012:source-server/s-0a1b2c3d4e5f60001") == (
        "s-0a1b2c3d4e5f60001"
    )
    assert waits.resource_id("arn:aws:drs:eu-west-1:123456789012:recovery-instance/i-0abc") == "i-0abc"
    assert waits.resource_id("s-123") == "s-123"
