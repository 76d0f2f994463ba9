"""EventBridge events as DRS sends them (source aws.drs, best-effort delivery).

Detail shapes follow the DRS user guide's sample events ("Alarm events and EventBridge"):
- DRS Source Server Launch Result: {"state": RECOVERY_LAUNCH_SUCCEEDED|RECOVERY_LAUNCH_FAILED,
  "job-id": ..., "is-drill": "TRUE"|"FALSE"}, resources [source server ARN]
- DRS Source Server Data Replication Stalled Change: {"state": STALLED|NOT_STALLED}
- DRS Recovery Instance Failback State Change: {"state": FAILBACK_IN_PROGRESS|FAILBACK_COMPLETED|
  FAILBACK_ERROR}, resources [recovery instance ARN]; the guide lists no event for READY_FOR_LAUNCH
- DRS PIT Snapshot Taken: {"DrsSnapshotID": ..., "EbsSnapshotIDs": "snap-a,snap-b"}
Terminating recovery instances sends no DRS event.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from localcloud.drs.formats import ACCOUNT_ID
from localcloud.drs.records import Snapshot

FAILBACK_EVENT_STATES = {"FAILBACK_IN_PROGRESS", "FAILBACK_COMPLETED", "FAILBACK_ERROR"}


def _event(
    detail_type: str, region: str, now: datetime, resource: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.drs",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [resource],
        "detail": detail,
    }


def launch_result(
    region: str, now: datetime, server_arn: str, job_id: str, is_drill: bool, ok: bool
) -> dict[str, Any]:
    detail = {
        "state": "RECOVERY_LAUNCH_SUCCEEDED" if ok else "RECOVERY_LAUNCH_FAILED",
        "job-id": job_id,
        "is-drill": "TRUE" if is_drill else "FALSE",
    }
    return _event("DRS Source Server Launch Result", region, now, server_arn, detail)


def replication_stalled(region: str, now: datetime, server_arn: str, stalled: bool) -> dict[str, Any]:
    detail = {"state": "STALLED" if stalled else "NOT_STALLED"}
    return _event("DRS Source Server Data Replication Stalled Change", region, now, server_arn, detail)


def failback_state(region: str, now: datetime, instance_arn: str, state: str) -> dict[str, Any] | None:
    if state not in FAILBACK_EVENT_STATES:
        return None
    return _event("DRS Recovery Instance Failback State Change", region, now, instance_arn, {"state": state})


def snapshot_taken(region: str, now: datetime, server_arn: str, snapshot: Snapshot) -> dict[str, Any]:
    detail = {"DrsSnapshotID": snapshot.snapshot_id, "EbsSnapshotIDs": ",".join(snapshot.ebs_snapshot_ids)}
    return _event("DRS PIT Snapshot Taken", region, now, server_arn, detail)
