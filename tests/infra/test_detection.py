"""The synthesized outage signal: health checks, endpoint alarms, and the composite quorum rule, checked
by evaluating the rule the template deploys against alarm states."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from localcloud import limits
from localcloud.synth import synthesize
from tests.infra.test_template import rules_on

pytestmark = pytest.mark.infra


def composite_rule(cfn: Template) -> str:
    (alarm,) = cfn.find_resources("AWS::CloudWatch::CompositeAlarm").values()
    parts = alarm["Properties"]["AlarmRule"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] for p in parts)


def endpoint_alarms(cfn: Template, **expected: Any) -> dict[str, Mapping[str, Any]]:
    """The alarms on Route 53 health checks (the stack's other alarms watch its own failures), with the
    expected properties too, if any."""
    pattern = {"Properties": {"Namespace": "AWS/Route53", **expected}}
    return dict(cfn.find_resources("AWS::CloudWatch::Alarm", pattern))


def evaluate(rule: str, in_alarm: set[str]) -> bool:
    """CloudWatch composite-rule semantics for ALARM("x"), AND, OR and parentheses."""
    expression = re.sub(r'ALARM\("([^"]+)"\)', lambda m: str(m.group(1) in in_alarm), rule)
    expression = expression.replace(" AND ", " and ").replace(" OR ", " or ")
    assert re.fullmatch(r"[()TrueFalsandor ]+", expression), expression
    return bool(eval(expression))  # only True/False/and/or/parentheses remain


def test_health_check_per_endpoint(cfn: Template) -> None:
    cfn.resource_count_is("AWS::Route53::HealthCheck", 3)
    cfn.has_resource_properties(
        "AWS::Route53::HealthCheck",
        {
            "HealthCheckConfig": Match.object_like(
                {
                    "FullyQualifiedDomainName": "shop-azure.example.com",
                    "Type": "HTTPS_STR_MATCH",
                    "SearchString": "ok",
                    "ResourcePath": "/health",
                    "RequestInterval": 30,
                    "FailureThreshold": 3,
                }
            )
        },
    )
    cfn.has_resource_properties(
        "AWS::Route53::HealthCheck",
        {"HealthCheckConfig": Match.object_like({"IPAddress": "20.50.10.11", "Type": "TCP", "Port": 443})},
    )


def test_endpoint_alarms_need_consecutive_failures(cfn: Template) -> None:
    alarms = endpoint_alarms(cfn)
    assert len(alarms) == 3
    assert alarms == endpoint_alarms(
        cfn,
        MetricName="HealthCheckStatus",
        EvaluationPeriods=3,
        DatapointsToAlarm=3,
        ComparisonOperator="LessThanThreshold",
        Threshold=1,
        TreatMissingData="notBreaching",
    )


def test_composite_needs_a_quorum_of_two_of_three(cfn: Template) -> None:
    rule = composite_rule(cfn)
    alarms = sorted(endpoint_alarms(cfn))
    assert len(alarms) == 3
    for states in product([False, True], repeat=3):
        down = {name for name, is_down in zip(alarms, states, strict=True) if is_down}
        assert evaluate(rule, down) == (len(down) >= 2), down
    assert "2 of 3 endpoints" in json.dumps(cfn.find_resources("AWS::CloudWatch::CompositeAlarm"))


def test_one_probe_down_or_flapping_alone_never_alarms(cfn: Template) -> None:
    rule = composite_rule(cfn)
    alarms = sorted(endpoint_alarms(cfn))
    # One endpoint flapping ALARM/OK/ALARM while the others are healthy: the composite stays OK throughout.
    for flapping in (set(), {alarms[0]}, set(), {alarms[0]}):
        assert evaluate(rule, flapping) is False
    assert evaluate(rule, set(alarms)) is True


def region_assertions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a
        for rule in template.get("Rules", {}).values()
        for a in rule["Assertions"]
        if "AWS::Region" in json.dumps(a["Assert"])
    ]


def test_an_environment_agnostic_stack_refuses_regions_without_route53_metrics(
    template: dict[str, Any],
) -> None:
    (assertion,) = region_assertions(template)
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert "deploy the stack in us-east-1" in assertion["AssertDescription"]
    assert limits.failed_rules(template, "DrOrchestrator", region="us-east-1") == []
    (refused,) = limits.failed_rules(template, "DrOrchestrator", region="eu-west-1")
    assert "plans shop have a detection section" in refused


def test_an_explicit_region_without_route53_metrics_stops_synth(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        synthesize(outdir=tmp_path, extra_context={"region": "eu-west-1"})
    assert "deploy the stack in us-east-1 (not eu-west-1)" in str(error.value)
    assert "Traceback" not in str(error.value)
    assert not (tmp_path / "DrOrchestrator.template.json").exists()


def test_an_explicit_us_east_1_stack_synthesizes_without_the_rule(tmp_path: Path) -> None:
    document = json.loads(synthesize(outdir=tmp_path, extra_context={"region": "us-east-1"}).read_text())
    assert region_assertions(document) == []
    assert len(endpoint_alarms(Template.from_json(document))) == 3


def outage_names(cfn: Template) -> tuple[str, list[str]]:
    """The composite alarm's name and the names the recovery rule listens to."""
    (alarm,) = cfn.find_resources("AWS::CloudWatch::CompositeAlarm").values()
    (rule,) = rules_on(cfn, "aws.cloudwatch").values()
    return alarm["Properties"]["AlarmName"], rule["Properties"]["EventPattern"]["detail"]["alarmName"]


def test_two_stacks_with_one_plan_name_have_their_own_outage_alarm(cfn: Template, tmp_path: Path) -> None:
    assert outage_names(cfn) == (
        "dr-DrOrchestrator-shop-azure-outage",
        ["dr-DrOrchestrator-shop-azure-outage"],
    )
    other = Template.from_json(json.loads(synthesize(outdir=tmp_path, stack_name="DrOther").read_text()))
    assert outage_names(other) == ("dr-DrOther-shop-azure-outage", ["dr-DrOther-shop-azure-outage"])
