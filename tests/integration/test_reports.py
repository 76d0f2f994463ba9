"""Every run leaves a report (also a failed one), metrics, and notifications."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests import browser
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
    db = next(t for t in document["timeline"] if t["server"] == "shop-db-1")
    assert db["launch_failed"] and db["launch_failed_s"] >= db["launch_requested_s"]
    assert "LaunchFailed" in page


needs_chromium = pytest.mark.skipif(browser.find_chromium() is None, reason=browser.NO_BROWSER)


def in_chromium(page: str, folder: Path) -> tuple[browser.Rendered, list[browser.Element]]:
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    rendered = browser.render(path)
    return rendered, browser.elements(rendered.dom)


@needs_chromium
def test_report_page_in_chromium_draws_one_bar_per_server_and_fetches_nothing(
    cloud: LocalCloud, plan: Plan, tmp_path: Path
) -> None:
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED"
    _document, page = stored_report(cloud, run_record(plan, result["executionArn"]))
    rendered, dom = in_chromium(page, tmp_path)
    assert rendered.requested == []
    svg = [e for e in dom if e.tag == "svg" and "timeline" in e.classes]
    assert len(svg) == 1
    bars = [e for e in dom if e.tag == "g" and "server" in e.classes]
    assert [b.attrs["data-server"] for b in bars] == [s.name for s in plan.servers()]
    assert {b.attrs["data-state"] for b in bars} == {"healthy"}
    segments = [e for e in dom if e.tag == "rect" and "seg" in e.classes]
    assert [s.attrs["data-kind"] for s in segments] == ["launching", "booting"] * len(bars)
    assert all(float(s.attrs["width"]) >= 0 for s in segments)
    groups = [
        (e.attrs["data-wave"], e.attrs["data-name"]) for e in dom if e.tag == "g" and "wave" in e.classes
    ]
    assert groups == [(str(i), w.name) for i, w in enumerate(plan.waves, 1)]
    targets = [e for e in dom if e.tag == "line" and "target" in e.classes]
    assert len(targets) == 1
    assert [e.text for e in dom if "target-label" in e.classes] == [
        f"RTO target {plan.targets.rto_minutes:.1f} min"
    ]
    titles = [e.text for e in dom if e.tag == "title"]
    assert all(any(t.startswith(f"{s.name} (") for t in titles) for s in plan.servers())


@needs_chromium
def test_failed_launch_is_marked_on_the_page_in_chromium(
    cloud: LocalCloud, plan: Plan, tmp_path: Path
) -> None:
    cloud.drs.fail_launch("s-0a1b2c3d4e5f60001")
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "FAILED"
    _document, page = stored_report(cloud, run_record(plan, result["executionArn"]))
    rendered, dom = in_chromium(page, tmp_path)
    assert rendered.requested == []
    states = {
        e.attrs["data-server"]: e.attrs["data-state"] for e in dom if e.tag == "g" and "server" in e.classes
    }
    assert states["shop-db-1"] == "launch failed"
    assert all(state == "not launched" for name, state in states.items() if name != "shop-db-1")
    assert [e.attrs["data-kind"] for e in dom if e.tag == "rect" and "seg" in e.classes] == ["failed"]
    assert len([e for e in dom if e.tag == "path" and "fail-mark" in e.classes]) == 1
    assert next(e.text for e in dom if "verdict" in e.classes) == "\u2718 missed"


@pytest.fixture
def pixel_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that logs what it is asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@needs_chromium
def test_the_request_check_sees_what_a_page_fetches(
    pixel_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    """The check above can fail: a page that loads an image and a stylesheet has both requests listed."""
    base, seen = pixel_server
    page = (
        f'<!doctype html><html><head><link rel="stylesheet" href="{base}/style.css"></head>'
        f'<body><img src="{base}/pixel.png" alt=""></body></html>'
    )
    rendered, _dom = in_chromium(page, tmp_path)
    assert sorted(rendered.requested) == [f"{base}/pixel.png", f"{base}/style.css"]
    assert sorted(seen) == ["/pixel.png", "/style.css"]


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
