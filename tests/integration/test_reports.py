"""Every run leaves a report (also a failed one), metrics, and notifications."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import event, plan_state, run, run_record

pytestmark = pytest.mark.integration


def stored_report(cloud: LocalCloud, record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    s3 = cloud.client("s3")
    stored = record["report"]
    document = json.loads(s3.get_object(Bucket=stored["bucket"], Key=stored["json"])["Body"].read())
    page = s3.get_object(Bucket=stored["bucket"], Key=stored["html"])["Body"].read().decode()
    return document, page


def test_drill_report_in_s3_with_objectives_and_cleanup(cloud: LocalCloud, plan: Plan) -> None:
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED"
    record = run_record(plan, result["executionArn"])
    document, page = stored_report(cloud, record)
    assert document["status"] == "SUCCEEDED" and document["workflow"] == "drill"
    assert {t["server"] for t in document["timeline"]} == {s.name for s in plan.servers()}
    assert all(t["healthy_s"] is not None for t in document["timeline"])
    assert document["achieved"]["rto_seconds"] == record["measurements"]["rto_seconds"]
    assert document["cleanup"]["completedAt"]
    assert "DR drill of plan shop" in page and "SUCCEEDED" in page
    encryption = cloud.client("s3").head_object(
        Bucket=record["report"]["bucket"], Key=record["report"]["html"]
    )
    assert encryption["ContentType"].startswith("text/html")


def test_a_failed_run_still_gets_a_report(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs.fail_launch("s-0a1b2c3d4e5f60001")
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "FAILED"
    document, page = stored_report(cloud, run_record(plan, result["executionArn"]))
    assert document["status"] == "FAILED"
    assert document["errors"][0]["error"] == "LaunchFailed"
    assert "shop-db-1" in document["errors"][0]["message"]
    assert "LaunchFailed" in page


def test_metrics_are_emitted_as_emf(cloud: LocalCloud, plan: Plan, capfd: pytest.CaptureFixture[str]) -> None:
    assert run(cloud, "drill", event("drill.json"))["status"] == "SUCCEEDED"
    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"RunSucceeded", "RtoSeconds", "RpoSeconds"} <= names
    run_metric = next(doc for doc in emf if "RunSucceeded" in doc)
    assert (
        run_metric["plan"] == "shop"
        and run_metric["workflow"] == "drill"
        and run_metric["RunSucceeded"] == [1.0]
    )


def test_replication_monitor_records_health(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs.set_replication("s-0a1b2c3d4e5f60003", "STALLED", lag_seconds=900)
    function = cloud.function_name("lambdas.handlers.replication_monitor.handler")
    response = cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    summary = json.loads(response["Payload"].read())
    assert summary["shop"]["stalled"] == 1 and summary["shop"]["notContinuous"] == 1
    assert summary["shop"]["maxLagSeconds"] >= 900
    replication = plan_state(plan)["replication"]
    assert replication["servers"]["s-0a1b2c3d4e5f60003"]["state"] == "STALLED"


def test_notifications_at_start_and_end_with_the_report(cloud: LocalCloud, plan: Plan) -> None:
    topic = cloud.env["NOTIFY_TOPIC_ARN"]
    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    cloud.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    result = run(cloud, "drill", event("drill.json"))
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    subjects = [json.loads(m["Body"])["Subject"] for m in messages]
    assert "[DR] drill started for shop" in subjects and "[DR] drill succeeded for shop" in subjects
    end = next(json.loads(json.loads(m["Body"])["Message"]) for m in messages if "succeeded" in m["Body"])
    assert end["report"].startswith("s3://") and end["execution"] == result["executionArn"]
