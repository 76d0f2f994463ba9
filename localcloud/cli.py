"""`drctl local up|demo`: the embedded local cloud, added to drctl as a plugin (entry point group
`drctl.plugins` in pyproject.toml). drctl itself imports nothing from here."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drctl.plugins import GROUP
from drctl.stack import OperatorError
from lambdas.plan import Plan, load_plans, plan_files
from localcloud.synth import ROOT, synthesize

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


# What the local cloud needs beyond drctl's own dependencies: pyproject.toml, extra `local`.
LOCAL_EXTRAS = ("moto", "cryptography")


def _local_cloud_module() -> Any:
    """localcloud.cloud, or an error naming the missing package and how to install it (before synth)."""
    try:
        from localcloud import cloud
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in LOCAL_EXTRAS:
            raise
        raise OperatorError(
            f"the local cloud needs the 'local' extras ({', '.join(LOCAL_EXTRAS)}), and {exc.name} is not "
            "installed: pip install -e '.[local]'"
        ) from None
    return cloud


def _start_cloud(args: argparse.Namespace) -> tuple[LocalCloud, list[Plan]]:
    cloud_module = _local_cloud_module()
    LocalCloud, LocalCloudSettings = cloud_module.LocalCloud, cloud_module.LocalCloudSettings

    print("Synthesizing the CDK app ...", flush=True)
    template = synthesize(plans=args.plans)
    plans = load_plans(plan_files(args.plans or "plans/*.json", ROOT))
    # Scheduled rules and schedules fire on the scaled clock, as deployed (the monitor every 5 minutes).
    settings = LocalCloudSettings(
        time_scale=args.time_scale, log_level="WARNING", print_metrics=False, schedules="scaled"
    )
    cloud = LocalCloud(template, plans, settings)
    print("Starting the local cloud (moto, DRS emulator, Azure emulator) ...", flush=True)
    cloud.start()
    return cloud, plans


def cmd_local_up(args: argparse.Namespace) -> int:
    cloud, plans = _start_cloud(args)
    print("# Local cloud is up. In another shell:")
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DRS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "REQUESTS_CA_BUNDLE",
    ):
        print(f"export {name}={cloud.env[name]}")
    print(f"export DRCTL_STACK={cloud.stack_name}")
    print(f"export AZURE_AUTHORITY_HOST={cloud.azure.authority}")
    print(f"export AZURE_RESOURCE_MANAGER={cloud.azure.resource_manager_url}")
    for workflow, arn in cloud.state_machines.items():
        print(f"# {workflow}: {arn}")
    print(f"# plans: {', '.join(p.name for p in plans)}. Ctrl-C stops.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
    return 0


def cmd_local_demo(args: argparse.Namespace) -> int:
    _local_cloud_module()  # the local extras first: a missing one is one line, before synth
    from localcloud.demo import run_demo

    cloud, plans = _start_cloud(args)
    try:
        plan = next((p for p in plans if p.name == args.plan), None) if args.plan else plans[0]
        if plan is None:
            print(f"error: plan '{args.plan}' not found", file=sys.stderr)
            return 2
        results = run_demo(cloud, plan, Path(args.report_dir))
    finally:
        cloud.stop()
    return 0 if all(r.status == "SUCCEEDED" for r in results) and len(results) == 4 else 1


def add_local_commands(sub: Any) -> None:
    """`drctl local up|demo`."""
    local = sub.add_parser("local", help="the embedded local cloud").add_subparsers(
        dest="local_command", required=True
    )
    for name, helptext, func in (
        ("up", "start the local cloud and serve until stopped", cmd_local_up),
        ("demo", "run drill -> recovery -> failback -> return to normal", cmd_local_demo),
    ):
        cmd = local.add_parser(name, help=helptext)
        cmd.add_argument("--plans", default=None, help="glob of plan files (default plans/*.json)")
        cmd.add_argument(
            "--time-scale",
            type=float,
            default=60.0,
            help="local waits run this many times faster than the plan says (default 60)",
        )
        cmd.set_defaults(func=func)
        if name == "demo":
            cmd.add_argument("--plan", default=None, help="plan to run (default: the first)")
            cmd.add_argument("--report-dir", default=str(ROOT / "reports"))


def main(argv: list[str] | None = None) -> int:
    """`python -m localcloud.cli local up`: drctl with this plugin, installed as an entry point or not."""
    from drctl.main import main as drctl_main

    return drctl_main(argv, plugins=[PLUGIN])


PLUGIN = EntryPoint(name="local", value="localcloud.cli:add_local_commands", group=GROUP)


if __name__ == "__main__":
    sys.exit(main())
