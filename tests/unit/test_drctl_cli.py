"""drctl as an on-call engineer meets it: global flags anywhere, one clear line and exit code 1 when AWS
cannot be reached or the credentials do not work, a quiet Ctrl-C, and no production change
without confirmation.

The AWS endpoints here are real sockets: a closed port (connection refused), a listener that never answers
(read timeout), and a small HTTP server answering as CloudFormation does (query protocol errors)."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, UnauthorizedSSOTokenError

from drctl import confirm
from drctl.errors import cloud_error
from drctl.main import build_parser, main
from drctl.stack import Timeouts
from lambdas.plan import load_plan_file

ROOT = Path(__file__).resolve().parents[2]
PLANS = str(ROOT / "plans" / "*.json")
SAMPLE = load_plan_file(ROOT / "plans" / "sample-plan.json")

GLOBAL = ["--json", "--profile", "dr", "--region", "eu-west-1", "--stack", "Dr2"]
GLOBAL_PARSED = {"json": True, "profile": "dr", "region": "eu-west-1", "stack": "Dr2"}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Fake static credentials and no AWS config file, so nothing here reads the machine's own."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "DRCTL_")):
            monkeypatch.delenv(name)
    (tmp_path / "config").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


class _CloudFormation(BaseHTTPRequestHandler):
    """Answers every call with the query-protocol error CloudFormation sends for an expired session."""

    requests: list[str]

    def do_POST(self) -> None:
        self.requests.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
            b"<Message>The security token included in the request is expired</Message></Error>"
            b"<RequestId>r-1</RequestId></ErrorResponse>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def expired_cloudformation() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_CloudFormation,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_endpoint() -> Iterator[socket.socket]:
    """Accepts connections (the kernel completes them) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener
    finally:
        listener.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens there now: connection refused
    return port


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: ")
    return err


# -- flags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [*GLOBAL, "status", "--plan", "shop"],
        ["status", "--plan", "shop", *GLOBAL],
        ["--json", "--profile", "dr", "status", "--region", "eu-west-1", "--stack", "Dr2", "--plan", "shop"],
    ],
    ids=["before", "after", "mixed"],
)
def test_global_flags_before_or_after_the_command(argv: list[str]) -> None:
    args = vars(build_parser(plugins=[]).parse_args(argv))
    assert {k: args[k] for k in GLOBAL_PARSED} == GLOBAL_PARSED and args["plan"] == "shop"


def test_global_flags_reach_nested_commands_and_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRCTL_STACK", "FromEnv")
    parser = build_parser(plugins=[])
    for argv in (
        ["--json", "plan", "show", "p.json"],
        ["plan", "--json", "show", "p.json"],
        ["--json", "failback-image", "check", "--plan", "p.json"],
        ["failback-image", "check", "--plan", "p.json", "--json"],
    ):
        assert parser.parse_args(argv).json is True
    plain = parser.parse_args(["plan", "show", "p.json"])
    assert (plain.json, plain.stack, plain.profile) == (False, "FromEnv", None)
    timed = parser.parse_args(["--read-timeout", "2.5", "watch", "--plan", "shop", "--connect-timeout", "1"])
    assert (timed.connect_timeout, timed.read_timeout) == (1.0, 2.5)


def test_timeouts_from_flags_then_environment_then_defaults(aws_env: pytest.MonkeyPatch) -> None:
    assert Timeouts.resolve(None, None) == Timeouts()
    aws_env.setenv("DRCTL_CONNECT_TIMEOUT", "2")
    aws_env.setenv("DRCTL_READ_TIMEOUT", "7")
    assert Timeouts.resolve(None, None) == Timeouts(2.0, 7.0)
    assert Timeouts.resolve(1.0, None) == Timeouts(1.0, 7.0)
    config: Any = Timeouts(1.0, 7.0).client_config()
    assert (config.connect_timeout, config.read_timeout) == (1.0, 7.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_a_bad_timeout_is_refused_naming_the_flag_or_variable(
    aws_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--read-timeout", "-1"])
    assert exit_info.value.code == 2 and "--read-timeout" in capsys.readouterr().err
    aws_env.setenv("DRCTL_CONNECT_TIMEOUT", "soon")
    assert main(["status"]) == 2
    assert "DRCTL_CONNECT_TIMEOUT='soon'" in one_line(capsys.readouterr().err)


def test_version_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("drctl ")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "drctl start recovery --plan shop" in out and "130 interrupted" in out


# -- AWS errors ------------------------------------------------------------------------------------


def test_connection_refused_is_one_line_and_exit_1(
    aws_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    aws_env.setenv("AWS_ENDPOINT_URL", url)
    assert main(["status"]) == 1
    err = one_line(capsys.readouterr().err)
    assert f"cannot reach {url}" in err and "AWS_ENDPOINT_URL" in err


def test_an_endpoint_that_never_answers_ends_at_the_read_timeout(
    aws_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], silent_endpoint: socket.socket
) -> None:
    port = silent_endpoint.getsockname()[1]
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    assert main(["--read-timeout", "0.2", "status"]) == 1
    err = one_line(capsys.readouterr().err)
    assert "accepted the connection but sent no answer within 0.2s" in err and "--read-timeout" in err


def test_an_expired_session_is_one_line_and_exit_1(
    aws_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expired_cloudformation: tuple[str, list[str]],
) -> None:
    url, requests = expired_cloudformation
    aws_env.setenv("AWS_ENDPOINT_URL", url)
    assert main(["status"]) == 1
    err = one_line(capsys.readouterr().err)
    assert "credentials have expired (ExpiredToken on DescribeStacks)" in err and "aws sso login" in err
    assert len(requests) == 1 and "Action=DescribeStacks" in requests[0]  # not retried


def test_unknown_profile_and_no_credentials(
    aws_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    assert main(["status", "--profile", "nope"]) == 1
    assert "AWS profile 'nope' is not in your AWS config" in one_line(capsys.readouterr().err)
    aws_env.delenv("AWS_ACCESS_KEY_ID")
    aws_env.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["status"]) == 1
    assert "no usable AWS credentials" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ConnectTimeoutError(endpoint_url="https://cloudformation.eu-west-1.amazonaws.com/"),
            "no connection within 5s",
        ),
        (UnauthorizedSSOTokenError(), "SSO session has expired"),
        (ClientError({"Error": {"Code": "ExpiredTokenException"}}, "DescribeExecution"), "have expired"),
        (
            ClientError({"Error": {"Code": "UnrecognizedClientException"}}, "Query"),
            "rejected the credentials",
        ),
        (ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetItem"), "OperatorRoleArn"),
        (ClientError({"Error": {"Code": "Odd", "Message": "m"}}, "GetItem"), "AWS refused GetItem (Odd): m"),
    ],
)
def test_error_wording(error: Exception, expected: str) -> None:
    message = cloud_error(error, Timeouts(connect=5.0))
    assert message is not None and expected in message and "\n" not in message


def test_other_errors_are_not_worded_away() -> None:
    assert cloud_error(ValueError("a bug"), Timeouts()) is None


def test_ctrl_c_ends_quietly_with_130(silent_endpoint: socket.socket, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{silent_endpoint.getsockname()[1]}",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret-example",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "drctl.main", "status", "--read-timeout", "600"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        silent_endpoint.settimeout(60)
        connection, _ = silent_endpoint.accept()  # drctl is now waiting for an answer
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        connection.close()
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.strip() == "interrupted"


# -- confirmation ------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("workflow", ["recovery", "failback", "return-to-normal"])
def test_production_changes_are_refused_without_a_terminal_or_yes(
    workflow: str,
    aws_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expired_cloudformation: tuple[str, list[str]],
) -> None:
    url, requests = expired_cloudformation
    aws_env.setenv("AWS_ENDPOINT_URL", url)
    aws_env.setattr(sys, "stdin", io.StringIO("shop\n"))  # piped: not a terminal, even with the right answer
    assert main(["start", workflow, "--plan", "shop", "--plans", PLANS]) == 1
    err = capsys.readouterr().err
    assert f"drctl start {workflow} of plan shop will:" in err
    assert "error: not confirmed: stdin is not a terminal; pass --yes" in err
    assert requests == []  # no AWS call at all


def test_the_summary_names_the_vms_and_the_dns_record() -> None:
    recovery = "\n".join(confirm.changes(SAMPLE, "recovery").lines())
    assert "deallocate 4 Azure VM(s)" in recovery
    assert "resource group rg-shop-prod: shop-db-1, shop-app-1, shop-app-2, shop-reports" in recovery
    assert "switch DNS: shop.example.com A (zone Z04SHOPEXAMPLE01) from Azure 20.50.10.11 to AWS" in recovery
    failback = "\n".join(confirm.changes(SAMPLE, "failback").lines())
    assert "deallocate 4 Azure VM(s)" in failback and "back to Azure 20.50.10.11" in failback
    back = "\n".join(confirm.changes(SAMPLE, "return_to_normal").lines())
    assert "terminate the 4 AWS recovery instance(s)" in back
    assert "deallocate no Azure VM" in back and "change no DNS record" in back


def test_typing_the_plan_name_confirms_anything_else_cancels() -> None:
    summary = confirm.changes(SAMPLE, "recovery")
    confirm.confirm(summary, _Terminal("shop\n"), io.StringIO())
    for answer in ("y\n", "yes\n", "", "shop-2\n"):
        with pytest.raises(confirm.NotConfirmed, match="nothing was started"):
            confirm.confirm(summary, _Terminal(answer), io.StringIO())


def test_a_confirmed_start_goes_on_to_aws(
    aws_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expired_cloudformation: tuple[str, list[str]],
) -> None:
    url, requests = expired_cloudformation
    aws_env.setenv("AWS_ENDPOINT_URL", url)
    aws_env.setattr(sys, "stdin", _Terminal("shop\n"))
    assert main(["start", "recovery", "--plan", "shop", "--plans", PLANS]) == 1
    assert "Type the plan name (shop)" in capsys.readouterr().err
    aws_env.setattr(sys, "stdin", io.StringIO(""))
    assert main(["start", "failback", "--plan", "shop", "--yes"]) == 1  # no question, no plan file read
    assert "not confirmed" not in capsys.readouterr().err
    assert len(requests) == 2  # both reached DescribeStacks (and the expired session)


def test_no_plan_file_for_the_plan_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "broken.json").write_text("{")
    code = main(["start", "recovery", "--plan", "shop", "--plans", str(tmp_path / "*.json")])
    err = one_line(capsys.readouterr().err)
    assert code == 2 and "no plan file for plan 'shop'" in err and "unreadable: broken.json" in err
    assert "--plans" in err and "--yes" in err
