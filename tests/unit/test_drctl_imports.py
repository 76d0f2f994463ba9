"""drctl depends on nothing in localcloud/: the local cloud adds `drctl local ...` as a plugin."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from drctl.main import build_parser, main
from drctl.plugins import GROUP

ROOT = Path(__file__).resolve().parents[2]
DRCTL_MODULES = sorted((ROOT / "drctl").glob("*.py"))


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_scan_sees_imports_in_functions_too(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from localcloud.cli import main\n    import localcloud.cloud\n")
    assert imported_modules(sample) == {"localcloud.cli", "localcloud.cloud"}


@pytest.mark.parametrize("path", DRCTL_MODULES, ids=lambda p: p.name)
def test_no_drctl_module_imports_localcloud(path: Path) -> None:
    assert not [m for m in imported_modules(path) if m.split(".")[0] == "localcloud"]


def test_drctl_runs_with_localcloud_blocked() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['localcloud'] = None\n"
        "import drctl.commands, drctl.plan_init, drctl.plans, drctl.plugins, drctl.progress, drctl.stack\n"
        "from drctl.main import main\n"
        "sys.argv = ['drctl']\n"
        "main(['--help'])\n"
    )
    assert result.returncode == 0, result.stderr
    assert "usage: drctl" in result.stdout and "status" in result.stdout and "plan" in result.stdout


def test_pyproject_declares_the_local_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["entry-points"][GROUP]
    assert declared == {"local": "localcloud.cli:add_local_commands"}
    from localcloud.cli import add_local_commands

    assert EntryPoint(name="local", value=declared["local"], group=GROUP).load() is add_local_commands


def test_the_registered_plugin_adds_local_up_and_demo() -> None:
    from localcloud.cli import PLUGIN, cmd_local_demo, cmd_local_up

    parser = build_parser(plugins=[PLUGIN])
    assert parser.parse_args(["local", "up"]).func is cmd_local_up
    assert parser.parse_args(["local", "demo", "--plan", "shop"]).func is cmd_local_demo
    with pytest.raises(SystemExit):
        build_parser(plugins=[]).parse_args(["local", "up"])  # no plugin: no `local` command


@pytest.mark.parametrize(("missing", "command"), [("moto", "up"), ("cryptography", "up"), ("moto", "demo")])
def test_local_cloud_without_the_local_extras_is_one_clear_line(missing: str, command: str) -> None:
    result = run_python(
        "import sys\n"
        f"sys.modules[{missing!r}] = None\n"
        "from localcloud.cli import PLUGIN\n"
        "from drctl.main import main\n"
        f"sys.exit(main(['local', {command!r}], plugins=[PLUGIN]))\n"
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert missing in result.stderr and "pip install -e '.[local]'" in result.stderr
    assert "Synthesizing" not in result.stdout  # refused before any work


def test_a_plugin_that_cannot_load_keeps_its_command_with_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = EntryPoint(name="local", value="no_such_package.cli:add_commands", group=GROUP)
    assert main(["local", "up", "--time-scale", "5"], plugins=[broken]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_package" in err and "pip install" in err


def test_installed_plugins_are_found_through_their_entry_points(tmp_path: Path) -> None:
    """An installed distribution declaring a drctl.plugins entry point adds its command, with no import of it
    anywhere in drctl (the metadata is what `pip install` writes, an egg-info folder on sys.path)."""
    info = tmp_path / "hello_plugin-1.0.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nhello = hello_plugin:add_commands\n")
    (tmp_path / "hello_plugin.py").write_text(
        "def add_commands(sub):\n"
        "    sub.add_parser('hello').set_defaults(func=lambda args: print('hello from a plugin') or 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from drctl.main import main; sys.exit(main(['hello']))"],
        cwd=ROOT,
        env={"PATH": "", "PYTHONPATH": f"{tmp_path}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "hello from a plugin\n"), result.stderr
