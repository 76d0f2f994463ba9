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

# Every client retries throttling, 5xx and connection errors with botocore's jittered exponential backoff.
# DRS uses the adaptive mode: its client-side rate limiter slows the sending rate when DRS throttles, which
# matters when one launch prepares hundreds of servers. botocore does not read DRS's retryAfterSeconds, so
# lambdas.adapters.drs waits that out after botocore's attempts are spent.
_CONFIGS = {
    "drs": Config(retries={"mode": "adaptive", "max_attempts": 3}, connect_timeout=5, read_timeout=30),
    # Read at the start of a launch; when it does not answer soon the configured quotas are used.
    "service-quotas": Config(
        retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5
    ),
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
