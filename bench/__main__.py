"""`make bench`: what the orchestrator adds on top of DRS, how it scales, and how fast its Lambdas start.

Writes bench/results.json and prints a table. Every figure is measured on the embedded local cloud in
this run; nothing is asserted (the tests do that).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import plans
from dr_constructs.task_functions import TASKS
from lambdas.adapters import state_store
from lambdas.plan import load_plans
from lambdas.quotas import DEFAULT_QUOTAS, IAM_MANAGED_POLICY_CHARS
from localcloud import limits
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.drs import DrsTiming
from localcloud.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
# The overhead runs keep Step Functions waits at real time (scale 1): a 30 s poll really takes 30 s, as
# the Lambda work around it does. DRS steps take the emulator's seconds. The scale run speeds waits up.
OVERHEAD_TIME_SCALE = 1.0
TIME_SCALE = 60.0
PRICE_PER_1000_TRANSITIONS = 0.025
HISTORY_LIMIT = 25_000


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def _launch_jobs(cloud: LocalCloud) -> list[dict[str, Any]]:
    jobs = cloud.client("drs").describe_jobs(filters={})["items"]
    return [j for j in jobs if j["type"] == "LAUNCH" and j.get("endDateTime")]


def _drs_busy_seconds(jobs: list[dict[str, Any]]) -> float:
    """Wall time during which at least one DRS launch job ran: the part of the run DRS accounts for."""
    spans = sorted((_time(j["creationDateTime"]), _time(j["endDateTime"])) for j in jobs)
    busy, current_start, current_end = 0.0, None, None
    for start, end in spans:
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                busy += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        busy += (current_end - current_start).total_seconds()
    return busy


def _max_concurrent(jobs: list[dict[str, Any]]) -> int:
    points = sorted(
        [(_time(j["creationDateTime"]), 1) for j in jobs] + [(_time(j["endDateTime"]), -1) for j in jobs]
    )
    active = peak = 0
    for _, delta in points:
        active += delta
        peak = max(peak, active)
    return peak


def measure_overhead(mode: str, plan_document: dict[str, Any], workdir: Path) -> dict[str, Any]:
    plan_dir = workdir / f"plans-{mode}"
    plan_path = plans.write(plan_document, plan_dir)
    template = synthesize(outdir=workdir / f"cdk.out-{mode}", plans=str(plan_dir / "*.json"))
    plan = load_plans([plan_path])[0]
    settings = LocalCloudSettings(time_scale=OVERHEAD_TIME_SCALE, log_level="ERROR", print_metrics=False)
    with LocalCloud(template, [plan], settings) as cloud:
        cloud.drs_events = "deliver" if mode == "event" else "drop"
        started = time.monotonic()
        result = cloud.run("recovery", {"plan": plan.name}, timeout=900)
        wall = time.monotonic() - started
        drs_seconds = _drs_busy_seconds(_launch_jobs(cloud))
    return {
        "status": result["status"],
        "wall_seconds": round(wall, 2),
        "drs_job_seconds": round(drs_seconds, 2),
        "overhead_seconds": round(wall - drs_seconds, 2),
    }


MAX_SERVERS_PER_JOB = DEFAULT_QUOTAS.max_servers_per_job
MAX_CONCURRENT_JOBS = DEFAULT_QUOTAS.max_concurrent_jobs
# 300 servers (the DRS replicating-server quota) in 5 waves; the first wave is above the 100 servers a
# DRS job may hold, so it launches as three jobs at once.
SCALE_WAVES = [220, 20, 20, 20, 20]


def _wait_for_idle_drs(cloud: LocalCloud, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = cloud.client("drs").describe_jobs(filters={})["items"]
        if all(j["status"] == "COMPLETED" for j in jobs):
            return
        time.sleep(0.5)


def measure_scale(workdir: Path, wave_sizes: list[int] = SCALE_WAVES) -> dict[str, Any]:
    plan_dir = workdir / "plans-scale"
    plan_path = plans.write(plans.large(wave_sizes), plan_dir)
    template = synthesize(outdir=workdir / "cdk.out-scale", plans=str(plan_dir / "*.json"))
    plan = load_plans([plan_path])[0]
    fast = replace(DrsTiming(), job_pending=0.2, snapshot=0.3, conversion=1.0, boot=1.0, terminate=0.5)
    settings = LocalCloudSettings(
        time_scale=TIME_SCALE, drs_timing=fast, log_level="ERROR", print_metrics=False
    )
    results: dict[str, Any] = {
        "servers": sum(wave_sizes),
        "waves": len(wave_sizes),
        "largest_wave": max(wave_sizes),
    }
    document = json.loads(template.read_text())
    results["largest_policy_chars"] = max(limits.policy_sizes(document, "DrOrchestrator").values())
    with LocalCloud(template, [plan], settings) as cloud:
        for workflow in ("drill", "recovery"):
            # DRS runs one job per server at a time: the drill's termination jobs must have ended, as an
            # operator would wait for them, or preflight refuses the servers.
            _wait_for_idle_drs(cloud)
            started = time.monotonic()
            result = cloud.run(workflow, {"plan": plan.name}, timeout=1800)
            wall = time.monotonic() - started
            if workflow == "recovery":
                # Execution start to the creation of the run's last DRS launch job (DRS's clock).
                every_job = cloud.client("drs").describe_jobs(filters={})["items"]
                created = [
                    _time(j["creationDateTime"]) for j in every_job if j["initiatedBy"] == "START_RECOVERY"
                ]
                if created:
                    start = result["startDate"].astimezone(max(created).tzinfo)
                    seconds = round((max(created) - start).total_seconds(), 2)
                    results["seconds_to_last_job_started"] = seconds
                else:  # the run failed before launching: the figure does not exist
                    results["seconds_to_last_job_started"] = None
                found = state_store.run_of_execution(
                    state_store.query_runs(plan.name), result["executionArn"]
                )
                record = found.to_document() if found is not None else {}
                # DynamoDB counts attribute names and values: the JSON text is a close upper bound.
                results["run_record_bytes"] = len(json.dumps(record, default=str).encode())
            history = _history(cloud, result["executionArn"])
            transitions = sum(1 for e in history if e["type"].endswith("StateEntered"))
            results[workflow] = {
                "status": result["status"],
                **({"cause": str(result.get("cause", ""))[:500]} if result["status"] != "SUCCEEDED" else {}),
                "wall_seconds": round(wall, 2),
                "history_events": len(history),
                "state_transitions": transitions,
                "cost_usd": round(transitions * PRICE_PER_1000_TRANSITIONS / 1000, 5),
            }
        jobs = _launch_jobs(cloud)
        results["max_servers_per_job"] = max(len(j["participatingServers"]) for j in jobs)
        results["jobs_per_run"] = len(jobs) // 2
        results["max_concurrent_jobs"] = _max_concurrent(jobs)
        results["max_servers_in_active_jobs"] = cloud.drs.peaks["servers"]
    results["history_events"] = max(results[w]["history_events"] for w in ("drill", "recovery"))
    results["state_transitions"] = max(results[w]["state_transitions"] for w in ("drill", "recovery"))
    return results


QUOTAS = {
    "max_servers_per_job": MAX_SERVERS_PER_JOB,
    "max_servers_in_active_jobs": DEFAULT_QUOTAS.max_servers_in_active_jobs,
    "max_concurrent_jobs": MAX_CONCURRENT_JOBS,
    "iam_managed_policy_chars": IAM_MANAGED_POLICY_CHARS,
    "history_limit": HISTORY_LIMIT,
}

# Noise on a shared machine only ever makes an import slower: the best of several runs is the figure.
IMPORT_SAMPLES = 7


def measure_cold_start(template: Path) -> dict[str, Any]:
    """Import time of each handler module in a fresh interpreter (`python -X importtime`), and the
    unzipped size of each code asset."""
    document = json.loads(template.read_text())
    # Each module is imported with its function's environment, as Lambda's init would.
    environments = {
        str(r["Properties"]["Handler"]).rsplit(".", 1)[0]: r["Properties"]["Environment"]["Variables"]
        for r in document["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    imports: dict[str, float] = {}
    for module in sorted({t.handler.rsplit(".", 1)[0] for t in TASKS}):
        constants = {k: v for k, v in environments[module].items() if isinstance(v, str)}
        best = None
        for _ in range(IMPORT_SAMPLES):
            run = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import {module}"],
                cwd=ROOT,
                env={**os.environ, **constants},
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(
                line
                for line in reversed(run.stderr.splitlines())
                if re.search(rf"\| {re.escape(module)}$", line)
            )
            micros = int(line.split("|")[1])
            best = micros if best is None else min(best, micros)
        imports[module] = round((best or 0) / 1000, 1)
    sizes = {}
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            asset = template.parent / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"
            total = sum(f.stat().st_size for f in asset.rglob("*") if f.is_file())
            sizes[asset.name] = round(total / 1024**2, 1)
    return {
        "cold_import_ms": imports,
        "cold_import_ms_max": max(imports.values()),
        "cold_import_ms_median": sorted(imports.values())[len(imports) // 2],
        "asset_mb": sizes,
        "asset_mb_max": max(sizes.values()),
    }


def scale_only() -> int:
    """`python -m bench --scale`: rerun the 300-server figures only, keeping the other figures of the file."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="dr-bench-") as tmp:
        scale = measure_scale(Path(tmp))
    results["scale"] = scale
    for key in (
        "max_servers_per_job",
        "max_servers_in_active_jobs",
        "largest_policy_chars",
        "seconds_to_last_job_started",
        "run_record_bytes",
        "history_events",
        "state_transitions",
    ):
        results[key] = scale[key]
    results["quotas"] = QUOTAS
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(scale, indent=2))
    return 0


def main() -> int:
    if "--scale" in sys.argv[1:]:
        return scale_only()
    with tempfile.TemporaryDirectory(prefix="dr-bench-") as tmp:
        workdir = Path(tmp)
        print("overhead: recovery of the sample plan, event-driven waits ...", flush=True)
        event = measure_overhead("event", plans.sample(), workdir)
        print("overhead: the same with 30 s fixed-interval polling and no events ...", flush=True)
        polling = measure_overhead("polling", plans.with_fallback_poll(30), workdir)
        print(f"scale: {sum(SCALE_WAVES)} servers in waves of {SCALE_WAVES} ...", flush=True)
        scale = measure_scale(workdir)
        print("cold start ...", flush=True)
        cold = measure_cold_start(workdir / "cdk.out-event" / "DrOrchestrator.template.json")
    ratio = (
        event["overhead_seconds"] / polling["overhead_seconds"] if polling["overhead_seconds"] > 0 else None
    )
    results = {
        "time_scale": {"overhead": OVERHEAD_TIME_SCALE, "scale": TIME_SCALE},
        "overhead": {"event_driven": event, "polling_30s": polling},
        "overhead_ratio": round(ratio, 3) if ratio is not None else None,
        "scale": scale,
        "servers": scale["servers"],
        "history_events": scale["history_events"],
        "state_transitions": scale["state_transitions"],
        "max_servers_per_job": scale["max_servers_per_job"],
        "max_servers_in_active_jobs": scale["max_servers_in_active_jobs"],
        "largest_policy_chars": scale["largest_policy_chars"],
        "seconds_to_last_job_started": scale["seconds_to_last_job_started"],
        "run_record_bytes": scale["run_record_bytes"],
        "quotas": QUOTAS,
        **cold,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten: {RESULTS}")
    return 0


def table(r: dict[str, Any]) -> str:
    e, p, s = r["overhead"]["event_driven"], r["overhead"]["polling_30s"], r["scale"]
    scale_of = "waits at real time"
    rows = [
        (
            "recovery wall time, event-driven",
            f"{e['wall_seconds']} s",
            f"DRS jobs {e['drs_job_seconds']} s ({scale_of})",
        ),
        ("orchestration overhead, event-driven", f"{e['overhead_seconds']} s", ""),
        ("recovery wall time, 30 s polling", f"{p['wall_seconds']} s", f"DRS jobs {p['drs_job_seconds']} s"),
        ("orchestration overhead, 30 s polling", f"{p['overhead_seconds']} s", ""),
        ("overhead_ratio (goal < 0.2)", str(r["overhead_ratio"]), ""),
        (
            "scale: servers / waves (largest)",
            f"{s['servers']} / {s['waves']} ({s['largest_wave']})",
            f"drill {s['drill']['status']}, recovery {s['recovery']['status']}",
        ),
        (
            "max servers per job / concurrent jobs",
            f"{s['max_servers_per_job']} / {s['max_concurrent_jobs']}",
            f"quotas {MAX_SERVERS_PER_JOB} / {MAX_CONCURRENT_JOBS}; {s['jobs_per_run']} jobs per run",
        ),
        (
            "max servers in active jobs",
            str(s["max_servers_in_active_jobs"]),
            f"quota {DEFAULT_QUOTAS.max_servers_in_active_jobs}",
        ),
        (
            "largest_policy_chars (300 servers)",
            str(s["largest_policy_chars"]),
            f"IAM managed policy {IAM_MANAGED_POLICY_CHARS}",
        ),
        ("recovery start to last DRS job started", f"{s['seconds_to_last_job_started']} s", "300 servers"),
        ("run record (300 servers)", f"{s['run_record_bytes']} bytes", "DynamoDB item 409,600"),
        ("history_events (largest run)", str(r["history_events"]), f"limit {HISTORY_LIMIT}"),
        (
            "state_transitions (largest run)",
            str(r["state_transitions"]),
            f"${max(s['drill']['cost_usd'], s['recovery']['cost_usd']):.4f} per run",
        ),
        (
            "cold_import_ms_max (goal < 300)",
            str(r["cold_import_ms_max"]),
            f"{max(r['cold_import_ms'], key=r['cold_import_ms'].get)}; median {r['cold_import_ms_median']}",
        ),
        ("asset_mb_max", str(r["asset_mb_max"]), ""),
    ]
    width = max(len(k) for k, _, _ in rows)
    return "\n".join(f"{k:<{width}}  {v:>14}  {note}" for k, v, note in rows)


if __name__ == "__main__":
    sys.exit(main())
