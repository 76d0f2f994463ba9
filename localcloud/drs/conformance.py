"""Check what a DRS endpoint sends against botocore's service model, as a client sees it.

    problems = watch(drs_client)   # every later response of that client is checked
    ...
    assert problems == []

Success: the status is the operation's responseCode and the body matches the output shape exactly
(no unknown members, valid enums, lengths, ranges, patterns). Error: x-amzn-ErrorType names a modeled
error, the status is that error's httpStatusCode, body members are modeled body members, and header
members (Retry-After) fit their shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, StructureShape

from localcloud.drs import shapes


def response_problems(
    operation: OperationModel, status: int, headers: Mapping[str, str], body: bytes
) -> list[str]:
    name = operation.name
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        return [f"{name}: body is not JSON"]
    if status < 300:
        expected = int(operation.http.get("responseCode", 200))
        found = [] if status == expected else [f"{name}: status {status}, model says {expected}"]
        output = operation.output_shape
        if output is None:
            return found + ([] if data in (None, {}) else [f"{name}: body sent where the model has none"])
        problems = shapes.check(output, data, output=True)
        return found + [f"{name}: {p.field}: {p.message}" for p in problems]
    return _error_problems(name, status, headers, data)


def _error_problems(name: str, status: int, headers: Mapping[str, str], data: Any) -> list[str]:
    lowered = {key.lower(): value for key, value in headers.items()}
    code = lowered.get("x-amzn-errortype", "")
    shape = shapes.error_shapes().get(code)
    if not isinstance(shape, StructureShape):
        return [f"{name}: error code {code!r} is not a modeled DRS error"]
    found = []
    expected = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    if status != expected:
        found.append(f"{name}: {code} sent with status {status}, model says {expected}")
    if not isinstance(data, dict):
        return [*found, f"{name}: {code} body is not a JSON object"]
    for member_name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None:
            continue
        if member_name in data:
            found.append(f"{name}: {code}.{member_name} belongs in the {location}, not the body")
        wire = member.serialization.get("name", member_name).lower()
        if location == "header" and wire in lowered:
            found += [
                f"{name}: {code}.{member_name}: {p.message}" for p in shapes.check(member, lowered[wire])
            ]
    located = {m for m, member in shape.members.items() if member.serialization.get("location")}
    body = {key: value for key, value in data.items() if key not in located}
    found += [f"{name}: {code}.{p.field}: {p.message}" for p in shapes.check(shape, body, output=True)]
    return found


def watch(client: Any, problems: list[str] | None = None) -> list[str]:
    """Check every response `client` receives from now on; problems are appended to the list returned."""
    problems = [] if problems is None else problems

    def after_call(http_response: Any, model: OperationModel, **_: Any) -> None:
        problems.extend(
            response_problems(model, http_response.status_code, http_response.headers, http_response.content)
        )

    client.meta.events.register("after-call.drs", after_call)
    return problems
