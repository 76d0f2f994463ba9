"""What drctl shows a person, drawn with rich: the status of each plan as a table, and a run's progress as
styled lines (failures in red, successes in green). On a terminal with colour, in a pipe as plain text;
`--json` output never comes here."""

from __future__ import annotations

import io
import re
import sys
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

# Words in a progress line and how they stand out (drctl/progress.py writes the lines).
EMPHASIS = [
    (re.compile(r"(?:LAUNCH )?FAILED[^;]*|NOT fenced[^;]*|TIMED_OUT|ABORTED"), "bold red"),
    (re.compile(r"SUCCEEDED|passed|healthy[^)]*\)?|COMPLETED|back to normal"), "green"),
    (re.compile(r"waiting for operator approval"), "bold yellow"),
    (re.compile(r"DNS \S+ -> \S+"), "bold"),
]
LIFECYCLE_STYLE = {"NORMAL": "green", "FAILED_OVER": "bold yellow", "FAILED_BACK": "yellow"}
REPLICATION_STYLE = {"CONTINUOUS": "green", "STALLED": "bold red", "DISCONNECTED": "bold red"}


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr), resolved when called so that a redirected stream is honoured."""
    # soft_wrap: a long progress line stays one line in a pipe (grep), the terminal wraps it on screen.
    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=True)


def plain_text(view: Any, width: int = 120) -> str:
    """What a pipe receives: the view as text without colour."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, highlight=False, soft_wrap=True).print(view)
    return buffer.getvalue()


def status_view(report: dict[str, Any]) -> Group:
    """Per plan: a summary line and a table of its servers' replication."""
    parts: list[Any] = []
    for name, plan in report.items():
        parts.append(_plan_summary(name, plan))
        parts.append(_replication_table(plan["replication"]))
    return Group(*parts)


def _plan_summary(name: str, plan: dict[str, Any]) -> Text:
    lifecycle = str(plan["lifecycle"])
    text = Text.assemble("plan ", (name, "bold"), ": ", (lifecycle, LIFECYCLE_STYLE.get(lifecycle, "bold")))
    if plan["running"]:
        waiting = " (waiting for approval: drctl approve|abort)" if plan["waiting_for_approval"] else ""
        text.append(f"\n  running: {plan['running_workflow']} {plan['running']}")
        text.append(waiting, style="bold yellow")
    drill = plan["last_drill"] or {}
    result = str(drill.get("result", "never"))
    text.append("\n  last drill: ")
    text.append(result, style="green" if result == "SUCCEEDED" else "bold red" if result != "never" else "")
    if drill.get("at"):
        text.append(f" {drill['at']}")
    if drill.get("rtoSeconds") is not None:
        text.append(f" RTO {drill['rtoSeconds']:.0f}s")
    refusal = plan.get("last_refusal")
    if refusal:
        text.append("\n  last refused automatic start: ", style="bold yellow")
        text.append(
            f"{refusal.get('at')} {refusal.get('workflow')} "
            f"({refusal.get('alarmName') or refusal.get('trigger')}): {refusal.get('reason')}"
        )
    return text


def _replication_table(replication: dict[str, Any]) -> Table:
    table = Table(title=f"replication (as of {replication['at'] or 'never'})", title_justify="left")
    table.add_column("source server")
    table.add_column("state")
    table.add_column("lag", justify="right")
    for server, info in sorted(replication["servers"].items()):
        state = str(info.get("state"))
        lag = info.get("lagSeconds")
        table.add_row(
            server,
            Text(state, style=REPLICATION_STYLE.get(state, "yellow")),
            "-" if lag is None else f"{lag:.0f}s",
        )
    return table


def progress_line(line: str) -> Text:
    """One line of a run's progress, its outcome words emphasised."""
    text = Text(line)
    for pattern, style in EMPHASIS:
        text.highlight_regex(pattern, style)
    stamp = re.match(r"\s*\[\s*[\d.]+s\]", line)
    if stamp:
        text.stylize("dim", 0, stamp.end())
    return text
