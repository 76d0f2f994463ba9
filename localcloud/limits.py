"""What CloudFormation, IAM and Lambda refuse at deploy, checked on the synthesized template before the local
cloud creates anything: a stack the real services would refuse must not run here either. The figures and
their sources are in lambdas/quotas.py.

Sizes are measured on the template as it deploys, with every Ref and Fn::GetAtt replaced by a value as long
as the real one (a CloudFormation physical name is <stack>-<logical id>-<12-13 random characters>): CDK's own
policy-size estimate counts unresolved tokens and comes out far too small.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas import quotas

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# A CloudFormation-generated suffix: 12 or 13 characters; the longer for margin.
_SUFFIX = "ABCDEFGH1J2K3"


class TemplateRefused(Exception):
    """The real service would refuse this template; the message names each limit and its source."""


def iam_size(document: Any) -> int:
    """Characters of a policy as IAM counts them: "IAM doesn't count white space" (IAM quotas page)."""
    return sum(1 for char in json.dumps(document, separators=(",", ":")) if not char.isspace())


def resolve(value: Any, stack: str, resources: Mapping[str, dict[str, Any]]) -> Any:
    """The value with intrinsic functions replaced by realistic deployed values."""
    if isinstance(value, list):
        return [resolve(v, stack, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return _ref(str(arg), stack, resources)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return _attribute(str(logical), str(attribute), stack, resources)
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(str(resolve(p, stack, resources)) for p in parts)
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, stack, resources)[int(index)]
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, stack, resources)).split(separator)
    return {k: resolve(v, stack, resources) for k, v in value.items()}


def _ref(name: str, stack: str, resources: Mapping[str, dict[str, Any]]) -> str:
    pseudo = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack}/{'0' * 36}",
        "AWS::NoValue": "",
    }
    if name in pseudo:
        return pseudo[name]
    resource_type = str(resources.get(name, {}).get("Type", "AWS::Unknown::Resource"))
    physical = f"{stack}-{name}-{_SUFFIX}"
    # Ref of these types is an ARN; of the others a name or id.
    arn_refs = (
        "AWS::SNS::Topic",
        "AWS::IAM::ManagedPolicy",
        "AWS::SecretsManager::Secret",
        "AWS::StepFunctions::StateMachine",
    )
    if resource_type in arn_refs:
        return _arn(resource_type, physical)
    return physical[:64] if resource_type == "AWS::IAM::Role" else physical


def _attribute(logical: str, attribute: str, stack: str, resources: Mapping[str, dict[str, Any]]) -> str:
    resource_type = str(resources.get(logical, {}).get("Type", "AWS::Unknown::Resource"))
    physical = f"{stack}-{logical}-{_SUFFIX}"
    if attribute.endswith("Arn"):
        return _arn(resource_type, physical)
    return physical


def _arn(resource_type: str, physical: str) -> str:
    _, service, kind = [*resource_type.split("::"), "", "", ""][:3]
    service = service.lower()
    global_services = {"iam": f"arn:aws:iam::{ACCOUNT_ID}:", "s3": "arn:aws:s3:::"}
    prefix = global_services.get(service, f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:")
    if service == "s3":
        return prefix + physical.lower()[:63]
    if service == "iam":
        return prefix + ("policy/" if kind == "ManagedPolicy" else "role/") + physical[:64]
    if service == "lambda":
        return prefix + "function:" + physical[:64]
    if service == "stepfunctions":
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{physical[:80]}"
    return prefix + kind.lower() + "/" + physical


def problems(document: dict[str, Any], template_bytes: int, stack: str) -> list[str]:
    """Every limit the template breaks, each message naming the resource, the size and the limit."""
    found: list[str] = []
    resources: dict[str, dict[str, Any]] = document.get("Resources", {})
    cfn = "CloudFormation quotas"
    if template_bytes > quotas.CFN_TEMPLATE_BYTES:
        found.append(f"template: {template_bytes} bytes, above the {quotas.CFN_TEMPLATE_BYTES} of {cfn}")
    for section, limit in (
        ("Resources", quotas.CFN_RESOURCES),
        ("Outputs", quotas.CFN_OUTPUTS),
        ("Parameters", quotas.CFN_PARAMETERS),
        ("Mappings", quotas.CFN_MAPPINGS),
    ):
        count = len(document.get(section, {}))
        if count > limit:
            found.append(f"template: {count} {section.lower()}, above the {limit} of {cfn}")

    found += failed_rules(document, stack)
    inline: dict[str, int] = defaultdict(int)
    attached: dict[str, int] = defaultdict(int)
    for logical, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                inline[logical] += iam_size(resolve(policy.get("PolicyDocument"), stack, resources))
            attached[logical] += len(props.get("ManagedPolicyArns", []))
        elif kind == "AWS::IAM::Policy":
            size = iam_size(resolve(props.get("PolicyDocument"), stack, resources))
            for role in props.get("Roles", []):
                inline[_role_of(role)] += size
        elif kind == "AWS::IAM::ManagedPolicy":
            size = iam_size(resolve(props.get("PolicyDocument"), stack, resources))
            if size > quotas.IAM_MANAGED_POLICY_CHARS:
                found.append(
                    f"{logical}: managed policy of {size} characters, above IAM's "
                    f"{quotas.IAM_MANAGED_POLICY_CHARS} (IAM quotas: managed policy size)"
                )
            for role in props.get("Roles", []):
                attached[_role_of(role)] += 1
        elif kind == "AWS::Lambda::Function":
            variables = resolve(props.get("Environment", {}).get("Variables", {}), stack, resources)
            size = len(json.dumps(variables, separators=(",", ":")).encode())
            if size > quotas.LAMBDA_ENVIRONMENT_BYTES:
                found.append(
                    f"{logical}: environment of {size} bytes, above Lambda's "
                    f"{quotas.LAMBDA_ENVIRONMENT_BYTES} (Lambda quotas: environment variables)"
                )
    for role, size in sorted(inline.items()):
        if size > quotas.IAM_ROLE_INLINE_POLICY_CHARS:
            found.append(
                f"{role}: inline policies of {size} characters together, above IAM's "
                f"{quotas.IAM_ROLE_INLINE_POLICY_CHARS} per role (IAM quotas: role policy size)"
            )
    for role, count in sorted(attached.items()):
        if count > quotas.IAM_MANAGED_POLICIES_PER_ROLE:
            found.append(
                f"{role}: {count} managed policies attached, above IAM's default quota of "
                f"{quotas.IAM_MANAGED_POLICIES_PER_ROLE} per role"
            )
    return found


def failed_rules(document: dict[str, Any], stack: str, region: str = REGION) -> list[str]:
    """The template's Rules assertions that fail in `region`: CloudFormation refuses to create or update the
    stack then, with the assertion's description (template Rules section). Assertions on the stack's own
    parameters (CDK's bootstrap version check) are left out: the local cloud has no bootstrap stack."""
    found = []
    for name, rule in document.get("Rules", {}).items():
        condition = _rule_value(rule.get("RuleCondition", True), stack, region)
        if condition is not True:
            continue
        for assertion in rule.get("Assertions", []):
            if _rule_value(assertion["Assert"], stack, region) is False:
                found.append(f"Rules.{name}: {assertion.get('AssertDescription', 'assertion failed')}")
    return found


def _rule_value(value: Any, stack: str, region: str) -> Any:
    """A rule function's value over pseudo parameters and literals; None when it needs a parameter."""
    if not isinstance(value, dict):
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        pseudo = {"AWS::Region": region, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack}
        return pseudo.get(str(arg))
    values = [_rule_value(v, stack, region) for v in (arg if isinstance(arg, list) else [arg])]
    if any(v is None for v in values):
        return None
    operations = {
        "Fn::Equals": lambda: values[0] == values[1],
        "Fn::Not": lambda: not values[0],
        "Fn::And": lambda: all(values),
        "Fn::Or": lambda: any(values),
        "Fn::Contains": lambda: values[1] in values[0],
    }
    return operations[key]() if key in operations else None


def policy_sizes(document: dict[str, Any], stack: str) -> dict[str, int]:
    """IAM size of every policy document of the template (managed, inline, and roles' inline policies)."""
    resources: dict[str, dict[str, Any]] = document.get("Resources", {})
    sizes: dict[str, int] = {}
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            sizes[logical] = iam_size(resolve(props.get("PolicyDocument"), stack, resources))
        elif resource.get("Type") == "AWS::IAM::Role":
            for index, policy in enumerate(props.get("Policies", [])):
                sizes[f"{logical}.Policies[{index}]"] = iam_size(
                    resolve(policy.get("PolicyDocument"), stack, resources)
                )
    return sizes


def check(path: Path) -> None:
    """Raise TemplateRefused listing every limit the synthesized template at `path` breaks."""
    raw = path.read_bytes()
    stack = path.name.removesuffix(".template.json")
    found = problems(json.loads(raw), len(raw), stack)
    if found:
        raise TemplateRefused(f"{path.name} would be refused at deploy:\n- " + "\n- ".join(found))


def _role_of(reference: Any) -> str:
    return str(reference.get("Ref")) if isinstance(reference, dict) else str(reference)
