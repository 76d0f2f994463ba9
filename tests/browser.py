"""Headless Chromium (Debian's `chromium` package) for report tests and the README screenshot.

`render` loads a page from a file, returns the DOM after Chromium parsed and laid it out, and the http(s)
addresses the page itself asked for, read from Chromium's net log. Chromium's own background requests
(component updates, sign-in) are not the page's: they carry no initiator and are left out; host
resolution is mapped to nothing (loopback excepted) so none of them leaves the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-domain-reliability",
    "--no-pings",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
TIMEOUT_SECONDS = 120
NO_BROWSER = "no chromium binary on PATH (Debian: apt-get install chromium; .ci/run installs it)"


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


def _run(page: Path, extra: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError(NO_BROWSER)
    command = [binary, *FLAGS, f"--user-data-dir={workdir / 'profile'}", *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=True)


@dataclass(frozen=True)
class Rendered:
    dom: str
    requested: list[str]  # http(s) addresses the page asked for


def render(page: Path) -> Rendered:
    with tempfile.TemporaryDirectory(prefix="report-browser-") as tmp:
        workdir = Path(tmp)
        net_log = workdir / "net-log.json"
        done = _run(page, [f"--log-net-log={net_log}", "--dump-dom"], workdir)
        return Rendered(dom=done.stdout, requested=page_requests(json.loads(net_log.read_text())))


def page_requests(net_log: dict[str, Any]) -> list[str]:
    """http(s) URLs of the requests a page started (URL_REQUEST_START_JOB with an initiator)."""
    start_job = net_log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in net_log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or params.get("initiator") == "not an origin":
            continue
        if str(params.get("url", "")).startswith(("http://", "https://")):
            urls.append(params["url"])
    return urls


def screenshot(page: Path, out: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="report-browser-") as tmp:
        _run(page, [f"--window-size={width},{height}", f"--screenshot={out.resolve()}"], Path(tmp))


@dataclass(frozen=True)
class Element:
    tag: str
    attrs: dict[str, str]
    text: str

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Collector(HTMLParser):
    """Every element with its attributes and the text directly inside it (enough to assert on a DOM)."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "col", "embed"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in self.VOID:
            self.open.append(len(self.elements) - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, []))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.elements[self.open.pop()][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.open:
            self.elements[self.open[-1]][2].append(data)


def elements(dom: str) -> list[Element]:
    collector = _Collector()
    collector.feed(dom)
    return [Element(tag, attrs, "".join(text).strip()) for tag, attrs, text in collector.elements]


def main(argv: list[str]) -> int:
    """python -m tests.browser OUT.png: a screenshot of the demo recovery report (tests/report_samples.py)."""
    from lambdas.domain.report import build_report, render_html
    from lambdas.plan import parse_plan
    from tests.report_samples import recovery_record

    out = Path(argv[0] if argv else "docs/report.png")
    root = Path(__file__).resolve().parent.parent
    plan = parse_plan(json.loads((root / "plans" / "sample-plan.json").read_text()))
    with tempfile.TemporaryDirectory(prefix="report-demo-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_html(build_report(plan, recovery_record())), encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, out, 1100, 1500)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
