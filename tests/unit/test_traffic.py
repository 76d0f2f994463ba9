"""Switching the plan's DNS record (lambdas/domain/traffic.py) against the in-memory state store and fakes
of DRS, EC2 and Route 53."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from msgspec import UNSET

from lambdas.domain import traffic
from lambdas.errors import ValidationFailed
from lambdas.plan import Plan, parse_plan
from tests.fakes.runs import RUN_SK, open_run
from tests.fakes.state_store import InMemoryStateStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Cloud:
    """DRS recovery instances, their EC2 private IPs, and one Route 53 record."""

    instances: dict[str, str] = field(default_factory=dict)  # source server -> EC2 instance
    ips: dict[str, str] = field(default_factory=dict)  # EC2 instance -> private IP
    record: str | None = "20.50.10.11"
    upserts: list[tuple[str, ...]] = field(default_factory=list)

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        assert not drill  # traffic follows a failover, never a drill
        return [
            {"sourceServerID": sid, "ec2InstanceID": self.instances[sid]}
            for sid in source_server_ids
            if sid in self.instances
        ]

    def private_ips(self, instance_ids: list[str]) -> dict[str, str]:
        return {i: self.ips[i] for i in instance_ids if i in self.ips}

    def current_value(self, hosted_zone_id: str, record_name: str, record_type: str) -> str | None:
        return self.record

    def upsert(
        self, hosted_zone_id: str, record_name: str, record_type: str, value: str, ttl: int, comment: str
    ) -> str:
        self.upserts.append((hosted_zone_id, record_name, record_type, value, str(ttl), comment))
        self.record = value
        return f"change-{len(self.upserts)}"


@dataclass
class World:
    plan: Plan
    cloud: Cloud = field(default_factory=Cloud)
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)

    def __post_init__(self) -> None:
        open_run(self.store, self.plan.name, "recovery")

    def switch(self, to: Any) -> dict[str, Any]:
        ports = traffic.TrafficPorts(
            drs=self.cloud, ec2=self.cloud, dns=self.cloud, store=self.store, clock=lambda: NOW
        )
        return traffic.switch(traffic.TrafficRun(self.plan, "run-1", RUN_SK, "recovery"), to, ports)

    def recorded(self) -> Any:
        return self.store.run_record(self.plan.name, RUN_SK).traffic


def plan_with(document: dict[str, Any], **traffic_fields: Any) -> Plan:
    if traffic_fields:
        document["traffic"] = {**document["traffic"], **traffic_fields}
    return parse_plan(document)


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    return World(parse_plan(sample_plan_document))


def app_server(world: World) -> str:
    return next(s.source_server_id for s in world.plan.servers() if s.name == "shop-app-1")


def test_failover_points_the_record_at_the_servers_recovery_instance_ip(world: World) -> None:
    world.cloud.instances = {app_server(world): "i-0app"}
    world.cloud.ips = {"i-0app": "10.0.1.7"}

    assert world.switch("aws") == {"switched": True, "to": "aws", "value": "10.0.1.7"}
    assert world.cloud.upserts == [
        ("Z04SHOPEXAMPLE01", "shop.example.com", "A", "10.0.1.7", "60", "dr-orchestrator recovery run-1")
    ]
    assert world.recorded() == {
        "to": "aws",
        "record": "shop.example.com",
        "from": "20.50.10.11",
        "value": "10.0.1.7",
        "changeId": "change-1",
        "at": "2026-03-01T12:00:00.000Z",
    }


def test_failback_points_it_back_at_azure_and_records_the_aws_value_it_replaced(world: World) -> None:
    world.cloud.record = "10.0.1.7"
    assert world.switch("azure")["value"] == "20.50.10.11"
    assert world.recorded()["from"] == "10.0.1.7" and world.cloud.record == "20.50.10.11"


def test_a_fixed_aws_value_needs_no_recovery_instance(sample_plan_document: dict[str, Any]) -> None:
    world = World(plan_with(sample_plan_document, aws_server=None, aws_value="shop-dr.example.com"))
    assert world.switch("aws")["value"] == "shop-dr.example.com"


def test_a_server_without_a_running_instance_fails_the_switch_and_changes_nothing(world: World) -> None:
    world.cloud.instances = {app_server(world): "i-0gone"}  # no IP: not running
    with pytest.raises(ValidationFailed, match=r"traffic\.aws_server shop-app-1 has no running recovery"):
        world.switch("aws")
    assert world.cloud.upserts == [] and world.recorded() is UNSET


def test_a_plan_without_traffic_switches_nothing(sample_plan_document: dict[str, Any]) -> None:
    del sample_plan_document["traffic"]
    world = World(parse_plan(sample_plan_document))
    assert world.switch("aws") == {"switched": False, "reason": "plan has no traffic section"}
    assert world.cloud.upserts == []
