"""`drctl failback-image build|publish|check`: the failback-client image for Azure (README, "Failback")."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from drctl.image_build import DEFAULT_LAUNCHER, build
from drctl.image_publish import DEFAULT_IMAGE_NAME, Target, check, default_version, publish
from drctl.stack import OperatorError
from lambdas.plan import load_plan_file

RESOURCE_MANAGER = "https://management.azure.com"


def cmd_build(args: argparse.Namespace) -> int:
    result = build(Path(args.iso), Path(args.out), launcher=args.launcher, progress=_progress(args))
    if args.json:
        print(json.dumps(result.document(), indent=2))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    subscription = args.subscription or os.environ.get("AZURE_SUBSCRIPTION_ID", "")
    if not subscription:
        raise OperatorError("--subscription is required (or set AZURE_SUBSCRIPTION_ID)")
    target = Target(
        subscription_id=subscription,
        resource_group=args.resource_group,
        location=args.location,
        storage_account=args.storage_account,
        storage_resource_group=args.storage_resource_group or args.resource_group,
        container=args.container,
        blob_endpoint=args.blob_endpoint or f"https://{args.storage_account}.blob.core.windows.net",
        resource_manager=args.resource_manager,
        gallery=args.gallery,
        image_name=args.image_name,
        image_version=args.image_version or default_version(),
    )
    image_id = publish(Path(args.vhd), target, progress=_progress(args))
    if args.json:
        print(json.dumps({"imageId": image_id}))
    else:
        where = (
            "azure.failback.image_id in the plan" if args.gallery else "a gallery (publish with --gallery)"
        )
        print(f"image id: {image_id}\n(put a gallery image version id in {where})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    plan = load_plan_file(Path(args.plan))
    findings = check(plan, args.resource_manager)
    if args.json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        print(f"failback-client image {plan.azure.failback.image_id}:")
        for finding in findings:
            print(f"  {'ok   ' if finding.severity == 'ok' else 'ERROR'} {finding.message}")
    return 1 if any(f.severity == "error" for f in findings) else 0


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
    build_parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    build_parser.set_defaults(func=cmd_build)

    resource_manager = argparse.ArgumentParser(add_help=False)
    resource_manager.add_argument(
        "--resource-manager",
        default=os.environ.get("AZURE_RESOURCE_MANAGER_URL", RESOURCE_MANAGER),
        help=f"Azure Resource Manager endpoint (default AZURE_RESOURCE_MANAGER_URL or {RESOURCE_MANAGER})",
    )
    resource_manager.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )

    pub = image_sub.add_parser(
        "publish",
        parents=[resource_manager],
        help="upload the VHD as a page blob and create the image (your Azure sign-in; prints the image id)",
    )
    pub.add_argument("--vhd", required=True, help="the VHD that build wrote")
    pub.add_argument("--resource-group", required=True, help="resource group of the image (and gallery)")
    pub.add_argument("--location", required=True, help="Azure region of the image: the plan's VMs' region")
    pub.add_argument("--gallery", default=None, help="Compute Gallery for an image version (what plans need)")
    pub.add_argument("--storage-account", required=True, help="storage account in the same region")
    pub.add_argument(
        "--storage-resource-group", default=None, help="its resource group (default --resource-group)"
    )
    pub.add_argument("--container", default="vhds", help="blob container (created if missing; default vhds)")
    pub.add_argument("--blob-endpoint", default=None, help="default https://ACCOUNT.blob.core.windows.net")
    pub.add_argument("--image-name", default=DEFAULT_IMAGE_NAME, help="image (definition) name")
    pub.add_argument("--image-version", default=None, help="gallery version (default HOOK.YYYYMMDD.HHMMSS)")
    pub.add_argument("--subscription", default=None, help="default AZURE_SUBSCRIPTION_ID")
    pub.set_defaults(func=cmd_publish)

    chk = image_sub.add_parser(
        "check",
        parents=[resource_manager],
        help="the plan's image exists in its VMs' regions, is generation 1 and has this release's hook",
    )
    chk.add_argument("--plan", required=True, help="plan JSON file")
    chk.set_defaults(func=cmd_check)
