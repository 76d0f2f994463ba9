"""The operator role can use drctl: every AWS API drctl's source calls is declared in drctl/aws_calls.py,
and the synthesized template's policies allow each to the operator role on its resource (and on no other
stack's), with "*" only for APIs that have no resource-level permissions."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Match, Template
from botocore import xform_name

from drctl.aws_calls import OPERATOR_CALLS, Call
from localcloud import limits
from tests.infra.test_scale_limits import allowed

pytestmark = pytest.mark.infra
DRCTL = Path(__file__).resolve().parents[2] / "drctl"
STACK = "DrOrchestrator"


# -- the calls in drctl's source -------------------------------------------------------------------------


def _client_service(node: ast.AST, bound: dict[str, str]) -> str | None:
    """The service of `<x>.client("svc", ...)`, or of a name bound to one."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _operations_on(function: ast.AST, parameter: str) -> set[str]:
    """Methods called on `parameter` (or an expression holding it, like `(dynamodb or client(...))`)."""
    found = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if any(isinstance(n, ast.Name) and n.id == parameter for n in ast.walk(receiver)):
                found.add(node.func.attr)
    return found


def _imports(tree: ast.Module) -> dict[str, str]:
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
    return names


def _callee(call: ast.Call, imports: dict[str, str]) -> Any:
    """The function object a call like `module.function(...)` refers to."""
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        module = importlib.import_module(imports[call.func.value.id])
        return getattr(module, call.func.attr)
    raise AssertionError(f"line {call.lineno}: a client is handed to {ast.unparse(call.func)}: declare it")


def _calls_in(path: Path) -> Iterator[tuple[str, str]]:
    tree = ast.parse(path.read_text())
    imports = _imports(tree)
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        bound: dict[str, str] = {}
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                service = _client_service(node.value, {})
                if service:
                    bound[node.targets[0].id] = service
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "client"
                and not _client_service(node, bound)
            ):
                # Only the Stack.client wrapper itself may name the service by a variable.
                assert function.name == "client", f"{path.name}:{node.lineno}: client of which service?"
                continue
            if isinstance(node.func, ast.Attribute):
                service = _client_service(node.func.value, bound)
                if service:
                    method = node.func.attr
                    if method == "get_paginator":
                        method = ast.literal_eval(node.args[0])
                    yield service, method
                    continue
            handed: list[tuple[int | str | None, ast.expr]] = [
                (i, a) for i, a in enumerate(node.args) if _client_service(a, bound)
            ]
            handed += [(k.arg, k.value) for k in node.keywords if _client_service(k.value, bound)]
            for position, argument in handed:
                callee = _callee(node, imports)
                parameters = list(inspect.signature(callee).parameters)
                assert position is not None, f"{path.name}:{node.lineno}: a client in **kwargs"
                parameter = position if isinstance(position, str) else parameters[position]
                source = ast.parse(inspect.getsource(callee).strip())
                service = _client_service(argument, bound)
                assert service is not None
                for method in _operations_on(source, str(parameter)):
                    yield service, method


def drctl_calls() -> set[tuple[str, str]]:
    return {call for path in sorted(DRCTL.glob("*.py")) for call in _calls_in(path)}


def test_every_aws_call_in_drctl_is_declared() -> None:
    found = drctl_calls()
    declared = {(c.service, c.operation) for c in OPERATOR_CALLS}
    assert found - declared == set(), "drctl calls these: add them to drctl/aws_calls.py (and grant them)"
    assert declared - found == set(), "drctl no longer calls these: remove them from drctl/aws_calls.py"
    # The parser sees calls on chained clients, named clients, paginators and clients handed to helpers.
    assert {("cloudformation", "describe_stacks"), ("drs", "describe_source_servers")} <= found
    assert {("stepfunctions", "describe_execution"), ("dynamodb", "query")} <= found


# -- the operator role's policies ------------------------------------------------------------------------


def iam_action(call: Call) -> str:
    model = botocore.session.get_session().get_service_model(call.service)
    (operation,) = [name for name in model.operation_names if xform_name(name) == call.operation]
    return f"{model.signing_name}:{operation}"


def operator_statements(cfn: Template, template: dict[str, Any]) -> list[dict[str, Any]]:
    (role,) = [k for k in cfn.find_resources("AWS::IAM::Role") if k.startswith("OperatorRole")]
    attached = {"Properties": {"Roles": Match.array_with([{"Ref": role}])}}
    return [
        statement
        for policy in cfn.find_resources("AWS::IAM::Policy", attached).values()
        for statement in limits.resolve(policy["Properties"]["PolicyDocument"], STACK, template["Resources"])[
            "Statement"
        ]
    ]


def examples(cfn: Template, template: dict[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Resource kind -> (ARNs the operator must be allowed, ARNs of other stacks it must be refused)."""
    found = template["Resources"]

    def value(reference: dict[str, Any]) -> str:
        return str(limits.resolve(reference, STACK, found))

    def logical(resource_type: str, prefix: str = "") -> list[str]:
        return [k for k in cfn.find_resources(resource_type) if k.startswith(prefix)]

    machines = {k: value({"Ref": k}) for k in logical("AWS::StepFunctions::StateMachine")}
    workflows = [arn for k, arn in machines.items() if "approvalgate" not in k]
    (gate,) = [arn for k, arn in machines.items() if "approvalgate" in k]
    (table,) = logical("AWS::DynamoDB::Table")
    (bucket,) = logical("AWS::S3::Bucket", "StateReports")
    (secret,) = logical("AWS::SecretsManager::Secret")
    prefix = f"arn:aws:states:{limits.REGION}:{limits.ACCOUNT_ID}"
    return {
        "stack": (
            [value({"Ref": "AWS::StackId"})],
            [f"arn:aws:cloudformation:{limits.REGION}:{limits.ACCOUNT_ID}:stack/Other/{'0' * 36}"],
        ),
        "table": (
            [value({"Fn::GetAtt": [table, "Arn"]})],
            [f"arn:aws:dynamodb:{limits.REGION}:{limits.ACCOUNT_ID}:table/Other"],
        ),
        "workflow": (workflows, [f"{prefix}:stateMachine:Other-recovery"]),
        "execution": (
            [arn.replace(":stateMachine:", ":execution:") + ":shop-run-1" for arn in workflows],
            [f"{prefix}:execution:Other-recovery:shop-run-1"],
        ),
        "approval_gate": ([gate], [f"{prefix}:stateMachine:Other-approval-gate"]),
        "report": (
            [value({"Fn::GetAtt": [bucket, "Arn"]}) + "/reports/shop/20250101T000000-run.html"],
            [value({"Fn::GetAtt": [bucket, "Arn"]}) + "/other/key", "arn:aws:s3:::other/reports/x"],
        ),
        "azure_secret": (
            [value({"Ref": secret})],
            [f"arn:aws:secretsmanager:{limits.REGION}:{limits.ACCOUNT_ID}:secret:Other-AbCdEf"],
        ),
        "*": (["*"], []),
    }


@pytest.mark.parametrize("call", OPERATOR_CALLS, ids=lambda c: f"{c.service}.{c.operation}")
def test_the_operator_role_may_make_each_drctl_call_on_its_resource_only(
    cfn: Template, template: dict[str, Any], call: Call
) -> None:
    statements = operator_statements(cfn, template)
    action = iam_action(call)
    own, others = examples(cfn, template)[call.resource]
    for arn in own:
        assert allowed(statements, action, arn, {}), f"{action} on {arn}"
    for arn in others:
        assert not allowed(statements, action, arn, {}), f"{action} allowed on {arn}"
    if call.decrypts:
        (key,) = cfn.find_resources("AWS::KMS::Key")
        key_arn = str(limits.resolve({"Fn::GetAtt": [key, "Arn"]}, STACK, template["Resources"]))
        via = {"kms:ViaService": f"{iam_action(call).split(':')[0]}.{limits.REGION}.amazonaws.com"}
        assert allowed(statements, "kms:Decrypt", key_arn, via), f"kms:Decrypt for {action}"


def test_the_operator_role_has_wildcard_resources_only_where_iam_has_no_resource_level_permissions(
    cfn: Template, template: dict[str, Any]
) -> None:
    unscoped = {iam_action(c) for c in OPERATOR_CALLS if c.resource == "*"}
    assert unscoped == {"drs:DescribeSourceServers"}
    for statement in operator_statements(cfn, template):
        resources_of = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if "*" in resources_of:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert set(actions) <= unscoped, statement
