"""AWS Elastic Disaster Recovery calls used by the workflows.

botocore's adaptive retry mode (lambdas.adapters.aws) retries throttling, 5xx and connection errors and
slows the client down while DRS throttles. What is left after its attempts: a throttle whose
retryAfterSeconds is short is waited out here as DRS asks; anything else transient surfaces as
TransientError so the state machine backs off without holding a Lambda.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from lambdas.adapters import service_quotas
from lambdas.adapters.aws import client, error_code
from lambdas.errors import DrsRefused, TransientError

# Throttles waited out here (each after botocore's own attempts), and the longest wait a Lambda holds.
MAX_THROTTLE_WAITS = 3
MAX_INLINE_WAIT_SECONDS = 10.0
_DEFAULT_THROTTLE_WAIT_SECONDS = 1.0


def _retry_after(exc: ClientError) -> float | None:
    response: dict[str, Any] = dict(exc.response)
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw = response.get("retryAfterSeconds") or headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def call(operation: str, **params: Any) -> dict[str, Any]:
    """Call one DRS operation; a refusal raises DrsRefused, a lasting transient failure TransientError."""
    method = getattr(client("drs"), operation)
    for waits in range(MAX_THROTTLE_WAITS + 1):
        try:
            result: dict[str, Any] = method(**params)
            return result
        except ClientError as exc:
            code = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "ThrottlingException" or status == 429:
                wait = _retry_after(exc) or _DEFAULT_THROTTLE_WAIT_SECONDS
                if waits == MAX_THROTTLE_WAITS or wait > MAX_INLINE_WAIT_SECONDS:
                    raise TransientError(f"DRS {operation}: throttled (retry after {wait:g}s)") from None
                time.sleep(wait)
                continue
            if code == "InternalServerException" or status >= 500:
                raise TransientError(f"DRS {operation}: {code or status} after retries") from None
            message = str(exc.response.get("Error", {}).get("Message", ""))[:300]
            raise DrsRefused(operation, code, message) from None
        except (ConnectionError, ReadTimeoutError) as exc:
            raise TransientError(f"DRS {operation}: endpoint not reachable ({type(exc).__name__})") from None
    raise AssertionError("unreachable")


def drs_time(moment: datetime) -> str:
    """DRS date filters want UTC with a literal Z (pattern ...T..:..:..(.fraction)?Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _paginate(operation: str, key: str = "items", **params: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(operation, **params, **({"nextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return


def _by_source_servers(operation: str, source_server_ids: list[str]) -> list[dict[str, Any]]:
    """A describe call filtered by source servers (DRS takes at most 200 ids per filter)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(source_server_ids), 200):
        ids = source_server_ids[start : start + 200]
        found.extend(_paginate(operation, filters={"sourceServerIDs": ids}))
    return found


def source_servers(source_server_ids: list[str]) -> list[dict[str, Any]]:
    return _by_source_servers("describe_source_servers", source_server_ids)


def all_source_servers() -> list[dict[str, Any]]:
    """Every source server of the account and region (a new agent's server is in no plan yet)."""
    return list(_paginate("describe_source_servers", filters={}))


def latest_snapshot(source_server_id: str, at_or_before: datetime | None) -> dict[str, Any] | None:
    """The newest PIT snapshot, or the newest taken at or before a time."""
    filters: dict[str, str] = {}
    if at_or_before is not None:
        filters["toDateTime"] = drs_time(at_or_before)
    page = call(
        "describe_recovery_snapshots",
        sourceServerID=source_server_id,
        filters=filters,
        order="DESC",
        maxResults=10,
    )
    items: list[dict[str, Any]] = page.get("items", [])
    return items[0] if items else None


def start_recovery(servers: list[dict[str, str]], is_drill: bool, tags: dict[str, str]) -> dict[str, Any]:
    job: dict[str, Any] = call("start_recovery", sourceServers=servers, isDrill=is_drill, tags=tags)["job"]
    return job


def jobs(job_ids: list[str]) -> list[dict[str, Any]]:
    return list(_paginate("describe_jobs", filters={"jobIDs": job_ids})) if job_ids else []


def jobs_since(since: datetime) -> list[dict[str, Any]]:
    return list(_paginate("describe_jobs", filters={"fromDate": drs_time(since)}))


def active_jobs() -> list[dict[str, Any]]:
    """Jobs not yet COMPLETED (DRS allows 20 at once per account, and one per source server)."""
    return [job for job in _paginate("describe_jobs", filters={}) if job.get("status") != "COMPLETED"]


def recovery_instances(source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
    """The drill (drill=True) or the failover (drill=False) recovery instances of these source servers."""
    instances = _by_source_servers("describe_recovery_instances", source_server_ids)
    return [ri for ri in instances if bool(ri.get("isDrill")) == drill]


def terminate_recovery_instances(recovery_instance_ids: list[str]) -> list[str]:
    """Terminate in jobs of at most the per-job quota. A job quota that is full is transient here: the
    state machine retries with backoff while other jobs end."""
    size = service_quotas.drs_quotas_in_force().quotas.max_servers_per_job
    job_ids = []
    for start in range(0, len(recovery_instance_ids), size):
        ids = recovery_instance_ids[start : start + size]
        try:
            job_ids.append(call("terminate_recovery_instances", recoveryInstanceIDs=ids)["job"]["jobID"])
        except DrsRefused as refused:
            if refused.code != "ServiceQuotaExceededException":
                raise
            raise TransientError(f"DRS terminate_recovery_instances: {refused}") from None
    return job_ids


def start_failback_launch(recovery_instance_ids: list[str], tags: dict[str, str]) -> str:
    job = call("start_failback_launch", recoveryInstanceIDs=recovery_instance_ids, tags=tags)["job"]
    return str(job["jobID"])


def uses_private_ip_for_failback(recovery_instance_id: str) -> bool:
    """Whether the recovery instance's failback replication goes to its private IP (a VPN or Direct
    Connect route) rather than its public one."""
    configuration = call("get_failback_replication_configuration", recoveryInstanceID=recovery_instance_id)
    return bool(configuration.get("usePrivateIP"))


def stop_failback(recovery_instance_id: str) -> None:
    call("stop_failback", recoveryInstanceID=recovery_instance_id)


def start_replication(source_server_id: str) -> dict[str, Any]:
    server: dict[str, Any] = call("start_replication", sourceServerID=source_server_id)["sourceServer"]
    return server


def apply_launch_configuration(source_server_id: str, fields: dict[str, Any]) -> bool:
    """Set launch-configuration fields; an unchanged configuration is left alone (one read, no write).
    True when it was updated."""
    current = call("get_launch_configuration", sourceServerID=source_server_id)
    if all(current.get(k) == v for k, v in fields.items()):
        return False
    call("update_launch_configuration", sourceServerID=source_server_id, **fields)
    return True


def endpoint_url() -> str:
    """The DRS endpoint this task's own calls go to (a VPC endpoint when one is configured)."""
    return str(client("drs").meta.endpoint_url)
