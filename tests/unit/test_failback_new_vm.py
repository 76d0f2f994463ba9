"""Failback target "new": the plan option and its validation, the rules that create the new VM, and the
agent installer's Run Command script."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lambdas.domain import failback as rules
from lambdas.domain.return_to_normal import INSTALLER_URL, installer_script, run_command_outcome
from lambdas.plan import parse_plan
from lambdas.validation import ValidationError, describe_validation_error

GIB = 1024**3


def subnet(document: dict[str, Any], subscription: str | None = None) -> str:
    sub = subscription or document["azure"]["subscription_id"]
    network = "providers/Microsoft.Network/virtualNetworks/vnet/subnets/app"
    return f"/subscriptions/{sub}/resourceGroups/rg/{network}"


def new_vm(document: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "vm_size": "Standard_D2s_v5",
        "subnet_id": subnet(document),
        **overrides,
    }


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        parse_plan(document)
    return describe_validation_error(raised.value)


def test_the_default_target_is_the_original_vm(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    assert {plan.failback_target(s) for s in plan.servers()} == {"original"}


def test_a_server_overrides_the_plans_target(sample_plan_document: dict[str, Any]) -> None:
    document = copy.deepcopy(sample_plan_document)
    server = document["waves"][0]["servers"][0]
    server["failback"] = {"target": "new", "new_vm": new_vm(document)}
    plan = parse_plan(document)
    targets = {s.name: plan.failback_target(s) for s in plan.servers()}
    assert targets[server["name"]] == "new" and sorted(set(targets.values())) == ["new", "original"]
    document["azure"]["failback"].update(target="new", new_vm=new_vm(document, vm_size="Standard_D4s_v5"))
    server["failback"] = {"target": "original"}
    plan = parse_plan(document)
    others = [s for s in plan.servers() if s.name != server["name"]]
    assert plan.failback_target(plan.servers()[0]) == "original"
    assert {plan.failback_target(s) for s in others} == {"new"}
    assert {getattr(plan.new_vm_for(s), "vm_size", None) for s in others} == {"Standard_D4s_v5"}


def test_target_new_without_a_new_vm_is_refused_naming_the_fields(
    sample_plan_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(sample_plan_document)
    document["waves"][0]["servers"][0]["failback"] = {"target": "new"}
    message = refusal(document)
    assert "failback.new_vm" in message and "location, vm_size and subnet_id" in message


def test_a_new_vm_in_another_subscription_or_with_a_bad_subnet_is_refused(
    sample_plan_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(sample_plan_document)
    other = "11111111-2222-3333-4444-555555555555"
    document["waves"][0]["servers"][0]["failback"] = {
        "target": "new",
        "new_vm": new_vm(document, subnet_id=subnet(document, other)),
    }
    assert "subnet_id is in subscription" in refusal(document)
    document["waves"][0]["servers"][0]["failback"]["new_vm"]["subnet_id"] = "subnet-1"
    assert "subnet_id" in refusal(document)
    document["waves"][0]["servers"][0]["failback"] = {"target": "elsewhere"}
    assert "target" in refusal(document)


def recovery_instance(*gib: int) -> dict[str, Any]:
    disks = [{"internalDeviceName": f"/dev/sd{chr(97 + i)}", "bytes": g * GIB} for i, g in enumerate(gib)]
    return {"recoveryInstanceID": "i-1", "recoveryInstanceProperties": {"disks": disks}}


def test_the_new_vm_gets_a_disk_per_volume_and_the_root_volume_its_os_disk() -> None:
    ri = recovery_instance(64, 128)
    sizes = rules.volume_sizes_gb(ri)
    ids = [f"/x/disks/{rules.new_vm_disk_name('web-failback', i)}" for i in range(len(sizes))]
    layout = rules.new_vm_layout(ids, sizes)
    assert (layout.os_disk_id, layout.os_disk_size_gb) == (ids[0], 64)
    assert [(d.lun, d.disk_id, d.size_gb) for d in layout.data_disks] == [(0, ids[1], 128)]
    # While the client runs the root volume's disk sits at the first free LUN.
    assert rules.device_mapping(ri, layout) == [
        {"recoveryInstanceDevice": "/dev/sda", "lun": 1},
        {"recoveryInstanceDevice": "/dev/sdb", "lun": 0},
    ]
    with pytest.raises(ValueError, match="no volumes"):
        rules.volume_sizes_gb(recovery_instance())


def disk(exists: bool = True, ready: bool = True) -> rules.ClientDisk:
    return rules.ClientDisk("/d", exists, ready, None)


def test_the_new_vm_is_created_once_its_disks_are_ready_and_never_twice() -> None:
    step = rules.next_step_new_vm
    assert step(vm_exists=False, vm_ours=False, disks=[disk(False)], client=disk(False)) == "create_disks"
    assert step(vm_exists=False, vm_ours=False, disks=[disk()], client=disk(False)) == "create_client_disk"
    assert step(vm_exists=False, vm_ours=False, disks=[disk(ready=False)], client=disk()) == "wait"
    assert step(vm_exists=False, vm_ours=False, disks=[disk()], client=disk()) == "create_vm"
    assert step(vm_exists=True, vm_ours=True, disks=[disk(False)], client=disk(False)) == "exists"
    with pytest.raises(ValueError, match="not touched"):
        step(vm_exists=True, vm_ours=False, disks=[disk()], client=disk())


def test_the_installer_script_runs_the_user_guides_installer_unattended() -> None:
    credentials = {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "se cret'", "SessionToken": "tok"}
    script = installer_script("eu-west-1", credentials, "https://drs.eu-west-1.amazonaws.com")
    assert script[0] == f"wget -O ./aws-replication-installer-init {INSTALLER_URL.format(region='eu-west-1')}"
    assert "aws-elastic-disaster-recovery-eu-west-1.s3.eu-west-1.amazonaws.com" in script[0]
    assert "--no-prompt" in script[2] and "--endpoint" not in script[2]
    assert "'se cret'\"'\"''" in script[2]  # quoted for the shell
    local = installer_script("us-east-1", credentials, "http://127.0.0.1:5000")
    assert local[2].endswith("--endpoint http://127.0.0.1:5000")


def test_run_command_output_is_kept_without_credentials() -> None:
    result = {"value": [{"code": "ProvisioningState/failed", "message": "Enable failed: key tok used"}]}
    outcome = run_command_outcome(result, ["tok"])
    assert outcome == {"status": "failed", "output": "Enable failed: key *** used"}
    ok = {"value": [{"code": "ProvisioningState/succeeded", "message": "Enable succeeded: done"}]}
    assert run_command_outcome(ok, [])["status"] == "succeeded"
    assert run_command_outcome(None, [])["status"] == "running"
