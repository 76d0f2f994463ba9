"""`drctl plan validate|show|init` on the local cloud: the DRS and Azure emulators are the inventories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drctl.main import main
from drctl.plans import PLACEHOLDER
from lambdas.plan import Plan, load_plan_file
from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "plans" / "sample-plan.json"


def drctl(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--stack", cloud.stack_name])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    return document


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_sample_plan_passes_and_replication_problems_warn(
    cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(SAMPLE))
    assert code == 0, out
    assert "verdict: PASSED (0 errors, 0 warnings)" in out
    assert "ok       4 source servers replicating CONTINUOUS" in out
    assert "ok       4 Azure VMs found" in out
    assert "ok       every Azure VM found can boot the failback-client image" in out
    assert "dr-DrOrchestrator-shop-azure-outage alarms when 2 fail" in out

    stalled = plan.servers()[1]
    cloud.drs.set_replication(stalled.source_server_id, "STALLED")
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(SAMPLE), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["verdict"] == "passed" and report["errors"] == 0 and report["warnings"] == 1
    warning = next(f for f in report["findings"] if f["severity"] == "warning")
    assert warning["check"] == "drs" and stalled.source_server_id in warning["subject"]
    assert "disconnected: replication is STALLED (AGENT_NOT_SEEN)" in warning["message"]
    assert report["skipped_checks"] == []


def test_unknown_source_server_and_missing_vm_fail(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = sample()
    servers = document["waves"][1]["servers"]
    servers[0]["source_server_id"] = "s-0000000000000dead"
    servers[1]["azure_vm_id"] = servers[1]["azure_vm_id"].rsplit("/", 1)[0] + "/shop-ghost"
    servers[2]["azure_vm_id"] = servers[2]["azure_vm_id"].replace("rg-shop-prod", "rg-gone")
    path = write(tmp_path / "broken.json", document)

    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(path))
    assert code == 1, out
    assert "error    shop-app-1 (s-0000000000000dead): source_server_id is not a DRS source server" in out
    assert "error    shop-app-2: azure_vm_id: VM shop-ghost not found in resource group rg-shop-prod" in out
    assert "error    shop-reports: azure_vm_id: resource group rg-gone not found in subscription" in out
    assert "verdict: FAILED (3 errors, 0 warnings)" in out

    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(path), "--json")
    assert code == 1
    errors = [(f["check"], f["subject"]) for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert errors == [
        ("drs", "shop-app-1 (s-0000000000000dead)"),
        ("azure", "shop-app-2"),
        ("azure", "shop-reports"),
    ]


def test_vms_that_cannot_fail_back_are_named_before_any_failover(
    cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str]
) -> None:
    trusted = plan.servers()[3]
    cloud.azure.reconfigure_vm(
        trusted.azure_vm_id,
        "V2",
        {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": True}},
    )
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(SAMPLE))
    assert code == 1, out
    assert f"error    {trusted.name}: cannot boot the failback client: the VM is Hyper-V generation V2" in out
    assert f"error    {trusted.name}: cannot boot the failback client: secure boot is on" in out

    cloud.azure.remove_gallery_image_version(plan.azure.failback.image_id)
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(SAMPLE))
    assert code == 1 and f"azure.failback.image_id: {plan.azure.failback.image_id} does not exist" in out


def test_a_missing_subnet_for_a_new_failback_vm_is_named(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = sample()
    subnet = (
        f"/subscriptions/{document['azure']['subscription_id']}/resourceGroups/rg-shop-prod/providers"
        "/Microsoft.Network/virtualNetworks/vnet-shop/subnets/failback"
    )
    server = document["waves"][1]["servers"][0]
    server["failback"] = {
        "target": "new",
        "new_vm": {"location": "westeurope", "vm_size": "Standard_D2s_v5", "subnet_id": subnet},
    }
    path = write(tmp_path / "new-vm.json", document)

    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(path))
    assert code == 1, out
    assert f"error    {server['name']}: failback new_vm.subnet_id {subnet} does not exist" in out

    cloud.azure.add_subnet(subnet)
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(path))
    assert code == 0, out


def test_wave_above_the_drs_job_limit_is_flagged(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = sample()
    subscription = document["azure"]["subscription_id"]
    servers = []
    for index in range(201):
        name = f"bulk-{index}"
        vm_id = (
            f"/subscriptions/{subscription}/resourceGroups/rg-bulk/providers/Microsoft.Compute/"
            f"virtualMachines/{name}"
        )
        source_server_id = cloud.drs.seed_source_server(hostname=name, azure_vm_id=vm_id)
        cloud.azure.seed_vm(resource_group="rg-bulk", name=name)
        servers.append({"name": name, "source_server_id": source_server_id, "azure_vm_id": vm_id})
    document["waves"] = [{"name": "bulk", "servers": servers}]
    document["traffic"]["aws_server"] = "bulk-0"
    path = write(tmp_path / "bulk.json", document)

    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(path))
    assert code == 0, out  # the orchestrator splits the wave into jobs of 100: a warning, not an error
    assert (
        "warning  wave bulk: 201 servers exceed the DRS limit of 100 servers per job: "
        "the wave is launched as 3 jobs at once"
    ) in out
    assert "201 source servers replicating CONTINUOUS" in out and "201 Azure VMs found" in out
    assert "verdict: PASSED (0 errors, 1 warning)" in out

    assert main(["plan", "show", str(path)]) == 0
    assert "wave 1 bulk (201 servers: above the DRS limit of 100 per job, 3 jobs)" in capsys.readouterr().out


def test_operator_errors_exit_2(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = sample()
    document["waves"][0]["servers"][0]["source_server_id"] = "srv-1"
    code, out, err = drctl(cloud, capsys, "plan", "validate", str(write(tmp_path / "bad.json", document)))
    assert code == 2 and out == ""
    assert "waves.0.servers.0.source_server_id: Expected `str` matching regex" in err

    (tmp_path / "truncated.json").write_text('{"name": "shop", "waves": [')
    code, _, err = drctl(cloud, capsys, "plan", "validate", str(tmp_path / "truncated.json"))
    assert code == 2 and "cannot read the plan as UTF-8 JSON" in err

    code = main(["plan", "validate", str(SAMPLE), "--stack", "NoSuchStack"])
    assert code == 2 and "stack NoSuchStack not found" in capsys.readouterr().err


def test_azure_check_is_skipped_without_a_usable_credential(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = cloud.azure.client_secret
    cloud.azure.rotate_secret()  # the stored secret no longer signs in
    code, out, err = drctl(cloud, capsys, "plan", "validate", str(SAMPLE))
    assert code == 0, out
    assert "warning  check skipped: Azure rejected the service principal" in out
    verdict = (
        "verdict: PASSED (0 errors, 2 warnings); not checked: Azure source VMs, failback to the Azure VMs"
    )
    assert verdict in out
    assert secret not in out + err

    secret_arn = cloud.env["AZURE_SECRET_ARN"]
    cloud.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="{}")
    code, out, _ = drctl(cloud, capsys, "plan", "validate", str(SAMPLE))
    assert code == 0
    assert "check skipped: the Azure credential secret is missing tenant_id, client_id, client_secret" in out


def test_show_prints_the_plan_and_its_waves(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "show", str(SAMPLE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("plan shop: Web shop")
    assert "  targets: RTO 30 min, RPO 15 min" in lines
    assert any(line.startswith("  traffic switch: shop.example.com A") for line in lines)
    waves = [line for line in lines if line.startswith("wave ")]
    assert waves == [
        "wave 1 database (1/100 servers per DRS job)",
        "wave 2 application (3/100 servers per DRS job)",
    ]
    reports = next(line for line in lines if "shop-reports" in line).split()
    assert reports == [
        "shop-reports",
        "s-0a1b2c3d4e5f60004",
        "optional",
        "azure",
        "shop-reports",
        "(resource",
        "group",
        "rg-shop-prod)",
    ]

    assert main(["plan", "show", str(SAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(w["name"], w["servers"], w["jobs"]) for w in document["waves"]] == [
        ("database", 1, 1),
        ("application", 3, 1),
    ]


def test_init_writes_a_loadable_starter_plan(
    cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    vm_id = plan.servers()[0].azure_vm_id.rsplit("/", 1)[0] + "/billing-api"
    cloud.azure.seed_vm(resource_group="rg-shop-prod", name="billing-api")
    tagged = cloud.drs.seed_source_server(hostname="bill01", tags={"Name": "Billing API", "AzureVmId": vm_id})
    out = tmp_path / "starter.json"

    code, stdout, err = drctl(
        cloud, capsys, "plan", "init", "--name", "starter", "--out", str(out), "--wave-size", "2"
    )
    assert code == 0, err
    assert f"wrote {out}: 5 servers in 3 waves" in stdout
    starter = load_plan_file(out)
    expected = {s.source_server_id: s.name for s in plan.servers()} | {tagged: "billing-api"}
    assert {s.source_server_id: s.name for s in starter.servers()} == expected
    assert [len(w.servers) for w in starter.waves] == [2, 2, 1]
    assert starter.azure.subscription_id == plan.azure.subscription_id
    by_name = {s.name: s for s in starter.servers()}
    assert by_name["billing-api"].azure_vm_id == vm_id
    assert all(PLACEHOLDER in s.azure_vm_id for name, s in by_name.items() if name != "billing-api")
    assert starter.traffic is None and starter.detection is None

    # validate names every placeholder and finds the tagged VM in Azure
    code, stdout, _ = drctl(cloud, capsys, "plan", "validate", str(out))
    assert code == 1
    assert "error    azure.failback.image_id: placeholder written by `drctl plan init`" in stdout
    assert "placeholder written by `drctl plan init`" in stdout and "servers[0].azure_vm_id" in stdout
    assert "ok       1 Azure VM found" in stdout
    assert "warning  no outage detection: only manual recovery" in stdout

    before = out.read_text()
    code, _, err = drctl(cloud, capsys, "plan", "init", "--name", "other", "--out", str(out))
    assert code == 2 and f"{out} exists" in err and "--force" in err
    assert out.read_text() == before
    code, _, err = drctl(cloud, capsys, "plan", "init", "--name", "other", "--out", str(out), "--force")
    assert code == 0, err
    assert load_plan_file(out).name == "other" and len(load_plan_file(out).waves) == 1
