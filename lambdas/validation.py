"""Validated documents: plans, execution inputs, task inputs and events, as msgspec structs.

msgspec rather than a heavier validation library because every Lambda imports these models in its cold
start (see README, 'Performance'). Strings are checked with Python regular expressions: patterns end in
`\\Z`, never `$`, which would also accept a trailing newline.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from lambdas.errors import InvalidInput

T = TypeVar("T")

ValidationError = msgspec.ValidationError


class StrictModel(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Unknown fields are errors: a typo in a plan or an input must not silently drop a setting."""


def pattern(regex: str, **constraints: Any) -> msgspec.Meta:
    if not regex.endswith(r"\Z"):
        raise ValueError(f"pattern {regex!r} must end in \\Z")
    return msgspec.Meta(pattern=regex, **constraints)


def parse(model: type[T], document: object) -> T:
    """The document as `model`; raises ValidationError naming the field."""
    return msgspec.convert(document, model)


def parse_input(model: type[T], document: object, what: str) -> T:
    """The document as `model`, or InvalidInput "<what>: field.path: reason" (nothing else happens)."""
    try:
        return parse(model, document)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{what}: {describe_validation_error(exc)}") from None


def to_document(value: object) -> Any:
    """Plain JSON-ready data (datetimes as ISO-8601 strings)."""
    return msgspec.to_builtins(value)


_LOCATION = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def describe_validation_error(error: msgspec.ValidationError) -> str:
    """'waves.0.servers.1.name: Expected `str` matching regex ...': the field first, as one types it."""
    match = _LOCATION.match(str(error))
    assert match is not None  # the pattern matches any text
    path = (match["path"] or "").replace("[", ".").replace("]", "").lstrip(".")
    return f"{path or '(document)'}: {match['message']}"
