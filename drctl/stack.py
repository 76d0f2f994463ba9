"""Find a deployed orchestrator by its CloudFormation stack name, with standard AWS credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from lambdas.inputs import WORKFLOWS


class OperatorError(Exception):
    """A problem the operator can fix; the message says how."""


@dataclass(frozen=True)
class Stack:
    name: str
    outputs: dict[str, str]
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def state_machine(self, workflow: str) -> str:
        key = f"{workflow.replace('_', '')}StateMachineArn"
        if key not in self.outputs:
            raise OperatorError(f"stack {self.name} has no output {key}: is it a DR orchestrator stack?")
        return self.outputs[key]

    @property
    def table(self) -> str:
        return self.outputs["StateTableName"]

    @property
    def plans(self) -> list[str]:
        return [p for p in self.outputs.get("Plans", "").split(",") if p]

    def check_plan(self, plan: str) -> None:
        if plan not in self.plans:
            raise OperatorError(
                f"unknown plan '{plan}'; stack {self.name} has: {', '.join(self.plans) or 'none'}"
            )


def find_stack(name: str, profile: str | None = None, region: str | None = None) -> Stack:
    session = boto3.session.Session(profile_name=profile, region_name=region)
    try:
        described = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except NoCredentialsError:
        raise OperatorError(
            "no AWS credentials: set AWS_PROFILE (or --profile) or run `aws sso login`"
        ) from None
    except NoRegionError:
        raise OperatorError("no AWS region: set AWS_REGION or pass --region") from None
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise OperatorError(
                f"stack {name} not found in this account and region (--stack, --region)"
            ) from None
        raise OperatorError(f"cannot read stack {name}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [w for w in WORKFLOWS if f"{w.replace('_', '')}StateMachineArn" not in outputs]
    if missing:
        raise OperatorError(f"stack {name} is not a DR orchestrator stack (no state machine outputs)")
    return Stack(name, outputs, session)
