"""drctl's global flags, accepted before or after the subcommand (`drctl --json status` and
`drctl status --json`), its version and the examples `drctl --help` ends with."""

from __future__ import annotations

import argparse
import os
from importlib.metadata import PackageNotFoundError, version

from drctl.stack import (
    CONNECT_TIMEOUT_ENV,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    READ_TIMEOUT_ENV,
    seconds,
)

DISTRIBUTION = "azure-aws-dr-orchestrator"
DEFAULT_STACK = "DrOrchestrator"

EXAMPLES = """\
examples:
  drctl status                                  lifecycle, running execution, last drill, replication
  drctl --json status --plan shop               the same as JSON, for scripts
  drctl start drill --plan shop --wait          start a drill and follow it wave by wave
  drctl start recovery --plan shop --reason "INC-1234"
                                                fail over: lists the VMs it deallocates and the DNS
                                                record it switches, and asks for the plan name (or --yes)
  drctl approve --plan shop                     approve an alarm-started failover (or: drctl abort)
  drctl watch --plan shop                       follow the latest run
  drctl report --plan shop --out reports/       save the latest run's JSON and HTML report
  drctl plan validate plans/sample-plan.json    check a plan against DRS and Azure
  drctl --profile dr --region eu-west-1 status  other AWS credentials and region

exit codes: 0 done, 1 failed (run failed, validation errors, AWS unreachable or credentials refused,
not confirmed), 2 bad input (the message names the fix), 130 interrupted (Ctrl-C).
environment: DRCTL_STACK (--stack), AWS_PROFILE (--profile), AWS_REGION (--region),
  DRCTL_CONNECT_TIMEOUT (--connect-timeout), DRCTL_READ_TIMEOUT (--read-timeout)."""


def drctl_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _seconds(text: str) -> float:
    try:
        return seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_global_flags(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
    """The flags every cloud command takes. On the top-level parser they carry the defaults; on a subcommand
    they default to nothing (argparse.SUPPRESS), so that a flag given before the subcommand is kept."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if on_subcommand else value

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--stack",
        default=default(os.environ.get("DRCTL_STACK", DEFAULT_STACK)),
        help=f"the orchestrator's CloudFormation stack (default: $DRCTL_STACK or {DEFAULT_STACK})",
    )
    group.add_argument(
        "--profile", default=default(None), help="AWS profile (default: the standard credential chain)"
    )
    group.add_argument("--region", default=default(None), help="AWS region (default: the profile's)")
    group.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help=f"wait this long to connect to AWS (default: ${CONNECT_TIMEOUT_ENV} or "
        f"{DEFAULT_CONNECT_TIMEOUT:g})",
    )
    group.add_argument(
        "--read-timeout",
        type=_seconds,
        default=default(None),
        metavar="SECONDS",
        help=f"wait this long for each AWS answer (default: ${READ_TIMEOUT_ENV} or {DEFAULT_READ_TIMEOUT:g})",
    )


def global_flags(*, on_subcommand: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    add_global_flags(parser, on_subcommand=on_subcommand)
    return parser
