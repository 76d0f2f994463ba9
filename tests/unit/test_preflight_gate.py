"""The preflight task (lambdas/domain/preflight_gate.py) against the in-memory state store and a DRS fake:
the outcome is recorded whatever it is, and any problem refuses the launch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambdas.domain import preflight_gate
from lambdas.errors import PreflightFailed
from lambdas.plan import Plan, parse_plan
from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas
from tests.fakes.runs import RUN_SK, open_run
from tests.fakes.state_store import InMemoryStateStore


def source(server_id: str, state: str = "CONTINUOUS", lag: str = "PT2S") -> dict[str, Any]:
    return {
        "sourceServerID": server_id,
        "dataReplicationInfo": {"dataReplicationState": state, "lagDuration": lag},
    }


@dataclass
class FakeDrs:
    servers: list[dict[str, Any]]
    active: list[dict[str, Any]] = field(default_factory=list)

    def source_servers(self, source_server_ids: list[str]) -> list[dict[str, Any]]:
        return [s for s in self.servers if s["sourceServerID"] in source_server_ids]

    def active_jobs(self) -> list[dict[str, Any]]:
        return self.active


@dataclass(frozen=True)
class InForce:
    quotas: DrsQuotas = DEFAULT_QUOTAS
    unread: tuple[str, ...] = ()


@dataclass
class Log:
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None:
        self.warnings.append((msg, dict(extra or {})))


@dataclass
class World:
    plan: Plan
    drs: FakeDrs
    in_force: InForce = InForce()
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    log: Log = field(default_factory=Log)

    def __post_init__(self) -> None:
        open_run(self.store, self.plan.name, "drill")

    def verify(self) -> dict[str, Any]:
        ports = preflight_gate.PreflightPorts(
            drs=self.drs, quotas=lambda: self.in_force, store=self.store, log=self.log, owner=None
        )
        return preflight_gate.verify(preflight_gate.PreflightRun(self.plan, RUN_SK, False), ports)

    def recorded(self) -> Any:
        return self.store.run_record(self.plan.name, RUN_SK).preflight


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    plan = parse_plan(sample_plan_document)
    return World(plan, FakeDrs([source(s.source_server_id) for s in plan.servers()]))


def test_a_healthy_plan_passes_and_its_lags_and_quotas_are_recorded(world: World) -> None:
    assert world.verify() == {"servers": 4, "warnings": []}
    recorded = world.recorded()
    assert recorded["problems"] == [] and recorded["warnings"] == []
    assert recorded["lagSeconds"] == {s.source_server_id: 2.0 for s in world.plan.servers()}
    assert recorded["drsQuotas"]["max_concurrent_jobs"] == 20
    assert world.log.warnings == []


def test_a_server_not_replicating_refuses_the_launch_and_the_problem_is_recorded(world: World) -> None:
    stalled = world.plan.servers()[1]
    world.drs.servers[1] = source(stalled.source_server_id, state="STALLED")
    with pytest.raises(PreflightFailed, match=f"nothing was launched: {stalled.name} .*STALLED"):
        world.verify()
    assert len(world.recorded()["problems"]) == 1
    assert [msg for msg, _ in world.log.warnings] == ["preflight failed"]


def test_the_refusal_shows_ten_problems_and_counts_the_rest(sample_plan_document: dict[str, Any]) -> None:
    vm_prefix = sample_plan_document["waves"][0]["servers"][0]["azure_vm_id"].rsplit("/", 1)[0]
    servers = [
        {"name": f"app-{n}", "source_server_id": f"s-{n:017x}", "azure_vm_id": f"{vm_prefix}/app-{n}"}
        for n in range(11)
    ]
    sample_plan_document["waves"] = [{"name": "all", "servers": servers}]
    sample_plan_document.pop("traffic", None)
    world = World(parse_plan(sample_plan_document), FakeDrs([]))  # DRS knows none of them
    with pytest.raises(PreflightFailed) as refused:
        world.verify()
    assert str(refused.value).count("not a DRS source server") == 10
    assert str(refused.value).endswith("; and 1 more")
    assert len(world.recorded()["problems"]) == 11


def test_quotas_service_quotas_did_not_answer_for_are_a_warning(world: World) -> None:
    world.in_force = InForce(unread=("L-B827C881: AccessDeniedException",))
    [warning] = world.verify()["warnings"]
    assert "L-B827C881: AccessDeniedException" in warning and "configured figures" in warning
    assert world.recorded()["warnings"] == [warning]
