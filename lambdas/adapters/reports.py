"""Run reports in S3 (KMS-encrypted bucket): JSON for machines, HTML for people."""

from __future__ import annotations

import json
import os
from typing import Any

from lambdas.adapters.aws import client


def report_prefix(plan: str, started_at: str, run_id: str) -> str:
    return f"reports/{plan}/{started_at.replace(':', '')}-{run_id}"


def put_report(prefix: str, report: dict[str, Any], page: str) -> dict[str, str]:
    bucket = os.environ["REPORT_BUCKET_NAME"]
    s3 = client("s3")
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}.json",
        Body=json.dumps(report, indent=2, default=str).encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=bucket, Key=f"{prefix}.html", Body=page.encode(), ContentType="text/html; charset=utf-8"
    )
    return {
        "bucket": bucket,
        "json": f"{prefix}.json",
        "html": f"{prefix}.html",
        "uri": f"s3://{bucket}/{prefix}.html",
    }
