"""The botocore `drs` service model: request routing and shape checking.

`check(shape, value)` walks a JSON value against a model shape and reports every violation (types,
required members, enums, string length, list/map size, numeric range, patterns, unions). The emulator
uses it on requests; tests use it on responses (with `output=True`) so the emulator cannot drift from
the real API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

# Values real DRS sends that its own model rejects; accepted in responses, never in requests.
_OUTPUT_ALLOWANCES = {
    # "2024-06-13T16:46:56.645979+00:00": the model's pattern wants a trailing "Z", yet this is what
    # `aws drs describe-recovery-snapshots` prints (AWS blog, 2024); formats.iso writes this form.
    "ISO8601DatetimeString": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"),
    # Current EBS volume ids have 17 hex digits (21 characters): the model's pattern allows them,
    # its max length of 19 does not.
    "EbsVolumeID": re.compile(r"vol-[0-9a-f]{17}"),
}


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "sourceServers[0].sourceServerID"
    message: str


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("drs")


@cache
def error_shapes() -> dict[str, Shape]:
    """Error shapes by code (the shape name, as DRS sends it in x-amzn-ErrorType)."""
    return {shape.name: shape for shape in service_model().error_shapes}


@cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operation) for every operation; uri labels become named groups."""
    routes = []
    for name in service_model().operation_names:
        http = service_model().operation_model(name).http
        path = http["requestUri"].split("?", 1)[0]
        regex = re.sub(r"\\\{(\w+)\+?\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        routes.append((http["method"], re.compile(regex), name))
    return routes


def route(method: str, path: str) -> tuple[OperationModel, dict[str, str]] | None:
    """The operation a request addresses, and its (url-decoded) uri parameters."""
    for route_method, regex, name in _routes():
        match = regex.fullmatch(path)
        if match and route_method == method:
            labels = {key: unquote(value) for key, value in match.groupdict().items()}
            return service_model().operation_model(name), labels
    return None


def check(shape: Shape | None, value: Any, *, output: bool = False, path: str = "") -> list[Problem]:
    """Every way `value` violates `shape`. Outputs may not carry unknown members; inputs may."""
    if shape is None:
        return [] if value in (None, {}) else [Problem(path or "body", "no body expected")]
    if isinstance(shape, StructureShape):
        return _check_structure(shape, value, output, path)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [Problem(path, "must be a list")]
        found = _check_size(shape, len(value), path, "items")
        for index, item in enumerate(value):
            found += check(shape.member, item, output=output, path=f"{path}[{index}]")
        return found
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [Problem(path, "must be a map")]
        found = _check_size(shape, len(value), path, "entries")
        for key, item in value.items():
            found += check(shape.key, key, output=output, path=f"{path}.(key)")
            found += check(shape.value, item, output=output, path=f"{path}.{key}")
        return found
    return _check_scalar(shape, value, output, path)


def _check_structure(shape: StructureShape, value: Any, output: bool, path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "must be a structure")]
    prefix = f"{path}." if path else ""
    found = [
        Problem(f"{prefix}{name}", "is required")
        for name in shape.required_members
        if value.get(name) is None
    ]
    present = [name for name, item in value.items() if item is not None]
    if shape.is_tagged_union and len(present) != 1:
        found.append(Problem(path, "union must have exactly one member set"))
    for name in present:
        member = shape.members.get(name)
        if member is None:
            if output:
                found.append(Problem(f"{prefix}{name}", "is not a member of " + shape.name))
            continue
        found += check(member, value[name], output=output, path=f"{prefix}{name}")
    return found


def _check_scalar(shape: Shape, value: Any, output: bool, path: str) -> list[Problem]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [Problem(path, "must be a string")]
        return _check_string(shape, value, output, path)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [Problem(path, "must be an integer")]
        return _check_range(shape, value, path)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [Problem(path, "must be a number")]
        return _check_range(shape, value, path)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [Problem(path, "must be a boolean")]
    if kind == "timestamp":
        ok = isinstance(value, int | float | str) and not isinstance(value, bool)
        return [] if ok else [Problem(path, "must be a timestamp")]
    if kind == "blob":
        return [] if isinstance(value, str) else [Problem(path, "must be base64 text")]
    return [Problem(path, f"unsupported shape type {kind}")]


def _check_string(shape: Shape, value: str, output: bool, path: str) -> list[Problem]:
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        return [Problem(path, f"must be one of {', '.join(enum)}")]
    allowance = _OUTPUT_ALLOWANCES.get(shape.name) if output else None
    if allowance and allowance.fullmatch(value):
        return []
    found = _check_size(shape, len(value), path, "characters")
    pattern = shape.metadata.get("pattern")
    if not found and pattern and not _pattern(pattern).fullmatch(value):
        found.append(Problem(path, f"must match pattern {pattern}"))
    return found


def _check_size(shape: Shape, size: int, path: str, unit: str) -> list[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        return [Problem(path, f"must have at least {low} {unit}")]
    if high is not None and size > high:
        return [Problem(path, f"must have at most {high} {unit}")]
    return []


def _check_range(shape: Shape, number: float, path: str) -> list[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        return [Problem(path, f"must be at least {low}")]
    if high is not None and number > high:
        return [Problem(path, f"must be at most {high}")]
    return []


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
