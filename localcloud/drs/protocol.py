"""The rest-json wire protocol: route a request, build its parameters, validate them against the
operation's input shape, call the backend, and answer as AWS does (status codes and error headers
from the model)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.model import OperationModel

from localcloud.drs import errors, shapes

log = logging.getLogger(__name__)
MAX_REPORTED_PROBLEMS = 10


class Backend(Protocol):
    def injected_error(self, operation: str) -> errors.ApiError | None: ...

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None: ...

    def record(self, operation: str, status: int) -> None: ...


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def handle(backend: Backend, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> Response:
    found = shapes.route(method, path)
    if found is None:
        name = path.strip("/").split("/")[0] or "/"
        response = _error(errors.ApiError("UnknownOperationException", f"Unknown operation {method} {path}"))
        backend.record(name, response.status)
        return response
    operation, labels = found
    try:
        injected = backend.injected_error(operation.name)
        if injected:
            raise injected
        params = _params(operation, labels, query, raw)
        problems = shapes.check(operation.input_shape, params)
        if problems:
            raise _validation_error(problems)
        response = _success(operation, backend.call(operation.name, params))
    except errors.ApiError as exc:
        response = _error(exc)
    except Exception:
        log.exception("DRS emulator failed on %s", operation.name)
        response = _error(errors.internal())
    backend.record(operation.name, response.status)
    return response


def _params(
    operation: OperationModel, labels: dict[str, str], query: dict[str, list[str]], raw: bytes
) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise errors.validation("Request body is not valid JSON", reason="cannotParse") from None
    if not isinstance(body, dict):
        raise errors.validation("Request body must be a JSON object", reason="cannotParse")
    shape = operation.input_shape
    for name, member in shape.members.items() if shape else []:
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            body[name] = labels[wire_name]
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            body[name] = values if member.type_name == "list" else values[0]
    return body


def _validation_error(problems: list[shapes.Problem]) -> errors.ApiError:
    shown = problems[:MAX_REPORTED_PROBLEMS]
    summary = "; ".join(f"{p.field}: {p.message}" for p in shown)
    return errors.validation(
        f"{len(problems)} validation error(s) detected: {summary}",
        [(p.field, p.message) for p in shown],
    )


def _success(operation: OperationModel, output: dict[str, Any] | None) -> Response:
    status = int(operation.http.get("responseCode", 200))
    if operation.output_shape is None:
        return Response(status, headers=_headers())
    return Response(status, json.dumps(output or {}).encode(), _headers())


def error_response(exc: errors.ApiError) -> Response:
    return _error(exc)


# Status codes of errors outside the DRS model: IAM and signature errors (AWS general reference).
_STATUS_OUTSIDE_MODEL = {
    "UnknownOperationException": 404,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
    "MissingAuthenticationTokenException": 403,
}


def _error(exc: errors.ApiError) -> Response:
    status = _STATUS_OUTSIDE_MODEL.get(exc.code, 400)
    shape = shapes.error_shapes().get(exc.code)
    if shape is not None:
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", status))
    headers = {**_headers(), "x-amzn-ErrorType": exc.code, **exc.headers}
    return Response(status, json.dumps(exc.body()).encode(), headers)


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
