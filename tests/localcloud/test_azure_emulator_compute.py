"""The emulator's compute state machine on a manual clock (no HTTP, no sleeping)."""

from __future__ import annotations

import pytest

from localcloud.azure.compute import ArmError, AzureTiming, Compute

SUB = "00000000-0000-0000-0000-000000000003"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def compute(clock: Clock) -> Compute:
    compute = Compute(SUB, AzureTiming(operation=10, create=20), clock)
    compute.seed_vm(
        resource_group="rg",
        name="web-1",
        size="Standard_D2s_v5",
        os_disk_gb=64,
        data_disks_gb=[],
        power_state="running",
        tags={},
        location="westeurope",
    )
    return compute


def power(compute: Compute) -> str:
    statuses = compute.instance_view("rg", "web-1")["statuses"]
    return str(statuses[1]["code"])


def test_operation_completes_once_its_duration_has_passed(compute: Compute, clock: Clock) -> None:
    operation = compute.run_action("rg", "web-1", "deallocate")

    clock.now = 9.9
    assert compute.operation_status(operation.id)["status"] == "InProgress"
    assert power(compute) == "PowerState/deallocating"

    clock.now = 10
    assert compute.operation_status(operation.id)["status"] == "Succeeded"
    assert power(compute) == "PowerState/deallocated"


def test_newer_operation_preempts_the_pending_one(compute: Compute, clock: Clock) -> None:
    deallocate = compute.run_action("rg", "web-1", "deallocate")
    clock.now = 5
    start = compute.run_action("rg", "web-1", "start")

    status = compute.operation_status(deallocate.id)
    assert status["status"] == "Canceled"
    assert status["error"]["code"] == "OperationPreempted"

    clock.now = 15
    assert compute.operation_status(start.id)["status"] == "Succeeded"
    assert power(compute) == "PowerState/running"


def test_no_change_while_deleting(compute: Compute) -> None:
    compute.delete_vm("rg", "web-1")

    with pytest.raises(ArmError) as conflict:
        compute.run_action("rg", "web-1", "start")

    assert (conflict.value.status, conflict.value.code) == (409, "OperationNotAllowed")
