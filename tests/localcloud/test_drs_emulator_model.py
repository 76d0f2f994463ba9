"""The model checker itself: it must catch responses that drift from botocore's `drs` model."""

from __future__ import annotations

import json

from localcloud.drs import shapes
from localcloud.drs.conformance import response_problems

MODEL = shapes.service_model()
SNAPSHOT = {
    "snapshotID": "pit-0123456789abcdef0",
    "sourceServerID": "s-0123456789abcdef0",
    "expectedTimestamp": "2024-06-13T16:40:00+00:00",
}


def problems(operation: str, status: int, body: object, headers: dict[str, str] | None = None) -> list[str]:
    raw = json.dumps(body).encode() if body is not None else b""
    return response_problems(MODEL.operation_model(operation), status, headers or {}, raw)


def test_a_conforming_response_passes() -> None:
    assert problems("DescribeRecoverySnapshots", 200, {"items": [SNAPSHOT]}) == []
    assert problems("StopFailback", 200, None) == []


def test_drift_is_reported() -> None:
    assert problems("DescribeRecoverySnapshots", 200, {"items": [{**SNAPSHOT, "size": 1}]}) == [
        "DescribeRecoverySnapshots: items[0].size: is not a member of RecoverySnapshot"
    ]
    missing = {k: v for k, v in SNAPSHOT.items() if k != "expectedTimestamp"}
    assert problems("DescribeRecoverySnapshots", 200, {"items": [missing]}) == [
        "DescribeRecoverySnapshots: items[0].expectedTimestamp: is required"
    ]
    job = {"jobID": "drsjob-0123456789abcdef0", "status": "RUNNING"}
    assert "job.status: must be one of" in problems("StartRecovery", 202, {"job": job})[0]
    assert problems("StartRecovery", 200, {"job": {"jobID": job["jobID"]}}) == [
        "StartRecovery: status 200, model says 202"
    ]
    assert problems("StopFailback", 200, {"done": True}) == [
        "StopFailback: body sent where the model has none"
    ]


def test_real_service_forms_are_allowed_in_responses_only() -> None:
    timestamp = MODEL.shape_for("ISO8601DatetimeString")
    assert shapes.check(timestamp, "2024-06-13T16:46:56.645979+00:00", output=True) == []
    assert shapes.check(timestamp, "2024-06-13T16:46:56.645979+00:00") != []
    assert shapes.check(timestamp, "2024-06-13T16:46:56.645979Z") == []
    volume = MODEL.shape_for("EbsVolumeID")
    assert shapes.check(volume, "vol-0123456789abcdef0", output=True) == []


def test_error_responses_are_checked() -> None:
    throttled = {"x-amzn-ErrorType": "ThrottlingException", "Retry-After": "3"}
    assert problems("DescribeJobs", 429, {"message": "Rate exceeded"}, throttled) == []
    assert problems("DescribeJobs", 400, {"message": "Rate exceeded"}, throttled) == [
        "DescribeJobs: ThrottlingException sent with status 400, model says 429"
    ]
    in_body = problems("DescribeJobs", 429, {"message": "slow down", "retryAfterSeconds": "3"}, throttled)
    assert in_body == [
        "DescribeJobs: ThrottlingException.retryAfterSeconds belongs in the header, not the body"
    ]
    unknown = problems("DescribeJobs", 400, {"message": "no"}, {"x-amzn-ErrorType": "NopeException"})
    assert unknown == ["DescribeJobs: error code 'NopeException' is not a modeled DRS error"]


def test_requests_are_routed_by_method_and_path() -> None:
    found = shapes.route(
        "GET", "/tags/arn%3Aaws%3Adrs%3Aus-east-1%3A123456789012%3Ajob%2Fdrsjob-0123456789abcdef0"
    )
    assert found is not None
    operation, labels = found
    assert operation.name == "ListTagsForResource"
    assert labels == {"resourceArn": "arn:aws:drs:us-east-1:123456789012:job/drsjob-0123456789abcdef0"}
    tagging = shapes.route("POST", "/tags/x")
    assert tagging is not None and tagging[0].name == "TagResource"
    assert shapes.route("POST", "/NoSuchOperation") is None
