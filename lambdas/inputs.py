"""Execution inputs: what an operator types in the console, or what a trigger sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from lambdas.errors import InvalidInput
from lambdas.plan import FreeText, SafeName
from lambdas.validation import StrictModel, parse_input, pattern

Workflow = Literal["drill", "recovery", "failback", "return_to_normal"]
WORKFLOWS: tuple[Workflow, ...] = ("drill", "recovery", "failback", "return_to_normal")

# 'latest', or an ISO-8601 time with zone: the newest PIT snapshot at or before it.
Snapshot = Annotated[str, pattern(r"^(latest|\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)\Z")]


class StartRequest(StrictModel, frozen=True):
    """The input document of every workflow (events/*.json hold ready ones)."""

    plan: SafeName
    snapshot: Snapshot = "latest"
    reason: FreeText = ""
    requested_by: Annotated[str, pattern(r"^[A-Za-z0-9_@.+=,:/ -]*\Z", max_length=128)] = ""
    trigger: Literal["manual", "alarm", "schedule"] = "manual"
    alarm_name: Annotated[str, pattern(r"^[A-Za-z0-9_ .:/#+=@-]*\Z", max_length=255)] = ""
    event_id: Annotated[str, pattern(r"^[A-Za-z0-9_-]*\Z", max_length=128)] = ""

    def __post_init__(self) -> None:
        moment = self.snapshot_time
        if moment is not None and moment > datetime.now(UTC):
            raise ValueError("snapshot: is in the future: a snapshot can only be chosen from the past")

    @property
    def snapshot_time(self) -> datetime | None:
        """The point in time asked for, or None for the latest snapshot."""
        if self.snapshot == "latest":
            return None
        try:
            moment = datetime.fromisoformat(self.snapshot)
        except ValueError:
            raise ValueError(f"snapshot: '{self.snapshot}' is not an ISO-8601 time") from None
        if moment.tzinfo is None:
            raise ValueError("snapshot: give a time zone, e.g. 2026-11-25T03:00:00Z")
        return moment


def parse_start_request(document: object) -> StartRequest:
    if not isinstance(document, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(document), "a number"
        )
        raise InvalidInput(
            f'execution input must be a JSON object such as {{"plan": "shop"}}, not {kind}; '
            "see events/*.json for each workflow's input"
        )
    return parse_input(StartRequest, document, "execution input")


# The DRS events that resume a waiting workflow (constructs/drs_events.py routes exactly these).
DrsWaitEvent = Literal["DRS Source Server Launch Result", "DRS Recovery Instance Failback State Change"]
DRS_WAIT_EVENTS: tuple[str, ...] = get_args(DrsWaitEvent)
