"""The boot hook that goes into the failback-client image, run as the image runs it: a subprocess that
reads userData from a metadata endpoint and starts a launcher (here one that records its environment)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import failback_client.hook as hook
from localcloud.guests import Guests

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


class Metadata:
    """A metadata endpoint answering userData like Azure's IMDS (Metadata: true required)."""

    def __init__(self) -> None:
        self.user_data = ""
        metadata = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.headers.get("Metadata") == "true" and "/compute/userData" in self.path
                body = metadata.user_data.encode() if ok else b"{}"
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def metadata() -> Iterator[Metadata]:
    served = Metadata()
    yield served
    served.server.shutdown()


def document(**changes: Any) -> str:
    body: dict[str, Any] = {
        "version": 1,
        "region": "eu-west-1",
        "credentials": {"accessKeyId": "ASIAEXAMPLE", "secretAccessKey": SECRET, "sessionToken": TOKEN},
        "recoveryInstanceId": "i-0123456789abcdef0",
        "deviceMapping": [
            {"recoveryInstanceDevice": "/dev/xvda", "lun": 1},
            {"recoveryInstanceDevice": "/dev/xvdb", "lun": 0},
        ],
        "endpoint": "",
        **changes,
    }
    return base64.b64encode(json.dumps(body).encode()).decode()


def run_hook(metadata: Metadata, tmp_path: Path) -> tuple[int, list[str], dict[str, str] | None]:
    sysfs = Guests._sysfs(tmp_path, [{"lun": 0, "sizeGB": 128}, {"lun": 1, "sizeGB": 64}])
    recorded = tmp_path / "launcher-env.json"
    launcher = tmp_path / "launcher.py"
    launcher.write_text(
        f"import json, os\nopen({str(recorded)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
    )
    console = tmp_path / "console.log"
    result = subprocess.run(
        [sys.executable, hook.__file__, sys.executable, str(launcher)],
        env={
            "DRS_FAILBACK_IMDS_URL": metadata.url,
            "DRS_FAILBACK_SYSFS": str(sysfs),
            "DRS_FAILBACK_CONSOLE": str(console),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = console.read_text().splitlines() if console.exists() else []
    assert result.stdout.splitlines() == lines  # every line goes to the serial console too
    env = json.loads(recorded.read_text()) if recorded.exists() else None
    return result.returncode, lines, env


def test_runs_the_launcher_unattended_with_what_it_reads(metadata: Metadata, tmp_path: Path) -> None:
    metadata.user_data = document()
    code, lines, env = run_hook(metadata, tmp_path)
    assert code == 0 and env is not None
    assert env["AWS_REGION"] == "eu-west-1" and env["RECOVERY_INSTANCE_ID"] == "i-0123456789abcdef0"
    assert (env["AWS_ACCESS_KEY"], env["AWS_SECRET_KEY"], env["AWS_SESSION_TOKEN"]) == (
        "ASIAEXAMPLE",
        SECRET,
        TOKEN,
    )
    # LUN 1 (the VM's own OS disk) is the second data disk the guest sees: sdc; LUN 0 is sdb.
    assert env["DEVICE_MAPPING"] == "/dev/xvda=/dev/sdc,/dev/xvdb=/dev/sdb"
    assert "NO_PROMPT" in env and env["S3_ENDPOINT"] == "" and env["AWS_DRS_ENDPOINT"] == ""
    assert any(
        "starting the failback client for recovery instance i-0123456789abcdef0" in line for line in lines
    )
    assert not any(SECRET in line or TOKEN in line for line in lines)


def test_empty_user_data_means_nothing_to_do(metadata: Metadata, tmp_path: Path) -> None:
    code, lines, env = run_hook(metadata, tmp_path)
    assert (code, env) == (0, None)
    assert lines == [
        f"drs-failback-hook[v{hook.HOOK_VERSION}]: no failback document in userData: nothing to do"
    ]


@pytest.mark.parametrize(
    ("user_data", "reason"),
    [
        ("not-base64!", "not a base64 JSON document"),
        (document(version=2), "version 2 is not 1"),
        (
            document(credentials={"accessKeyId": "A"}),
            "lacks credentials.secretAccessKey, credentials.sessionToken",
        ),
        (
            document(deviceMapping=[{"recoveryInstanceDevice": "/dev/xvda", "lun": 7}]),
            "no data disk at LUN 7",
        ),
    ],
)
def test_a_bad_document_is_refused_on_the_console(
    metadata: Metadata, tmp_path: Path, user_data: str, reason: str
) -> None:
    metadata.user_data = user_data
    code, lines, env = run_hook(metadata, tmp_path)
    assert code == hook.EXIT_BAD_DOCUMENT and env is None
    assert len(lines) == 1 and "failed:" in lines[0] and reason in lines[0]
