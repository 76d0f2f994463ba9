"""Every AWS API drctl calls with the operator's credentials, and what it calls it on.

The stack grants these to its operator role (constructs/stack.py). tests/infra/test_operator_role.py reads
drctl's source and fails when a call there is missing here (or listed here and no longer made), and checks on
the synthesized template that the operator role is allowed each one on its resource, and refused on another
stack's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    service: str  # the boto3 client
    operation: str  # the client method (for a paginator: the operation it pages)
    # What it is called on: stack, table, workflow, execution, approval_gate, report, azure_secret; "*" when
    # the API supports no resource-level permissions.
    resource: str
    used_by: str
    decrypts: bool = False  # reads data encrypted with the stack's KMS key


OPERATOR_CALLS = (
    Call("cloudformation", "describe_stacks", "stack", "every command: the stack's outputs"),
    Call("dynamodb", "get_item", "table", "status, approve, abort: the plan's state", decrypts=True),
    Call("dynamodb", "query", "table", "watch, report: the plan's run records", decrypts=True),
    Call("stepfunctions", "start_execution", "workflow", "start"),
    Call("stepfunctions", "describe_execution", "execution", "start --wait, watch"),
    Call("stepfunctions", "send_task_success", "approval_gate", "approve"),
    Call("stepfunctions", "send_task_failure", "approval_gate", "abort"),
    Call("s3", "get_object", "report", "report: the run's JSON and HTML report", decrypts=True),
    Call(
        "secretsmanager",
        "get_secret_value",
        "azure_secret",
        "plan validate: the Azure and failback checks",
        decrypts=True,
    ),
    Call("drs", "describe_source_servers", "*", "plan validate, plan init: the DRS inventory"),
)
