"""The pure parts of `drctl plan`: findings, formatting, and the starter plan."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drctl import plan_init, plans
from drctl.plans import PLACEHOLDER, Finding, Validation
from drctl.stack import OperatorError, Stack
from lambdas.plan import Plan, parse_plan

SUBSCRIPTION = "3f2b6c1e-8d4a-4b7e-9c1d-2a5e6f7a8b9c"


@pytest.fixture
def plan(sample_plan_document: dict[str, Any]) -> Plan:
    return parse_plan(sample_plan_document)


def source_server(sid: str, state: str = "CONTINUOUS", lag: str = "PT2S", **extra: Any) -> dict[str, Any]:
    return {
        "sourceServerID": sid,
        "dataReplicationInfo": {"dataReplicationState": state, "lagDuration": lag},
        **extra,
    }


def severities(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.subject) for f in findings]


def test_drs_findings(plan: Plan) -> None:
    ids = [s.source_server_id for s in plan.servers()]
    inventory = [
        source_server(ids[0]),
        source_server(ids[1], state="DISCONNECTED"),
        source_server(ids[2], lag="PT10M"),  # above preflight.max_lag_seconds 300
    ]
    findings = plans.drs_findings(plan, inventory)
    assert severities(findings) == [
        ("warning", f"shop-app-1 ({ids[1]})"),
        ("warning", f"shop-app-2 ({ids[2]})"),
        ("error", f"shop-reports ({ids[3]})"),
        ("ok", ""),
    ]
    assert "disconnected: replication is DISCONNECTED" in findings[0].message
    assert "lag 600s exceeds preflight.max_lag_seconds (300s)" in findings[1].message
    assert findings[3].message.startswith("1 source server replicating CONTINUOUS")

    initial = plans.drs_findings(plan, [source_server(i, state="INITIAL_SYNC", lag="") for i in ids])
    assert all("replication is INITIAL_SYNC, not CONTINUOUS" in f.message for f in initial)


def test_azure_findings(plan: Plan) -> None:
    groups: dict[str, set[str] | None] = {"rg-shop-prod": {"shop-db-1", "shop-app-1", "shop-app-2"}}
    findings = plans.azure_findings(plan, groups)
    assert severities(findings) == [("error", "shop-reports"), ("ok", "")]
    assert "VM shop-reports not found in resource group rg-shop-prod" in findings[0].message
    assert findings[1].message == "3 Azure VMs found"

    missing_group = plans.azure_findings(plan, {"rg-shop-prod": None})
    assert len(missing_group) == 4
    assert all("resource group rg-shop-prod not found" in f.message for f in missing_group)


def test_a_missing_vm_of_a_server_failing_back_to_a_new_vm_is_a_warning(
    sample_plan_document: dict[str, Any],
) -> None:
    document = copy.deepcopy(sample_plan_document)
    subnet = (
        f"/subscriptions/{document['azure']['subscription_id']}/resourceGroups/rg/providers/Microsoft.Network"
        "/virtualNetworks/vnet/subnets/app"
    )
    document["waves"][-1]["servers"][-1]["failback"] = {
        "target": "new",
        "new_vm": {"location": "westeurope", "vm_size": "Standard_D2s_v5", "subnet_id": subnet},
    }
    groups: dict[str, set[str] | None] = {"rg-shop-prod": {"shop-db-1", "shop-app-1", "shop-app-2"}}
    findings = plans.azure_findings(parse_plan(document), groups)
    assert severities(findings) == [("warning", "shop-reports"), ("ok", "")]
    assert "failback target 'new' creates a new VM" in findings[0].message


def test_wave_findings(sample_plan_document: dict[str, Any]) -> None:
    template = sample_plan_document["waves"][0]["servers"][0]
    servers = [
        dict(
            template,
            name=f"s{i}",
            source_server_id=f"s-{i:017d}",
            azure_vm_id=template["azure_vm_id"].rsplit("/", 1)[0] + f"/vm{i}",
        )
        for i in range(101)
    ]
    small = plans.wave_findings(parse_plan(sample_plan_document))
    assert severities(small) == [("ok", "")] and "at most 3 per wave" in small[0].message

    sample_plan_document["waves"] = [{"name": "big", "servers": servers}]
    sample_plan_document["traffic"]["aws_server"] = "s0"
    big = plans.wave_findings(parse_plan(sample_plan_document))
    assert severities(big) == [("warning", "wave big")]
    assert "101 servers exceed the DRS limit of 100" in big[0].message and "2 jobs" in big[0].message


def test_detection_findings(sample_plan_document: dict[str, Any]) -> None:
    with_endpoints = plans.detection_findings(parse_plan(sample_plan_document), "Dr")
    assert severities(with_endpoints) == [("ok", "")]

    document = copy.deepcopy(sample_plan_document)
    del document["detection"]
    document["triggers"] = {"automatic_failover": False, "alarm_names": []}
    none = plans.detection_findings(parse_plan(document), "Dr")
    assert severities(none) == [("warning", "")]
    assert none[0].message.startswith("no outage detection: only manual recovery")

    document["triggers"]["alarm_names"] = ["app-5xx"]
    own = plans.detection_findings(parse_plan(document), "Dr")
    assert severities(own) == [("ok", "triggers.alarm_names"), ("ok", "triggers.automatic_failover")]


def test_format_validation_groups_findings_and_gives_a_verdict() -> None:
    validation = Validation(
        "shop",
        "shop.json",
        "Dr",
        [
            Finding("drs", "ok", "3 fine"),
            Finding("drs", "error", "gone", "web"),
            Finding("detection", "warning", "none"),
        ],
    )
    assert plans.format_validation(validation).splitlines() == [
        "plan shop (shop.json) against stack Dr",
        "DRS source servers",
        "  error    web: gone",
        "  ok       3 fine",
        "outage detection",
        "  warning  none",
        "verdict: FAILED (1 error, 1 warning)",
    ]
    document = validation.document()
    assert document["verdict"] == "failed" and document["findings"][1]["subject"] == "web"

    validation.findings = [plans.skipped("azure", "no secret")]
    assert plans.format_validation(validation).splitlines()[-2:] == [
        "  warning  check skipped: no secret",
        "verdict: PASSED (0 errors, 1 warning); not checked: Azure source VMs",
    ]
    assert validation.document()["skipped_checks"] == ["azure"]


def test_starter_plan_loads_and_marks_placeholders() -> None:
    tagged = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/db"
    inventory = [
        source_server("s-00000000000000002", tags={"Name": "DB Server #1", "azure-vm-id": tagged}),
        source_server(
            "s-00000000000000001",
            sourceProperties={"identificationHints": {"hostname": "Web01.contoso.local"}},
        ),
        source_server(
            "s-00000000000000003",
            sourceProperties={"identificationHints": {"hostname": "web01"}},
        ),
        source_server("s-0000000000000000A"),  # neither tag nor hostname: named after its id
        source_server("s-00000000000000009", isArchived=True),
        source_server("s-00000000000000008", replicationDirection="FAILBACK"),
    ]
    starter = plan_init.starter_plan("new-app", inventory, wave_size=3)
    plan = parse_plan(starter.document)
    assert [[s.name for s in w.servers] for w in plan.waves] == [
        ["db-server-1", "s-0000000000000000a", "web01"],
        ["web01-2"],
    ]
    assert plan.azure.subscription_id == SUBSCRIPTION
    vm_ids = {s.name: s.azure_vm_id for s in plan.servers()}
    assert vm_ids["db-server-1"] == tagged
    assert PLACEHOLDER in vm_ids["web01"]
    findings = plans.placeholder_findings(plan)
    assert {f.subject for f in findings} == {
        "waves[0].servers[1].azure_vm_id",
        "waves[0].servers[2].azure_vm_id",
        "waves[1].servers[0].azure_vm_id",
        "azure.failback.image_id",
    }
    assert all(f.severity == "error" for f in findings)
    assert set(starter.placeholders()) == {f.subject for f in findings}


def test_starter_plan_without_tags_uses_a_placeholder_subscription() -> None:
    starter = plan_init.starter_plan("x", [source_server("s-00000000000000001")], wave_size=100)
    plan = parse_plan(starter.document)
    subjects = {f.subject for f in plans.placeholder_findings(plan)}
    assert "azure.subscription_id" in subjects and "waves[0].servers[0].azure_vm_id" in subjects


@pytest.mark.parametrize(
    ("name", "inventory", "wave_size", "message"),
    [
        ("Shop", [source_server("s-00000000000000001")], 10, "--name 'Shop'"),
        ("shop", [source_server("s-00000000000000001")], 201, "--wave-size 201"),
        ("shop", [], 10, "no replicating DRS source servers"),
        ("shop", [source_server(f"s-{i:017d}") for i in range(21)], 1, "pass a larger --wave-size"),
    ],
)
def test_starter_plan_refusals(
    name: str, inventory: list[dict[str, Any]], wave_size: int, message: str
) -> None:
    with pytest.raises(OperatorError, match=re.escape(message)):
        plan_init.starter_plan(name, inventory, wave_size)


class _Secrets:
    def __init__(self, error: str | None = None, secret: str = "{}") -> None:
        self.error = error
        self.secret = secret

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "denied"}}, "GetSecretValue")
        return {"SecretString": self.secret}


class _Session:
    def __init__(self, secrets: _Secrets) -> None:
        self.secrets = secrets

    def client(self, service: str, config: Any = None) -> Any:
        assert service == "secretsmanager"
        return self.secrets


def stack_with(secrets: _Secrets) -> Stack:
    return Stack("Dr", {"AzureCredentialSecretArn": "arn:aws:secretsmanager:x"}, _Session(secrets))


def test_azure_check_skipped_when_the_secret_cannot_be_read(plan: Plan) -> None:
    findings = plans.azure_check(stack_with(_Secrets(error="AccessDeniedException")), plan)
    # The failback check needs the same secret: both are reported skipped, never passed.
    assert severities(findings) == [("warning", ""), ("warning", "")]
    assert [(f.check, f.skipped) for f in findings] == [("azure", True), ("failback", True)]
    assert (
        "check skipped: cannot read the Azure credential secret (AccessDeniedException)"
        in findings[0].message
    )
    assert "secretsmanager:GetSecretValue" in findings[0].message

    partial = '{"tenant_id": "t", "client_id": "c", "client_secret": ""}'
    findings = plans.azure_check(stack_with(_Secrets(secret=partial)), plan)
    assert "missing client_secret" in findings[0].message

    no_output = Stack("Dr", {}, _Session(_Secrets()))
    assert "no output AzureCredentialSecretArn" in plans.azure_check(no_output, plan)[0].message
