"""AWS clients, created lazily and cached for the life of the Lambda execution environment.

Built from a botocore session: importing boto3 also imports s3transfer, about 100 ms of cold start that no
task needs."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}

# DRS throttling is retried by lambdas.adapters.drs, which honours retryAfterSeconds; the others use
# botocore's standard retry mode (exponential backoff with jitter on throttling and 5xx).
_CONFIGS = {
    "drs": Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
}
_DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


def client(service: str) -> Any:
    """A cached client; boto3's default session is not thread-safe, so creation is serialized."""
    cached = _clients.get(service)
    if cached is not None:
        return cached
    with _lock:
        if service not in _clients:
            session: Any = botocore.session.get_session()
            _clients[service] = session.create_client(service, config=_CONFIGS.get(service, _DEFAULT_CONFIG))
        return _clients[service]


def reset_clients() -> None:
    """Forget cached clients, e.g. after the process's endpoint or credential environment changed."""
    with _lock:
        _clients.clear()


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
