"""Execution inputs: what an operator types in the console, or what a trigger sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator

from lambdas.errors import InvalidInput
from lambdas.plan import SafeName, StrictModel, describe_validation_error

Workflow = Literal["drill", "recovery", "failback", "return_to_normal"]
WORKFLOWS: tuple[Workflow, ...] = ("drill", "recovery", "failback", "return_to_normal")

# Printable text without control characters or markup: it ends up in reports, notifications and logs.
FreeText = Annotated[str, Field(max_length=500, pattern=r"^[^\x00-\x1f<>`$\\]*$")]


class StartRequest(StrictModel):
    """The input document of every workflow (events/*.json hold ready ones)."""

    plan: SafeName
    snapshot: Literal["latest"] | datetime = Field(
        default="latest", description="'latest', or an ISO-8601 time: the newest PIT snapshot at or before it"
    )
    reason: FreeText = ""
    requested_by: Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9_@.+=,:/ -]*$")] = ""
    trigger: Literal["manual", "alarm", "schedule"] = "manual"
    alarm_name: Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9_ .:/#+=@-]*$")] = ""
    event_id: Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9_-]*$")] = ""

    @field_validator("snapshot")
    @classmethod
    def _aware_past(cls, value: Literal["latest"] | datetime) -> Literal["latest"] | datetime:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("give a time zone, e.g. 2026-11-25T03:00:00Z")
            if value > datetime.now(UTC):
                raise ValueError("is in the future: a snapshot can only be chosen from the past")
        return value


def parse_start_request(document: object) -> StartRequest:
    try:
        return StartRequest.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(f"execution input: {describe_validation_error(exc)}") from None
