"""Make Step Functions time pass faster in the local interpreter: Wait states and Retry intervals are
divided by the time scale, so a 30-second poll of a deployed plan takes 0.5 s locally at 60x. Only the
local interpreter is changed; the definitions are the deployed ones."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSecondsPath
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

_state: dict[str, Any] = {}


def install(scale: float) -> None:
    if scale <= 0:
        raise ValueError("time scale must be positive")
    _state["scale"] = scale
    if "wait" in _state:
        return
    _state["wait"] = WaitFunction._eval_body
    _state["retry_time"] = retrier_decl.time

    def scaled_wait(self: WaitFunction, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env) / _state["scale"]
        deadline = time.monotonic() + seconds
        while env.is_running() and (remaining := deadline - time.monotonic()) > 0:
            env.program_state_event.wait(remaining)

    WaitFunction._eval_body = scaled_wait  # type: ignore[method-assign]
    # Timeouts read from the input (an approval's, a DRS event wait's fallback) are plan time too.
    _state["timeout_path"] = TimeoutSecondsPath._eval_seconds

    def scaled_timeout(self: TimeoutSecondsPath, env: Any) -> float:
        return float(_state["timeout_path"](self, env)) / _state["scale"]

    TimeoutSecondsPath._eval_seconds = scaled_timeout  # type: ignore[method-assign,assignment]
    retrier_decl.time = SimpleNamespace(  # type: ignore[assignment]
        sleep=lambda seconds: time.sleep(seconds / _state["scale"]), time=time.time, monotonic=time.monotonic
    )


def uninstall() -> None:
    if "wait" in _state:
        WaitFunction._eval_body = _state.pop("wait")  # type: ignore[method-assign]
        retrier_decl.time = _state.pop("retry_time")
        TimeoutSecondsPath._eval_seconds = _state.pop("timeout_path")  # type: ignore[method-assign]
