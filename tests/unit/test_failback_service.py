"""The failback preflight as a domain service: fake ports (Azure, DRS, EC2, STS) and the in-memory state
store, no emulator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.domain import failback as rules
from lambdas.domain import failback_preflight
from lambdas.domain.failback import BootFacts, ClientDisk, GalleryImage, VmNow
from lambdas.domain.failback_ports import FailbackPorts, FailbackRun, Rules
from lambdas.errors import FailbackFailed
from lambdas.plan import Plan, parse_plan
from tests.fakes.state_store import InMemoryStateStore

GIB = 1024**3
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeDrs:
    def __init__(self, plan: Plan) -> None:
        self.instances = [
            {
                "sourceServerID": s.source_server_id,
                "recoveryInstanceID": f"ri-{s.name}",
                "ec2InstanceID": f"i-{s.name}",
                "recoveryInstanceProperties": {
                    "disks": [{"internalDeviceName": "/dev/xvda", "bytes": 64 * GIB}]
                },
            }
            for s in plan.servers()
        ]

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        return [ri for ri in self.instances if ri["sourceServerID"] in source_server_ids]

    def uses_private_ip_for_failback(self, recovery_instance_id: str) -> bool:
        return False

    def jobs_since(self, since: datetime) -> list[dict[str, Any]]:
        return []

    def start_failback_launch(self, recovery_instance_ids: list[str], tags: dict[str, str]) -> str:
        raise AssertionError("the preflight launches nothing")

    def endpoint_url(self) -> str:
        return "https://drs.example"


class FakeVms:
    """Every VM runs on its own 64 GiB OS disk; `on_client` VMs boot their failback-client disk instead."""

    def __init__(self) -> None:
        self.on_client: set[str] = set()

    def gallery_image(self, version_id: str) -> GalleryImage:
        return GalleryImage(version_id, "westeurope", "V2", "Linux", True, {})

    def vm_document(self, vm_id: str, *, user_data: bool = False) -> dict[str, Any]:
        return {"location": "westeurope", "properties": {}}

    def vm_now(self, vm_id: str) -> tuple[VmNow, dict[str, Any], str]:
        name = self.resource_name(vm_id)
        own = self.disk_id_in(vm_id, f"{name}-os")
        os_disk = self.disk_id_in(vm_id, rules.client_disk_name(name)) if vm_id in self.on_client else own
        return VmNow("running", "succeeded", os_disk, 64, (), False), self.vm_document(vm_id), "V2"

    def vm_tags(self, vm_id: str) -> dict[str, str] | None:
        return {}

    def boot_facts(self, vm_id: str) -> BootFacts:
        return BootFacts("westeurope", "Standard_D2s_v5", "V2", False)

    def boot_problems(self, facts: BootFacts, image: GalleryImage, subscription_id: str) -> list[str]:
        return []

    def memory_mb(self, subscription_id: str, location: str, vm_size: str) -> int | None:
        return 8192

    def client_disk(self, disk_id: str) -> tuple[ClientDisk, dict[str, str]]:
        return ClientDisk(disk_id, False, False, None), {}

    def begin_power(self, vm_id: str, action: str) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def begin_put_vm(self, vm_id: str, body: dict[str, Any]) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def begin_create_disk(
        self, disk_id: str, location: str, image_version_id: str, tags: dict[str, str]
    ) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def begin_create_empty_disk(
        self,
        disk_id: str,
        location: str,
        size_gb: int,
        tags: dict[str, str],
        *,
        os_type: str | None = None,
        hyper_v_generation: str | None = None,
    ) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def begin_create_vm_from_disks(
        self,
        vm_id: str,
        *,
        location: str,
        vm_size: str,
        subnet_id: str,
        os_disk_id: str,
        os_type: str,
        data_disks: list[tuple[int, str]],
        user_data: str,
        tags: dict[str, str],
    ) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def begin_delete_disk(self, disk_id: str) -> Any:
        raise AssertionError("the preflight changes nothing in Azure")

    def resource_name(self, resource_id: str) -> str:
        return resource_id.rstrip("/").rsplit("/", 1)[-1]

    def disk_id_in(self, vm_id: str, name: str) -> str:
        return vm_id.split("/providers/", 1)[0] + f"/providers/Microsoft.Compute/disks/{name}"

    def vm_id_in(self, vm_id: str, name: str) -> str:
        return vm_id.split("/providers/", 1)[0] + f"/providers/Microsoft.Compute/virtualMachines/{name}"


class FakeNetwork:
    def outbound_path(self, vm_document: dict[str, Any]) -> tuple[list[tuple[str, Rules]], str | None]:
        return [], None  # no network security group on the path: everything allowed

    def subnet_path(self, subnet_id: str) -> list[tuple[str, Rules]] | None:
        return []


class FakeEc2:
    def network_facts(self, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: {"PublicIpAddress": "203.0.113.10", "SecurityGroups": []} for i in instance_ids}


class FakeSts:
    def role_credentials(self, role_arn: str, session_name: str, seconds: int) -> dict[str, str]:
        raise AssertionError("the preflight issues no credentials")


class Log:
    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, msg: str, *, extra: dict[str, Any]) -> None:
        self.warnings.append((msg, extra))


def ports(plan: Plan, store: InMemoryStateStore, vms: FakeVms) -> FailbackPorts:
    return FailbackPorts(
        drs=FakeDrs(plan),
        vms=vms,
        network=FakeNetwork(),
        ec2=FakeEc2(),
        sts=FakeSts(),
        store=store,
        log=Log(),
        env={},
        clock=lambda: NOW,
    )


def test_the_layout_is_recorded_once_and_a_later_run_uses_it(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    store, vms = InMemoryStateStore(), FakeVms()
    first = FailbackRun(plan, "run-1", "RUN#1", NOW)
    assert failback_preflight.prepare(first, ports(plan, store, vms)) == {"servers": len(plan.servers())}
    server = plan.servers()[0]
    recorded = store.layouts[(plan.name, server.name)]
    assert recorded["runId"] == "run-1"
    assert rules.Layout.from_document(recorded["layout"]).os_disk_id.endswith(f"/disks/{server.name}-os")
    record = store.run_items[(plan.name, "RUN#1")]["failback"]["servers"][server.source_server_id]
    assert record["recoveryInstanceId"] == f"ri-{server.name}"

    # A retried run finds the VM already on its client disk: the layout recorded before is used, unchanged.
    vms.on_client.add(server.azure_vm_id)
    second = FailbackRun(plan, "run-2", "RUN#2", NOW)
    failback_preflight.prepare(second, ports(plan, store, vms))
    assert store.layouts[(plan.name, server.name)] == recorded


def test_a_vm_on_its_client_disk_without_a_recorded_layout_is_refused(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = parse_plan(sample_plan_document)
    store, vms = InMemoryStateStore(), FakeVms()
    server = plan.servers()[0]
    vms.on_client.add(server.azure_vm_id)
    with pytest.raises(FailbackFailed, match="failback preflight, nothing changed: ") as raised:
        failback_preflight.prepare(FailbackRun(plan, "run-1", "RUN#1", NOW), ports(plan, store, vms))
    assert f"{server.name} ({server.azure_vm_id}): " in str(raised.value)
    assert store.layouts == {} and store.run_items == {}
