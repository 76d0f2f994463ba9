"""Commands that other packages add to drctl, through the entry point group `drctl.plugins`.

drctl depends on no plugin: `drctl local ...` comes from `localcloud` (pyproject.toml,
`[project.entry-points."drctl.plugins"]`). A plugin is a function that takes the subparsers of the `drctl`
parser and adds its commands. A plugin that is not installed is simply absent; one that is installed but
cannot be loaded (a dependency missing) keeps its command, which then ends with a one-line error naming why.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUP = "drctl.plugins"

Register = Callable[[Any], None]


class PluginUnavailable(Exception):
    """A plugin's command was called but the plugin cannot be loaded; the message says how to fix it."""


def discovered() -> list[EntryPoint]:
    return sorted(entry_points(group=GROUP), key=lambda e: e.name)


def add_plugins(sub: Any, plugins: Iterable[EntryPoint] | None = None) -> None:
    """Add every plugin's commands (default: the installed ones) to `sub`, the parser's subparsers."""
    for entry in discovered() if plugins is None else plugins:
        try:
            register: Register = entry.load()
        except ImportError as exc:
            _add_unavailable(sub, entry, exc)
            continue
        register(sub)


def _add_unavailable(sub: Any, entry: EntryPoint, exc: ImportError) -> None:
    reason = (
        f"`drctl {entry.name}` cannot load {entry.value}: {exc}. Install what it needs "
        f"(for the local cloud: pip install -e '.[local]')"
    )
    command = sub.add_parser(entry.name, help=f"(unavailable: {exc})", add_help=False)
    command.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def unavailable(args: argparse.Namespace) -> int:
        raise PluginUnavailable(reason)

    command.set_defaults(func=unavailable)
