"""Find a deployed orchestrator by its CloudFormation stack name, with standard AWS credentials."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.inputs import WORKFLOWS

# An operator is waiting: fail in seconds, not after botocore's 60 s read timeout, times its retries.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0
# Every call at most twice (one retry, "standard" mode: throttling, 5xx and connection errors).
TOTAL_ATTEMPTS = 2
CONNECT_TIMEOUT_ENV = "DRCTL_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV = "DRCTL_READ_TIMEOUT"


class OperatorError(Exception):
    """A problem the operator can fix; the message says how."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection to an AWS endpoint, and for each answer once connected."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    @classmethod
    def resolve(cls, connect: float | None, read: float | None) -> Timeouts:
        """The flags if given, else the environment (DRCTL_CONNECT_TIMEOUT, DRCTL_READ_TIMEOUT), else the
        defaults."""
        return cls(
            connect
            if connect is not None
            else _seconds_from_env(CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT),
            read if read is not None else _seconds_from_env(READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT),
        )

    def client_config(self) -> Config:
        return Config(
            connect_timeout=self.connect,
            read_timeout=self.read,
            retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        )


def seconds(text: str) -> float:
    """A timeout in seconds: a number above 0 (ValueError otherwise)."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a number of seconds above 0")
    return value


def _seconds_from_env(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return seconds(text)
    except ValueError:
        raise OperatorError(
            f"{name}={text!r} is not a number of seconds above 0: fix or unset it (default {default:g})"
        ) from None


@dataclass(frozen=True)
class Stack:
    name: str
    outputs: dict[str, str]
    session: Any
    config: Config | None = None  # timeouts and retries of every client

    def client(self, service: str) -> Any:
        return self.session.client(service, config=self.config)

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


def find_stack(
    name: str, profile: str | None = None, region: str | None = None, timeouts: Timeouts | None = None
) -> Stack:
    """Network, credential and profile errors pass through: drctl/errors.py words them for the operator."""
    session = boto3.session.Session(profile_name=profile, region_name=region)
    config = (timeouts or Timeouts()).client_config()
    try:
        described = session.client("cloudformation", config=config).describe_stacks(StackName=name)
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise OperatorError(
                f"stack {name} not found in this account and region (--stack, --region)"
            ) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
    missing = [w for w in WORKFLOWS if f"{w.replace('_', '')}StateMachineArn" not in outputs]
    if missing:
        raise OperatorError(f"stack {name} is not a DR orchestrator stack (no state machine outputs)")
    return Stack(name, outputs, session, config)
