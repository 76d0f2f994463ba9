"""cdk-nag suppressions: on the resources that have the findings, naming each finding, used by a finding of
that resource, and with reasons that hold (checked where a reason is a claim about the template)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from dr_constructs.nag import WILDCARD_ONLY, NagSuppressionError, apply_nag_suppressions

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def suppressions(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, suppression) for every suppression in the template."""
    return [
        (logical, rule)
        for logical, resource in template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_no_suppression_is_stack_wide(template: dict[str, Any]) -> None:
    assert "cdk_nag" not in template.get("Metadata", {})
    assert suppressions(template), "no resource carries a suppression"


def test_iam_suppressions_name_the_exact_findings(template: dict[str, Any]) -> None:
    for logical, rule in suppressions(template):
        if rule["id"] in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"):
            assert rule.get("applies_to"), f"{logical}: {rule['id']} without applies_to"
        assert rule["reason"].strip(), logical


def test_every_suppression_is_used_by_a_finding_of_its_resource(
    template: dict[str, Any], synthesized: Path
) -> None:
    """As many resources carry a suppression as have a finding it suppressed: none is attached in vain."""
    rows = list(csv.DictReader((synthesized.parent / "AwsSolutions--DrOrchestrator-NagReport.csv").open()))
    used = {
        (r["Rule ID"], r["Exception Reason"].split("] ", 1)[-1], r["Resource ID"])
        for r in rows
        if r["Compliance"] == "Suppressed"
    }
    carried = Counter((rule["id"], rule["reason"]) for _, rule in suppressions(template))
    assert carried == Counter((rule, reason) for rule, reason, _ in used)


def test_wildcard_resources_are_only_for_actions_that_need_them(template: dict[str, Any]) -> None:
    for logical, resource in Template.from_json(template).find_resources("AWS::IAM::Policy").items():
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in listed(statement["Resource"]):
                assert set(listed(statement["Action"])) <= set(WILDCARD_ONLY), logical
    # The wildcard suppression of a policy lists exactly what that policy grants on "*".
    (reason,) = [
        rule["reason"]
        for logical, rule in suppressions(template)
        if logical.startswith("TaskslaunchwaveServiceRoleDefaultPolicy")
        and rule["applies_to"] == ["Resource::*"]
    ]
    assert re.findall(r"[a-z0-9]+:[A-Za-z]+", reason.split(". Other")[0]) == [
        "drs:DescribeJobs",
        "drs:DescribeRecoveryInstances",
        "drs:DescribeSourceServers",
        "drs:TagResource",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeInstances",
        "ec2:DescribeLaunchTemplateVersions",
        "servicequotas:GetServiceQuota",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    assert "drs:TagResource only with drs:CreateAction StartRecovery" in reason


def _stack_granting(statement: iam.PolicyStatement) -> cdk.Stack:
    stack = cdk.Stack(cdk.App(), "Probe")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(statement)
    return stack


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (
            iam.PolicyStatement(actions=["drs:DescribeJobLogItems"], resources=["*"]),
            'Probe/Role/DefaultPolicy grants drs:DescribeJobLogItems on every resource ("*")',
        ),
        (
            iam.PolicyStatement(actions=["drs:TagResource"], resources=["*"]),
            "grants drs:TagResource on every resource without a drs:CreateAction condition",
        ),
    ],
)
def test_a_grant_on_everything_that_does_not_need_it_stops_synth(
    statement: iam.PolicyStatement, refusal: str
) -> None:
    with pytest.raises(NagSuppressionError, match=re.escape(refusal)):
        apply_nag_suppressions(_stack_granting(statement))


def test_lambda_roles_write_only_their_own_log_group(cfn: Template, template: dict[str, Any]) -> None:
    """No AWSLambdaBasicExecutionRole (logs on every log group): each role writes its function's group."""
    functions = cfn.find_resources("AWS::Lambda::Function")
    for logical, function in functions.items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"], logical
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        cfn.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "Roles": [{"Ref": role}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            {
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Effect": "Allow",
                                "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
                            }
                        ]
                    )
                },
            },
        )
    assert len(functions) == 24


def test_the_lambda_runtime_is_the_one_the_bundle_is_built_for(cfn: Template, synthesized: Path) -> None:
    """The L1 reason: Python 3.13, the version `make lambda-deps` builds compiled extensions for."""
    (version,) = re.findall(r"^LAMBDA_PY := (\d+\.\d+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    runtimes = {f["Properties"]["Runtime"] for f in cfn.find_resources("AWS::Lambda::Function").values()}
    assert runtimes == {f"python{version}"}
    tag = f"cpython-{version.replace('.', '')}-"
    extensions = [p.name for p in synthesized.parent.glob("asset.*/**/*.so")]
    assert extensions and all(tag in name or name.endswith(".abi3.so") for name in extensions)
