"""DynamoDB applies a conditional write atomically; moto's server checks the condition and writes in two
steps, so two threads can both pass. The local cloud serializes moto's DynamoDB writes, which restores the
guarantee the orchestrator's lock relies on (one execution per plan)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_originals: dict[str, Callable[..., Any]] = {}


def install() -> None:
    for name in WRITES:
        if name in _originals or not hasattr(DynamoDBBackend, name):
            continue
        original = getattr(DynamoDBBackend, name)
        _originals[name] = original

        @functools.wraps(original)
        def serialized(*args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, serialized)


def uninstall() -> None:
    for name, original in _originals.items():
        setattr(DynamoDBBackend, name, original)
    _originals.clear()
