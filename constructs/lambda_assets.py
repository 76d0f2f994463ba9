"""Lambda code assets built without Docker: the `lambdas` package, the validated plan catalog, and
dependencies pre-installed for the Lambda platform by `make lambda-deps` (pip --platform, no network
during synth)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from lambdas.plan import PLAN_CATALOG_FILE

ROOT = Path(__file__).resolve().parent.parent
DEPS_DIR = ROOT / "build" / "lambda-deps"

# "core" runs every task; "azure" adds the Azure SDK for the three tasks that talk to Azure, so the
# others stay small and start fast.
ASSET_FLAVOURS = ("core", "azure")


class MissingDependencies(RuntimeError):
    pass


def build_asset(flavour: str, catalog_json: str) -> lambda_.Code:
    deps = DEPS_DIR / flavour
    if not (deps / ".complete").exists():
        raise MissingDependencies(
            f"Lambda dependencies for '{flavour}' are not built ({deps}). Run `make lambda-deps` once "
            "(it downloads Lambda-platform wheels from PyPI), then synthesize again."
        )
    # A private staging folder per synth: synths running side by side must not share one. The CDK copies
    # it into cdk.out/asset.<hash> during synth; it is removed when the process ends.
    staging = Path(tempfile.mkdtemp(prefix=f"dr-lambda-{flavour}-"))
    atexit.register(shutil.rmtree, staging, True)
    target = staging / "asset"
    shutil.copytree(deps, target, ignore=shutil.ignore_patterns(".complete", "__pycache__", "*.pyc"))
    shutil.copytree(
        ROOT / "lambdas", target / "lambdas", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    (target / PLAN_CATALOG_FILE).write_text(catalog_json, encoding="utf-8")
    return lambda_.Code.from_asset(str(target))
