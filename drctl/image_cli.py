"""`drctl failback-image build|publish|check`: the failback-client image for Azure (README, "Failback")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drctl.image_build import DEFAULT_LAUNCHER, build


def cmd_build(args: argparse.Namespace) -> int:
    result = build(Path(args.iso), Path(args.out), launcher=args.launcher, progress=_progress(args))
    if args.json:
        print(json.dumps(result.document(), indent=2))
    return 0


def _progress(args: argparse.Namespace) -> Any:
    def emit(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    return emit


def add_failback_image_commands(sub: Any) -> None:
    image = sub.add_parser(
        "failback-image", help="build, publish and check the failback-client image for Azure"
    )
    image_sub = image.add_subparsers(dest="image_command", required=True)

    build_parser = image_sub.add_parser(
        "build",
        help="DRS Failback Client ISO -> BIOS-bootable fixed VHD with the boot hook (no cloud access)",
    )
    build_parser.add_argument(
        "--iso", required=True, help="aws-failback-livecd-64bit.iso, downloaded from DRS"
    )
    build_parser.add_argument("--out", required=True, help="the VHD to write (FILE.vhd)")
    build_parser.add_argument(
        "--launcher",
        default=DEFAULT_LAUNCHER,
        help=f"the client's launcher in the LiveCD's root filesystem (default {DEFAULT_LAUNCHER})",
    )
    build_parser.add_argument("--json", action="store_true", help="machine-readable output")
    build_parser.set_defaults(func=cmd_build)
