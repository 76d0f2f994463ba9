"""Run-time limits moto does not apply, applied as the real services do (figures and sources in
lambdas/quotas.py):

- Step Functions StartExecution: an execution without a name gets a generated one (the API's `name` is
  optional; moto's interpreter left it null), and an input above 256 KiB is refused with the
  ValidationException the API's length constraint gives. A state's or task's result above 256 KiB already
  fails with States.DataLimitExceeded in moto's interpreter, as in Step Functions.
- Lambda: a synchronous request or response above 6 MB (localcloud.lambda_bridge calls `check_invoke`).
- EventBridge PutEvents: entries above 256 KB together, sized as EventBridge documents it.
DynamoDB's 400 KB item limit is moto's own (it refuses items above 405,000 bytes, below the real 409,600).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.events.exceptions import ValidationException as EventsValidationException
from moto.events.models import EventsBackend
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from lambdas import quotas

_originals: dict[str, Any] = {}


class PayloadTooLarge(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def install() -> None:
    if _originals:
        return
    _originals["start_execution"] = StepFunctionsParserBackend.start_execution
    _originals["put_events"] = EventsBackend.put_events
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign,assignment]
    EventsBackend.put_events = _put_events  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    if not _originals:
        return
    StepFunctionsParserBackend.start_execution = _originals.pop("start_execution")  # type: ignore[method-assign]
    EventsBackend.put_events = _originals.pop("put_events")  # type: ignore[method-assign]


def _start_execution(
    backend: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    size = len((execution_input or "").encode("utf-8"))
    if size > quotas.SFN_PAYLOAD_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
            f"length less than or equal to {quotas.SFN_PAYLOAD_BYTES} (the input has {size} bytes; Step "
            "Functions quotas: 256 KiB per execution input)"
        )
    return _originals["start_execution"](
        backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
    )


def entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size as EventBridge counts it ("Calculating PutEvents event entry size")."""
    size = 14 if entry.get("Time") else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode("utf-8"))
    size += sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or [])
    return size


def _put_events(backend: EventsBackend, events: list[dict[str, Any]]) -> Any:
    total = sum(entry_size(e) for e in events)
    if total > quotas.EVENTBRIDGE_ENTRY_BYTES:
        raise EventsValidationException(
            f"Total size of the entries in the request is over the limit: {total} bytes, the limit is "
            f"{quotas.EVENTBRIDGE_ENTRY_BYTES} (EventBridge quotas: 256 KB per PutEvents request)"
        )
    return _originals["put_events"](backend, events)


def check_invoke(request: str | bytes | None, response: str | None = None) -> None:
    """Raise PayloadTooLarge for a synchronous Lambda request or response above 6 MB."""
    limit = quotas.LAMBDA_SYNC_PAYLOAD_BYTES
    if request is not None:
        size = len(request if isinstance(request, bytes) else request.encode("utf-8"))
        if size > limit:
            raise PayloadTooLarge(
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation ({size} bytes)",
            )
    if response is not None:
        size = len(response.encode("utf-8"))
        if size > limit:
            raise PayloadTooLarge(
                "Function.ResponseSizeTooLarge",
                f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                f"({limit} bytes).",
            )


def error_payload(error: PayloadTooLarge) -> str:
    return json.dumps({"errorType": error.error_type, "errorMessage": str(error)})
