"""drctl: status, start, approve/abort, watch and report against a deployed stack (standard AWS credentials),
and `drctl plan validate|show|init` for plan files. The same commands work against `drctl local up`, which the
local cloud adds as a plugin (drctl/plugins.py)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from contextlib import nullcontext
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from drctl import commands, plan_init, plans, views
from drctl.confirm import CONFIRMED_WORKFLOWS, NotConfirmed, changes, confirm, find_plan
from drctl.errors import cloud_error
from drctl.flags import EXAMPLES, add_global_flags, drctl_version, global_flags
from drctl.image_cli import add_failback_image_commands
from drctl.plugins import PluginUnavailable, add_plugins
from drctl.stack import OperatorError, Timeouts, find_stack
from lambdas.inputs import WORKFLOWS
from lambdas.plan import MAX_SERVERS_PER_JOB, PlanError, load_plan_file

# Exit codes (also in `drctl --help`).
EXIT_FAILED = 1  # the run failed, validation found errors, AWS could not be used, not confirmed
EXIT_BAD_INPUT = 2  # argparse's code too: the message names the fix
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _timeouts(args: argparse.Namespace) -> Timeouts:
    return Timeouts.resolve(getattr(args, "connect_timeout", None), getattr(args, "read_timeout", None))


def _stack(args: argparse.Namespace) -> Any:
    return find_stack(args.stack, profile=args.profile, region=args.region, timeouts=_timeouts(args))


def _print(args: argparse.Namespace, document: Any, text: str) -> None:
    print(json.dumps(document, indent=2, default=str) if args.json else text)


def cmd_status(args: argparse.Namespace) -> int:
    report = commands.status(_stack(args), args.plan)
    if args.json:
        _print(args, report, "")
    else:
        views.console().print(views.status_view(report))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    workflow = args.workflow.replace("-", "_")
    document = {"plan": args.plan, "snapshot": args.snapshot, "reason": args.reason}
    request = commands.start_request({**document, "requested_by": args.requested_by})
    if workflow in CONFIRMED_WORKFLOWS and not args.yes:
        # Before any cloud call: what changes comes from the plan file, and a refusal changes nothing.
        plan = find_plan(request.plan, args.plans, Path.cwd())
        confirm(changes(plan, workflow), sys.stdin, sys.stderr)
    stack = _stack(args)
    arn = commands.start(stack, workflow, request)
    if not args.wait:
        _print(args, {"executionArn": arn}, f"started {args.workflow} of plan {args.plan}: {arn}")
        return 0
    return _watch(args, stack, arn, started=f"started {args.workflow} of plan {args.plan}: {arn}")


def cmd_approve(args: argparse.Namespace) -> int:
    arn = commands.approve(_stack(args), args.plan, args.requested_by)
    _print(args, {"approved": arn}, f"approved: {arn}")
    return 0


def cmd_abort(args: argparse.Namespace) -> int:
    arn = commands.abort(_stack(args), args.plan, args.reason or "aborted by operator")
    _print(args, {"aborted": arn}, f"aborted: {arn} (nothing was failed over)")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    return _watch(args, _stack(args), args.execution)


def _watch(args: argparse.Namespace, stack: Any, execution: str | None, started: str = "") -> int:
    # People read the progress: on stdout, or on stderr with --json so that stdout stays one JSON document.
    out = views.console(stderr=args.json)
    if started:
        out.print(started, markup=False)
    following = f"following the run of plan {args.plan} (Ctrl-C stops watching; the run goes on)"
    try:
        with out.status(following) if out.is_terminal else nullcontext():
            arn, status = commands.watch(
                stack, args.plan, execution, emit=lambda line: out.print(views.progress_line(line))
            )
    except KeyboardInterrupt:
        print(f"\nstopped watching; the execution goes on (drctl watch --plan {args.plan})", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        _print(args, {"executionArn": arn, "status": status}, "")
    else:
        out.print(views.progress_line(f"execution {status}"))
    return 0 if status == "SUCCEEDED" else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    saved = commands.report(_stack(args), args.plan, args.execution, Path(args.out))
    _print(args, {"saved": [str(p) for p in saved]}, "\n".join(f"saved {p}" for p in saved))
    return 0


def cmd_plan_validate(args: argparse.Namespace) -> int:
    path = Path(args.file)
    plan = load_plan_file(path)  # schema errors first: exit 2 before any cloud call
    validation = plans.validate(_stack(args), plan, path)
    _print(args, validation.document(), plans.format_validation(validation))
    return 0 if validation.passed else 1


def cmd_plan_show(args: argparse.Namespace) -> int:
    plan = load_plan_file(Path(args.file))
    _print(args, plans.show_document(plan), plans.format_plan(plan))
    return 0


def cmd_plan_init(args: argparse.Namespace) -> int:
    out = Path(args.out or f"{args.name}.json")
    # Refuse what can be refused before calling DRS.
    plan_init.check_plan_name(args.name)
    plan_init.check_wave_size(args.wave_size)
    if out.exists() and not args.force:
        raise OperatorError(f"{out} exists: choose another --out, or pass --force to overwrite it")
    starter = plan_init.starter_plan(args.name, plans.list_source_servers(_stack(args)), args.wave_size)
    plan_init.write_plan(out, starter.document, force=args.force)
    _print(args, starter.summary(out), plan_init.format_starter(starter, out))
    return 0


def add_plan_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    plan = sub.add_parser(
        "plan", parents=[common], help="validate or show a recovery plan file, or write a starter plan"
    )
    plan_sub = plan.add_subparsers(dest="plan_command", required=True)

    validate = plan_sub.add_parser(
        "validate",
        parents=[common],
        help="check a plan file against DRS and Azure: exit 0 passed, 1 errors found, 2 operator error",
    )
    validate.add_argument("file", help="plan JSON file")
    validate.set_defaults(func=cmd_plan_validate)

    show = plan_sub.add_parser(
        "show", parents=[common], help="print a plan file and its waves (no cloud access)"
    )
    show.add_argument("file", help="plan JSON file")
    show.set_defaults(func=cmd_plan_show)

    init = plan_sub.add_parser(
        "init", parents=[common], help="write a starter plan from the DRS source servers"
    )
    init.add_argument("--name", required=True, help="plan name (lower-case letters, digits, '-')")
    init.add_argument("--out", default=None, help="file to write (default: NAME.json in this folder)")
    init.add_argument(
        "--wave-size",
        type=int,
        default=MAX_SERVERS_PER_JOB,
        help=f"servers per wave (default and maximum {MAX_SERVERS_PER_JOB}, the DRS limit per job)",
    )
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    init.set_defaults(func=cmd_plan_init)


def add_start_command(sub: Any, common: argparse.ArgumentParser) -> None:
    start = sub.add_parser(
        "start",
        parents=[common],
        help="start a workflow",
        description="Start a workflow. recovery, failback and return-to-normal change production: drctl "
        "lists, from the plan file, the Azure VMs they deallocate and the DNS record they switch, and starts "
        "only when you type the plan's name, or with --yes.",
    )
    start.add_argument("workflow", choices=[w.replace("_", "-") for w in WORKFLOWS])
    start.add_argument("--plan", required=True)
    start.add_argument("--snapshot", default="latest", help="'latest' or an ISO-8601 time with zone")
    start.add_argument("--reason", default="")
    start.add_argument("--requested-by", default=getpass.getuser())
    start.add_argument("--wait", action="store_true", help="follow the execution until it ends")
    start.add_argument(
        "--yes", "-y", action="store_true", help="start recovery, failback or return-to-normal without asking"
    )
    start.add_argument(
        "--plans",
        default="plans/*.json",
        help="plan files the confirmation reads what will change from (default plans/*.json)",
    )
    start.set_defaults(func=cmd_start)


def build_parser(plugins: Iterable[EntryPoint] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drctl",
        description="Azure -> AWS disaster recovery orchestrator: operate a deployed stack.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drctl {drctl_version()}")
    add_global_flags(parser, on_subcommand=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = global_flags(on_subcommand=True)

    status = sub.add_parser("status", parents=[common], help="lifecycle, replication and last drill per plan")
    status.add_argument("--plan", default=None)
    status.set_defaults(func=cmd_status)

    add_start_command(sub, common)

    approve = sub.add_parser("approve", parents=[common], help="approve a failover waiting for approval")
    approve.add_argument("--plan", required=True)
    approve.add_argument("--requested-by", default=getpass.getuser())
    approve.set_defaults(func=cmd_approve)

    abort = sub.add_parser("abort", parents=[common], help="reject a failover waiting for approval")
    abort.add_argument("--plan", required=True)
    abort.add_argument("--reason", default="")
    abort.set_defaults(func=cmd_abort)

    for name, func, helptext in (
        ("watch", cmd_watch, "follow a run (default: the latest of the plan)"),
        ("report", cmd_report, "save a run's report (default: the latest)"),
    ):
        command = sub.add_parser(name, parents=[common], help=helptext)
        command.add_argument("--plan", required=True)
        command.add_argument("--execution", default=None, help="execution ARN")
        if name == "report":
            command.add_argument("--out", default="reports", help="folder for the JSON and HTML report")
        command.set_defaults(func=func)

    add_plan_commands(sub, common)
    add_failback_image_commands(sub)
    add_plugins(sub, plugins)  # `drctl local ...` when the local cloud is installed
    return parser


def main(argv: list[str] | None = None, plugins: Iterable[EntryPoint] | None = None) -> int:
    """`plugins`: the entry points of group drctl.plugins to add (default: the installed ones). Every
    error ends in one line on stderr and an exit code, never a traceback."""
    try:
        args = build_parser(plugins).parse_args(argv)
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except NotConfirmed as exc:
        return _fail(str(exc), EXIT_FAILED)
    except (OperatorError, PlanError, PluginUnavailable, RuntimeError) as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except Exception as exc:
        try:
            timeouts = _timeouts(args)
        except OperatorError:
            timeouts = Timeouts()
        message = cloud_error(exc, timeouts)
        if message is None:
            raise
        return _fail(message, EXIT_FAILED)


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
