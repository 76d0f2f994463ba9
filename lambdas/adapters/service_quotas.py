"""The DRS job quotas in force for this account: the stricter of the stack's configured figures and the values
Service Quotas applies to the account, read once per quarter hour per execution environment.

Service Quotas may not answer (a region where it does not list DRS, a network error): the configured figures
are then used and the caller reports which quotas could not be read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from lambdas import quotas
from lambdas.adapters.aws import client, error_code
from lambdas.quotas import DrsQuotas

CACHE_SECONDS = 900.0

_lock = threading.Lock()
_cached: tuple[float, dict[str, float], tuple[str, ...]] | None = None


@dataclass(frozen=True)
class QuotasInForce:
    quotas: DrsQuotas
    # Each quota Service Quotas did not answer, with the reason, e.g. "L-B827C881: AccessDeniedException".
    unread: tuple[str, ...]


def drs_quotas_in_force() -> QuotasInForce:
    applied, unread = _applied()
    return QuotasInForce(quotas.stricter(quotas.current(), applied), unread)


def reset_cache() -> None:
    global _cached
    with _lock:
        _cached = None


def _applied() -> tuple[dict[str, float], tuple[str, ...]]:
    global _cached
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < CACHE_SECONDS:
            return _cached[1], _cached[2]
    applied: dict[str, float] = {}
    unread: list[str] = []
    service_quotas = client("service-quotas")
    for name, code in quotas.SERVICE_QUOTA_CODES.items():
        try:
            answer = service_quotas.get_service_quota(
                ServiceCode=quotas.SERVICE_QUOTAS_SERVICE_CODE, QuotaCode=code
            )
            applied[name] = float(answer["Quota"]["Value"])
        except ClientError as exc:
            unread.append(f"{code}: {error_code(exc) or 'error'}")
        except (BotoCoreError, KeyError, TypeError, ValueError) as exc:
            unread.append(f"{code}: {type(exc).__name__}")
    with _lock:
        _cached = (time.monotonic(), applied, tuple(unread))
    return applied, tuple(unread)
