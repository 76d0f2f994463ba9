"""The AWS limits the orchestrator plans around, in one place.

DRS quotas (AWS Elastic Disaster Recovery user guide, "Disaster recovery at scale" -> "Service quotas and API
limits", https://docs.aws.amazon.com/drs/latest/userguide/drs-at-scale.html, and the general reference's DRS
quota table, https://docs.aws.amazon.com/general/latest/gr/drs.html). The published figures have changed over
time (earlier tables said 200 servers per job and 200 in all jobs), so the account's own values are read from
Service Quotas when a run starts (lambdas/adapters/service_quotas.py) and the stricter of those and the ones
below is in force. The defaults, when Service Quotas does not answer:
- 100 source servers per recovery job. The StartRecovery API accepts a list of up to 200 (botocore's drs
  model, `sourceServers` max 200), which is a list maximum, not the job quota.
- 500 source servers across all jobs that are not COMPLETED.
- 20 jobs that are not COMPLETED at once.
- 300 replicating source servers per account (more needs several staging accounts).

An account with raised quotas sets them at synth (`-c drs_quotas='{"max_servers_per_job": 150}'`); the
stack hands them to the functions that plan jobs in the DRS_QUOTAS environment variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# botocore drs model, StartRecoveryRequest.sourceServers: 1..200 items.
START_RECOVERY_LIST_MAX = 200
QUOTAS_ENV = "DRS_QUOTAS"


@dataclass(frozen=True)
class DrsQuotas:
    max_servers_per_job: int = 100
    max_servers_in_active_jobs: int = 500
    max_concurrent_jobs: int = 20
    max_replicating_servers: int = 300

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"drs_quotas.{item.name}: {value!r} is not a whole number of at least 1")
        if self.max_servers_per_job > START_RECOVERY_LIST_MAX:
            raise ValueError(
                f"drs_quotas.max_servers_per_job: {self.max_servers_per_job} is above the "
                f"{START_RECOVERY_LIST_MAX} servers StartRecovery accepts in one call"
            )
        if self.max_servers_per_job > self.max_servers_in_active_jobs:
            raise ValueError(
                "drs_quotas.max_servers_per_job must not exceed drs_quotas.max_servers_in_active_jobs"
            )

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> DrsQuotas:
        values = dict(values or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"drs_quotas: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_env(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


DEFAULT_QUOTAS = DrsQuotas()

# Service Quotas names DRS "drs" and each quota by a code; GetServiceQuota answers the value applied to the
# account (these quotas are not adjustable, so that is DRS's default for the account and region).
SERVICE_QUOTAS_SERVICE_CODE = "drs"
SERVICE_QUOTA_CODES = {
    "max_servers_per_job": "L-B827C881",  # Max source servers in a single Job
    "max_servers_in_active_jobs": "L-05AFA8C6",  # Max source servers in all Jobs
    "max_concurrent_jobs": "L-D88FAC3A",  # Concurrent jobs in progress
    "max_replicating_servers": "L-C1D14A2B",  # Max Total replicating source servers Per AWS Account
}


def stricter(configured: DrsQuotas, applied: Mapping[str, float]) -> DrsQuotas:
    """The lower of each configured quota and the value Service Quotas applies to the account (fields it did
    not answer keep the configured value). A job never plans more servers than all jobs may hold."""
    values = {
        item.name: min(getattr(configured, item.name), max(1, int(applied[item.name])))
        if item.name in applied
        else getattr(configured, item.name)
        for item in fields(configured)
    }
    values["max_servers_per_job"] = min(values["max_servers_per_job"], values["max_servers_in_active_jobs"])
    return replace(configured, **values)


def current() -> DrsQuotas:
    """The quotas this function was deployed with (the defaults when the stack set none)."""
    raw = os.environ.get(QUOTAS_ENV)
    return DrsQuotas.from_mapping(json.loads(raw)) if raw else DEFAULT_QUOTAS


# Other AWS limits the stack and its runs must stay within; the local cloud enforces each.
# IAM: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html ("IAM doesn't count white
# space when calculating the size of a policy against these limits").
IAM_MANAGED_POLICY_CHARS = 6_144
IAM_ROLE_INLINE_POLICY_CHARS = 10_240
IAM_MANAGED_POLICIES_PER_ROLE = 10
# CloudFormation: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
CFN_TEMPLATE_BYTES = 1_048_576  # template body in an S3 object (cdk deploy uploads it there)
CFN_RESOURCES = 500
CFN_OUTPUTS = 200
CFN_PARAMETERS = 200
CFN_MAPPINGS = 200
# Lambda: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ENVIRONMENT_BYTES = 4_096
LAMBDA_SYNC_PAYLOAD_BYTES = 6_291_456  # 6 MB, request and response of a synchronous invoke
# Step Functions: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
SFN_PAYLOAD_BYTES = 262_144  # 256 KiB of UTF-8 for an execution's or a state's input and output
SFN_HISTORY_EVENTS = 25_000
# DynamoDB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
DYNAMODB_ITEM_BYTES = 409_600  # 400 KB including attribute names
# EventBridge: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
EVENTBRIDGE_ENTRY_BYTES = 262_144
