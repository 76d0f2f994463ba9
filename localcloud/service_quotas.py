"""Service Quotas answers for DRS, which moto's Service Quotas does not know (it lists VPC only).

GetServiceQuota for service code "drs" answers the emulated account's DRS job quotas, the same figures the DRS
emulator enforces, under the quota codes and names Service Quotas uses (lambdas/quotas.py). An account where
Service Quotas lists no DRS quota (`published=False`) answers NoSuchResourceException, as moto and Service
Quotas do for a quota they do not hold."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import ServiceQuotasBackend

from lambdas.quotas import SERVICE_QUOTA_CODES, SERVICE_QUOTAS_SERVICE_CODE, DrsQuotas

QUOTA_NAMES = {
    "max_servers_per_job": "Max source servers in a single Job",
    "max_servers_in_active_jobs": "Max source servers in all Jobs",
    "max_concurrent_jobs": "Concurrent jobs in progress",
    "max_replicating_servers": "Max Total replicating source servers Per AWS Account",
}

_original: list[Any] = []


def install(quotas: DrsQuotas, *, published: bool = True) -> None:
    uninstall()
    original = ServiceQuotasBackend.get_service_quota
    _original.append(original)
    values = asdict(quotas)
    by_code = {code: name for name, code in SERVICE_QUOTA_CODES.items()}

    def get_service_quota(self: ServiceQuotasBackend, service_code: str, quota_code: str) -> dict[str, Any]:
        if service_code != SERVICE_QUOTAS_SERVICE_CODE:
            return original(self, service_code, quota_code)
        name = by_code.get(quota_code)
        if not published or name is None:
            raise NoSuchResource
        return {
            "ServiceCode": SERVICE_QUOTAS_SERVICE_CODE,
            "ServiceName": "AWS Elastic Disaster Recovery",
            "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:drs/{quota_code}",
            "QuotaCode": quota_code,
            "QuotaName": QUOTA_NAMES[name],
            "Value": float(values[name]),
            "Unit": "None",
            "Adjustable": False,
            "GlobalQuota": False,
        }

    ServiceQuotasBackend.get_service_quota = get_service_quota  # type: ignore[method-assign]


def uninstall() -> None:
    if _original:
        ServiceQuotasBackend.get_service_quota = _original.pop()  # type: ignore[method-assign]
