"""Stack tags and termination protection from context (cdk.json, or -c), validated with the key named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from dr_constructs.deploy_options import DeployOptionError, DeployOptions
from localcloud.synth import synthesize

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def options(context: dict[str, object]) -> DeployOptions:
    return DeployOptions.from_context(context.get)


def manifest_properties(template_path: Path, stack: str = "DrOrchestrator") -> dict[str, Any]:
    manifest = json.loads((template_path.parent / "manifest.json").read_text())
    return dict(manifest["artifacts"][stack]["properties"])


def test_cdk_json_states_both_defaults() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert context["dr:tags"] == {} and context["dr:terminationProtection"] is True
    assert options(context) == DeployOptions(tags={}, termination_protection=True)


def test_values_from_the_command_line_are_strings() -> None:
    parsed = options({"dr:tags": '{"cost-center": "dr"}', "dr:terminationProtection": "false"})
    assert parsed == DeployOptions(tags={"cost-center": "dr"}, termination_protection=False)


@pytest.mark.parametrize(
    ("context", "error"),
    [
        ({"dr:tags": "cost-center=dr"}, "context dr:tags: not JSON"),
        ({"dr:tags": ["cost-center", "dr"]}, "context dr:tags: must be an object of tag names to values"),
        ({"dr:tags": {"owner": 7}}, "context dr:tags.owner: the value must be a string (got 7)"),
        ({"dr:tags": {"aws:owner": "x"}}, "context dr:tags.aws:owner: a tag name has 1 to 128 characters"),
        ({"dr:tags": {"a" * 129: "x"}}, "a tag name has 1 to 128 characters"),
        ({"dr:tags": {"owner": "x" * 257}}, "context dr:tags.owner: a tag value has at most 256 characters"),
        ({"dr:tags": {"owner": "a\nb"}}, "context dr:tags.owner: tag names and values may hold"),
        (
            {"dr:tags": {f"k{n}": "v" for n in range(51)}},
            "context dr:tags: 51 tags, CloudFormation allows 50",
        ),
        (
            {"dr:terminationProtection": "yes"},
            'context dr:terminationProtection: must be true or false (got "yes")',
        ),
        ({"dr:terminationProtection": 1}, "context dr:terminationProtection: must be true or false (got 1)"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(context: dict[str, object], error: str) -> None:
    with pytest.raises(DeployOptionError) as refused:
        options(context)
    assert error in str(refused.value)


def test_the_default_stack_is_termination_protected_and_untagged(synthesized: Path, cfn: Template) -> None:
    assert manifest_properties(synthesized)["terminationProtection"] is True
    assert "tags" not in manifest_properties(synthesized)
    assert not cfn.find_resources("AWS::Lambda::Function", {"Properties": {"Tags": Match.any_value()}})


def test_tags_reach_the_stack_and_its_resources(tmp_path: Path) -> None:
    path = synthesize(
        outdir=tmp_path,
        extra_context={
            "dr:tags": '{"cost-center": "dr", "owner": "platform"}',
            "dr:terminationProtection": "false",
        },
    )
    properties = manifest_properties(path)
    assert properties["terminationProtection"] is False
    assert properties["tags"] == {"cost-center": "dr", "owner": "platform"}
    cfn = Template.from_json(json.loads(path.read_text()))
    tags = Match.array_with([{"Key": "cost-center", "Value": "dr"}, {"Key": "owner", "Value": "platform"}])
    for resource_type in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::IAM::Role"):
        untagged = cfn.find_resources(resource_type, {"Properties": {"Tags": Match.absent()}})
        assert untagged == {}, resource_type
    cfn.all_resources_properties("AWS::Lambda::Function", {"Tags": tags})
    cfn.has_resource_properties("AWS::DynamoDB::Table", {"Tags": tags})


def test_a_bad_context_value_stops_synth_with_the_key_named(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        synthesize(outdir=tmp_path, extra_context={"dr:tags": '{"owner": 7}'})
    assert "error: context dr:tags.owner: the value must be a string (got 7)" in str(error.value)
    assert "Traceback" not in str(error.value)
    assert not (tmp_path / "DrOrchestrator.template.json").exists()
