"""Run records of the sample plan (plans/sample-plan.json) as the tasks write them, for report tests and the
README's screenshot (`make report-screenshot`)."""

from __future__ import annotations

from typing import Any

from lambdas.domain.measure import measurements

DB, APP1, APP2, REPORTS = (
    "s-0a1b2c3d4e5f60001",
    "s-0a1b2c3d4e5f60002",
    "s-0a1b2c3d4e5f60003",
    "s-0a1b2c3d4e5f60004",
)
RUN_ID = "dr-recovery-shop-20261125T0300"


def at(minutes: float) -> str:
    """The ISO time `minutes` after the runs below started (03:00:00Z)."""
    seconds = round(minutes * 60)
    return f"2026-11-25T03:{seconds // 60:02d}:{seconds % 60:02d}.000Z"


def failed_drill_record() -> dict[str, Any]:
    """A scheduled drill whose critical application server failed to launch (wave 2)."""
    return {
        "runId": "run-1",
        "workflow": "drill",
        "executionArn": "arn:aws:states:us-east-1:1:execution:drill:run-1",
        "status": "FAILED",
        "startedAt": at(0),
        "endedAt": at(20),
        "snapshot": "latest",
        "trigger": {"kind": "schedule"},
        "servers": {
            DB: {
                "wave": 0,
                "launchRequestedAt": at(1),
                "launchedAt": at(9),
                "healthyAt": at(11),
                "recoveryInstanceId": "i-0123456789abcdef0",
                "snapshotAt": "2026-11-25T02:59:30+00:00",
            },
            APP1: {"wave": 1, "launchRequestedAt": at(11.5), "launchFailed": True, "launchFailedAt": at(16)},
            APP2: {"wave": 1, "launchRequestedAt": at(11.5), "launchedAt": at(17)},
        },
        "waves": {
            "w0": {"name": "database", "jobIds": ["drsjob-0a1b2c3d4e5f60001"], "launchRequestedAt": at(1)},
            "w1": {
                "name": "application",
                "jobIds": ["drsjob-0a1b2c3d4e5f60002"],
                "launchRequestedAt": at(11.5),
            },
        },
        "measurements": {"rto_seconds": None, "rpo_seconds": 30.0, "rto_met": False, "rpo_met": True},
        "cleanup": {
            "recoveryInstanceIds": ["i-0123456789abcdef0"],
            "jobIds": ["drsjob-0a1b2c3d4e5f60009"],
            "requestedAt": at(18),
            "completedAt": at(19.5),
        },
        "failure": {
            "error": "LaunchFailed",
            "message": "wave application: critical servers failed: <shop-app-1>",
        },
    }


def recovery_record() -> dict[str, Any]:
    """An alarm-started failover: approval asked, one source VM not fenced (Azure did not answer), traffic
    switched to AWS."""
    record: dict[str, Any] = {
        "runId": RUN_ID,
        "workflow": "recovery",
        "executionArn": f"arn:aws:states:eu-west-1:111122223333:execution:recovery:{RUN_ID}",
        "status": "SUCCEEDED",
        "startedAt": at(0),
        "endedAt": at(27.5),
        "snapshot": "latest",
        "lifecycleAfter": "FAILED_OVER",
        "trigger": {
            "kind": "alarm",
            "alarmName": "shop-azure-unhealthy",
            "eventId": "8f3c2a7e-5b1d-4e9a-a0c4-1d2e3f4a5b6c",
            "requestedBy": "",
            "reason": "",
        },
        "approval": {"requestedAt": at(0.3), "timeoutMinutes": 20, "onTimeout": "proceed"},
        "preflight": {
            "problems": [],
            "warnings": ["shop-reports: replication lag 240 s is close to preflight.max_lag_seconds (300)"],
            "lagSeconds": {DB: 12, APP1: 20, APP2: 18, REPORTS: 240},
        },
        "confirmation": {
            "at": at(0.2),
            "confirmed": True,
            "evidence": {
                "shop-db-1": {"power": "unknown", "provisioning": "Azure did not answer"},
                "shop-app-1": {"power": "PowerState/stopped", "provisioning": "ProvisioningState/succeeded"},
            },
        },
        "fencing": {
            DB: {"name": "shop-db-1", "fenced": True, "reason": "deallocated", "at": at(2.5)},
            APP1: {"name": "shop-app-1", "fenced": True, "reason": "deallocated", "at": at(2.5)},
            APP2: {"name": "shop-app-2", "fenced": True, "reason": "deallocated", "at": at(2.5)},
            REPORTS: {
                "name": "shop-reports",
                "fenced": False,
                "reason": "Azure did not answer (timeout after 3 attempts)",
                "at": at(2.5),
            },
        },
        "servers": {
            DB: _server(0, 3, 10.5, 12.0, "i-0db00000000000001"),
            APP1: _server(1, 12.5, 21.0, 23.5, "i-0a100000000000001"),
            APP2: _server(1, 12.5, 20.0, 22.0, "i-0a200000000000001"),
            REPORTS: _server(1, 12.5, 22.5, 25.5, "i-0a300000000000001"),
        },
        "waves": {
            "w0": {"name": "database", "jobIds": ["drsjob-1d2c3b4a59687a001"], "launchRequestedAt": at(3)},
            "w1": {
                "name": "application",
                "jobIds": ["drsjob-1d2c3b4a59687a002"],
                "launchRequestedAt": at(12.5),
            },
        },
        "traffic": {
            "to": "aws",
            "record": "shop.example.com",
            "from": "20.50.10.11",
            "value": "10.20.1.17",
            "changeId": "/change/C0123456789ABCDEFGHIJ",
            "at": at(26),
        },
    }
    record["measurements"] = measurements(record, 30, 15)
    return record


def _server(wave: int, requested: float, launched: float, healthy: float, instance: str) -> dict[str, Any]:
    return {
        "wave": wave,
        "launchRequestedAt": at(requested),
        "launchedAt": at(launched),
        "healthyAt": at(healthy),
        "recoveryInstanceId": instance,
        "ec2InstanceId": instance,
        "snapshotAt": "2026-11-25T02:59:48+00:00",
    }
