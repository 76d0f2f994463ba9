"""EventBridge input transformation as the service does it for a JSON InputTemplate: a placeholder
outside quotes gets the JSON value (strings quoted), one inside quotes gets the bare text."""

from __future__ import annotations

import json
import re
from typing import Any


def _lookup(event: dict[str, Any], path: str) -> Any:
    """Resolve the simple JSONPath forms EventBridge input paths use: $, $.a.b, $.a[0]."""
    value: Any = event
    for part in re.findall(r"[^.\[\]]+", path.removeprefix("$")):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def transform(template: str, paths: dict[str, str], event: dict[str, Any]) -> str:
    values = {name: _lookup(event, path) for name, path in paths.items()}

    def quoted(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        text = value if isinstance(value, str) else json.dumps(value)
        return '"' + json.dumps(text)[1:-1] + '"'

    def bare(match: re.Match[str]) -> str:
        return json.dumps(values.get(match.group(1)))

    names = "|".join(re.escape(name) for name in values) or r"(?!)"
    result = re.sub(rf'"<({names})>"', quoted, template)
    return re.sub(rf"<({names})>", bare, result)
