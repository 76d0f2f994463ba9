#!/usr/bin/env python3
"""CDK entry point: `python app.py` or `cdk synth`. Plans come from plans/*.json (context `plans` to
choose another glob); an invalid plan stops synth with the file and field named."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

# The CDK library runs on Node.js (jsii); without it the import below ends in a long traceback.
if shutil.which("node") is None:
    sys.exit(
        "error: Node.js is not on PATH, and the CDK needs it. Use `make synth` (it puts the project's "
        "Node.js from .venv first on PATH), or install Node.js 20 or newer."
    )

import aws_cdk as cdk
import cdk_nag

from dr_constructs.deploy_options import DeployOptionError, DeployOptions
from dr_constructs.detection import DetectionRegionError
from dr_constructs.lambda_assets import MissingDependencies
from dr_constructs.nag import NagSuppressionError, apply_nag_suppressions
from dr_constructs.stack import DrOrchestratorStack
from lambdas.plan import PlanError, load_plans, plan_files

ROOT = Path(__file__).resolve().parent


def main() -> None:
    # The CDK CLI sets CDK_OUTDIR and passes cdk.json's context; `python app.py` alone does the same, so
    # both synthesize the same template (feature flags included).
    context = (
        None if "CDK_CONTEXT_JSON" in os.environ else json.loads((ROOT / "cdk.json").read_text())["context"]
    )
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")), context=context)
    pattern = app.node.try_get_context("plans") or "plans/*.json"
    stack_name = app.node.try_get_context("stack_name") or "DrOrchestrator"
    # Environment-agnostic unless context `region` (with `account`) pins it: see "Outage detection" in README.
    region = app.node.try_get_context("region")
    env = cdk.Environment(account=app.node.try_get_context("account"), region=region) if region else None
    try:
        options = DeployOptions.from_context(app.node.try_get_context)
        plans = load_plans(plan_files(pattern, ROOT))
        stack = DrOrchestratorStack(
            app,
            stack_name,
            plans=plans,
            env=env,
            description="Azure -> AWS DR orchestrator",
            termination_protection=options.termination_protection,
            # The stack's own tags (cdk.json sets @aws-cdk/core:explicitStackTags, so Tags.of(stack) alone
            # would tag only the resources).
            tags=options.tags,
        )
        for key, value in options.tags.items():
            cdk.Tags.of(stack).add(key, value)
        apply_nag_suppressions(stack)
    except (
        DeployOptionError,
        PlanError,
        MissingDependencies,
        DetectionRegionError,
        NagSuppressionError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cdk.Aspects.of(app).add(cdk_nag.AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
