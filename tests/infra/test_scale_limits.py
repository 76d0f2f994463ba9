"""A stack at the DRS account quota (two plans of 150 servers) stays within every deploy-time limit, its
least-privilege grants still refuse a server outside the stack, and the local cloud refuses what AWS refuses.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import plans
from lambdas import quotas
from lambdas.ownership import OWNER_TAG_KEY
from localcloud import limits
from localcloud.cloud import LocalCloud
from localcloud.synth import synthesize

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]
STACK = "DrOrchestrator"


@pytest.fixture(scope="module")
def large_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = ROOT / "build" / f"test-plans-300-{tmp_path_factory.getbasetemp().name}"
    for name, series in (("big-a", 1), ("big-b", 2)):
        plans.write(plans.large([100, 50], name=name, series=series), folder)
    try:
        return synthesize(
            outdir=tmp_path_factory.mktemp("cdk.out-300"), plans=str(folder.relative_to(ROOT) / "*.json")
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def large_template(large_stack: Path) -> dict[str, Any]:
    return dict(json.loads(large_stack.read_text()))


def test_a_300_server_stack_is_within_every_deploy_limit(
    large_stack: Path, large_template: dict[str, Any], template: dict[str, Any]
) -> None:
    catalog = json.loads(next(large_stack.parent.glob("asset.*/plan_catalog.json")).read_text())
    assert sum(len(wave["servers"]) for plan in catalog.values() for wave in plan["waves"]) == 300
    assert limits.problems(large_template, large_stack.stat().st_size, STACK) == []
    sizes = limits.policy_sizes(large_template, STACK)
    assert max(sizes.values()) < quotas.IAM_MANAGED_POLICY_CHARS
    assert len(large_template["Resources"]) < quotas.CFN_RESOURCES
    # Constant size: the launch role's grants are as large for 300 servers as for the sample's 4.
    launch = [k for k in sizes if k.startswith("TaskslaunchwaveServiceRole")]
    assert launch and [sizes[k] for k in launch] == [limits.policy_sizes(template, STACK)[k] for k in launch]


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    """IAM's answer for one request under Allow statements (no Deny is used by the stack): the action and
    resource must match and every condition must hold; a condition key absent from the request fails."""
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if not any(fnmatch.fnmatchcase(action, a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        conditions = statement.get("Condition", {})
        if all(
            operator == "StringEquals" and all(context.get(k) == v for k, v in pairs.items())
            for operator, pairs in conditions.items()
        ):
            return True
    return False


def role_statements(template: dict[str, Any], function_prefix: str) -> list[dict[str, Any]]:
    resources = template["Resources"]
    function = next(
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and k.startswith(function_prefix)
    )
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    found: list[dict[str, Any]] = []
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role} in resource[
            "Properties"
        ].get("Roles", []):
            found.extend(
                limits.resolve(resource["Properties"]["PolicyDocument"], STACK, resources)["Statement"]
            )
    return found


SERVER = f"arn:aws:drs:{limits.REGION}:{limits.ACCOUNT_ID}:source-server/s-1000000000000000a"


@pytest.mark.parametrize(
    "action", ["drs:StartRecovery", "drs:UpdateLaunchConfiguration", "drs:DescribeRecoverySnapshots"]
)
def test_a_server_not_tagged_for_the_stack_is_refused(large_template: dict[str, Any], action: str) -> None:
    launch = role_statements(large_template, "Taskslaunchwave")
    assert allowed(launch, action, SERVER, {f"aws:ResourceTag/{OWNER_TAG_KEY}": STACK})
    assert not allowed(launch, action, SERVER, {})
    assert not allowed(launch, action, SERVER, {f"aws:ResourceTag/{OWNER_TAG_KEY}": "AnotherStack"})
    other_region = SERVER.replace(limits.REGION, "eu-west-1")
    assert not allowed(launch, action, other_region, {f"aws:ResourceTag/{OWNER_TAG_KEY}": STACK})


def test_no_role_can_tag_an_existing_source_server(large_template: dict[str, Any]) -> None:
    """Else a role could tag a foreign server for the stack and then launch it."""
    tagged = {f"aws:ResourceTag/{OWNER_TAG_KEY}": STACK}
    for resource in large_template["Resources"]:
        if (
            not resource.startswith("Tasks")
            or large_template["Resources"][resource]["Type"] != "AWS::Lambda::Function"
        ):
            continue
        statements = role_statements(large_template, resource)
        assert not allowed(statements, "drs:TagResource", SERVER, tagged), resource
        assert not allowed(statements, "drs:TagResource", SERVER, {}), resource
    launch = role_statements(large_template, "Taskslaunchwave")
    assert allowed(
        launch,
        "drs:TagResource",
        "arn:aws:drs:us-east-1:123456789012:job/drsjob-1",
        {"drs:CreateAction": "StartRecovery"},
    )


def test_the_local_cloud_refuses_a_template_aws_would_refuse(
    large_template: dict[str, Any], tmp_path: Path
) -> None:
    document = json.loads(json.dumps(large_template))
    resources = document["Resources"]
    # The shape the issue found: every server ARN in one overflow managed policy, about 23,000 characters.
    role = next(k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role")
    arns = [f"arn:aws:drs:us-east-1:123456789012:source-server/s-{n:017d}" for n in range(300)]
    resources["OverflowPolicy1"] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "drs:StartRecovery", "Resource": arns}],
            },
            "Roles": [{"Ref": role}],
        },
    }
    function = next(k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function")
    resources[function]["Properties"]["Environment"]["Variables"]["PLAN_DUMP"] = "x" * 4096
    for n in range(501 - len(resources)):
        resources[f"Filler{n}"] = {"Type": "AWS::SNS::Topic"}
    path = tmp_path / f"{STACK}.template.json"
    path.write_text(json.dumps(document))
    with pytest.raises(limits.TemplateRefused) as refused:
        LocalCloud(path, []).start()
    message = str(refused.value)
    assert "OverflowPolicy1: managed policy of" in message and "above IAM's 6144" in message
    assert f"{function}: environment of" in message and "above Lambda's 4096" in message
    assert "template: 501 resources, above the 500 of CloudFormation quotas" in message
