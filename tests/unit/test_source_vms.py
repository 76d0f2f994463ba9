"""Confirming an outage with Azure and fencing the source VMs, against the in-memory state store and a fake
Azure (no cloud)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.domain import source_vms
from lambdas.domain.records import RunRecord
from lambdas.errors import AzureRequestFailed, AzureUnavailable, OutageNotConfirmed
from lambdas.plan import Plan, parse_plan
from tests.fakes.state_store import InMemoryStateStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT = "2026-03-01T12:00:00.000Z"
RUN_SK = "RUN#2026-03-01T11:59:00.000Z#run-1"
ARN = "arn:aws:states:us-east-1:111111111111:execution:dr-recovery:run-1"
ALARM = "dr-DrOrchestrator-shop-azure-outage"
UP = {"power": "running", "provisioning": "succeeded"}


@dataclass
class FakeDeallocation:
    done_in_time: bool = True
    error: Exception | None = None
    timeouts: list[float | None] = field(default_factory=list)

    def result(self, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)
        if self.error:
            raise self.error

    def done(self) -> bool:
        return self.done_in_time


@dataclass
class FakeAzure:
    """Answers by VM name (the last part of its id): a state, a deallocation, or an error to raise."""

    states: dict[str, dict[str, str] | Exception] = field(default_factory=dict)
    deallocations: dict[str, FakeDeallocation | Exception] = field(default_factory=dict)

    def power_state(self, vm_id: str) -> dict[str, str]:
        answer = self.states.get(vm_id.rsplit("/", 1)[-1], UP)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    def begin_deallocate(self, vm_id: str) -> FakeDeallocation:
        answer = self.deallocations.setdefault(vm_id.rsplit("/", 1)[-1], FakeDeallocation())
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Log:
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def warning(self, msg: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self.warnings.append((msg, dict(extra or {})))


@dataclass
class World:
    plan: Plan
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    azure: FakeAzure = field(default_factory=FakeAzure)
    log: Log = field(default_factory=Log)
    elapsed: float = 0.0  # seconds on the monotonic clock; each reading advances it by `step`
    step: float = 0.0

    def monotonic(self) -> float:
        self.elapsed += self.step
        return self.elapsed

    @property
    def ports(self) -> source_vms.SourcePorts:
        return source_vms.SourcePorts(
            azure=self.azure, store=self.store, log=self.log, clock=lambda: NOW, monotonic=self.monotonic
        )

    def run(self, trigger: str = "alarm") -> source_vms.SourceRun:
        self.store.open_run(
            RunRecord(
                sk=RUN_SK,
                run_id="run-1",
                plan=self.plan.name,
                workflow="recovery",
                execution_arn=ARN,
                status="RUNNING",
                started_at="2026-03-01T11:59:00.000Z",
                trigger={"kind": trigger, **({"alarmName": ALARM} if trigger == "alarm" else {})},
            )
        )
        return source_vms.SourceRun(self.plan, RUN_SK, "recovery", trigger, ARN)

    def record(self) -> RunRecord:
        return self.store.run_record(self.plan.name, RUN_SK)


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    plan = parse_plan(sample_plan_document)
    assert [s.name for s in plan.servers()] == ["shop-db-1", "shop-app-1", "shop-app-2", "shop-reports"]
    return World(plan)


def test_all_source_vms_up_refuses_the_failover_and_says_why(world: World) -> None:
    run = world.run()
    with pytest.raises(OutageNotConfirmed, match="Azure reports all 4 source VMs running") as refused:
        source_vms.confirm_outage(run, world.ports)
    assert world.store.plans["shop"]["lastRefusal"] == {
        "at": AT,
        "workflow": "recovery",
        "trigger": "alarm",
        "alarmName": ALARM,
        "execution": ARN,
        "reason": str(refused.value),
    }
    confirmation = world.record().confirmation
    assert isinstance(confirmation, dict)
    assert confirmation["confirmed"] is False and confirmation["at"] == AT
    assert confirmation["evidence"] == {server.name: UP for server in world.plan.servers()}


def test_a_source_vm_down_confirms_the_outage(world: World) -> None:
    world.azure.states["shop-app-1"] = {"power": "deallocated", "provisioning": "succeeded"}
    world.azure.states["shop-reports"] = {"power": "running", "provisioning": "failed"}
    assert source_vms.confirm_outage(world.run(), world.ports) == {
        "confirmed": True,
        "down": ["shop-app-1", "shop-reports"],
    }
    confirmation = world.record().confirmation
    assert isinstance(confirmation, dict) and confirmation["confirmed"] is True
    assert confirmation["evidence"]["shop-app-1"]["power"] == "deallocated"
    assert "lastRefusal" not in world.store.plans.get("shop", {})


@pytest.mark.parametrize(
    "error",
    [
        AzureUnavailable("not tried: Azure did not answer the previous 2 calls"),
        AzureRequestFailed("ClientAuthenticationError: AADSTS7000215: Invalid client secret provided"),
    ],
)
def test_azure_not_answering_confirms_the_outage_with_its_error(world: World, error: Exception) -> None:
    world.azure.states["shop-db-1"] = error
    assert source_vms.confirm_outage(world.run(), world.ports) == {"confirmed": True, "down": ["shop-db-1"]}
    confirmation = world.record().confirmation
    assert isinstance(confirmation, dict)
    assert confirmation["evidence"]["shop-db-1"] == {
        "power": "no answer",
        "provisioning": "no answer",
        "error": str(error),
    }


@pytest.mark.parametrize("trigger", ["alarm", "manual"])
def test_only_an_alarm_started_recovery_records_its_automatic_failover(world: World, trigger: str) -> None:
    source_vms.fence(world.run(trigger), world.ports)
    recorded = world.store.plans.get("shop", {}).get("lastAutomaticFailover")
    assert recorded == (AT if trigger == "alarm" else None)


def test_every_vm_deallocated_is_fenced(world: World) -> None:
    assert source_vms.fence(world.run(), world.ports) == {"fenced": 4, "unfenced": []}
    fencing = world.record().fencing
    assert isinstance(fencing, dict)
    assert fencing == {
        server.source_server_id: {"name": server.name, "fenced": True, "reason": "deallocated", "at": AT}
        for server in world.plan.servers()
    }
    assert world.log.warnings == []


def test_a_vm_whose_deallocation_fails_is_not_fenced_and_named(world: World) -> None:
    refused = "ClientAuthenticationError: AADSTS7000215: Invalid client secret provided"
    world.azure.deallocations["shop-db-1"] = AzureRequestFailed(refused)
    world.azure.deallocations["shop-app-2"] = FakeDeallocation(error=AzureUnavailable("ServiceRequestError"))
    outcome = source_vms.fence(world.run(), world.ports)
    assert outcome == {"fenced": 2, "unfenced": ["shop-app-2", "shop-db-1"]}
    fencing = world.record().fencing
    assert isinstance(fencing, dict)
    db, app2 = (world.plan.servers()[i].source_server_id for i in (0, 2))
    assert fencing[db] == {"name": "shop-db-1", "fenced": False, "reason": refused, "at": AT}
    assert fencing[app2] == {"name": "shop-app-2", "fenced": False, "reason": "ServiceRequestError", "at": AT}
    assert world.log.warnings == [("source not fenced", {"servers": ["shop-app-2", "shop-db-1"]})]


def test_a_deallocation_not_done_in_time_is_not_fenced(world: World) -> None:
    world.azure.deallocations["shop-reports"] = FakeDeallocation(done_in_time=False)
    world.step = 100.0  # every reading of the clock: 100 s later
    assert source_vms.fence(world.run(), world.ports) == {"fenced": 3, "unfenced": ["shop-reports"]}
    fencing = world.record().fencing
    assert isinstance(fencing, dict)
    reports = world.plan.servers()[3].source_server_id
    assert fencing[reports]["fenced"] is False
    assert fencing[reports]["reason"] == "deallocation requested, not confirmed in time"
    # One wait of FENCE_WAIT_SECONDS for all: each deallocation gets what is left, at least a second.
    waited = [world.azure.deallocations[s.name] for s in world.plan.servers()]
    assert [d.timeouts for d in waited if isinstance(d, FakeDeallocation)] == [[140.0], [40.0], [1.0], [1.0]]
    assert world.log.warnings == [("source not fenced", {"servers": ["shop-reports"]})]
