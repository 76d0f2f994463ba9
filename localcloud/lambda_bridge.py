"""Run the project's Lambda handlers in-process when the local Step Functions interpreter invokes them.

moto's Lambda needs Docker to run code; here its invoke step is replaced by a call of the handler named
in the function's configuration, imported from this checkout, with the errorType/errorMessage payload
that real Lambda returns for an unhandled exception (so Retry/Catch by error name behave as deployed).
While the handler runs, its AWS calls are authorized against its role's policies (localcloud.lambda_iam).
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from localcloud import payload_limits
from localcloud.lambda_iam import RoleEnforcement

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeContext:
    """The attributes of the Lambda context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 60
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    function: str
    handler: str
    started: float
    ended: float
    error: str | None
    event: Any = None  # the payload the handler was given


class LambdaBridge:
    def __init__(self) -> None:
        self._original: Any = None
        self._cache: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []
        # Invocations whose handler has not returned yet. A stopped execution's task runs on to its end (as
        # on AWS): a test waits for none before it reads what the stopped run left behind.
        self.in_flight = 0
        # A test can make a function fail the next N times before its handler runs (a Lambda service fault)
        # or after it ran (a partial side effect whose response was lost).
        self.faults: dict[str, list[str]] = {}
        self.roles = RoleEnforcement()

    def set_role_policies(self, policies: dict[str, list[dict[str, Any]]]) -> None:
        """Role name -> its policy documents (localcloud.iam.role_policies): the handlers' calls are
        authorized against them from now on."""
        self.roles.set_policies(policies)

    def install(self) -> None:
        if self._original is not None:
            return
        self._original = LambdaFunction._invoke_lambda
        bridge = self

        def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return bridge.invoke(function, event)

        LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign,assignment]
        self.roles.install()
        # The interpreter builds a new Lambda client for every task; reuse one (clients are thread-safe).
        self._original_client_for = lambda_eval_utils.boto_client_for
        clients: dict[tuple[str, str], Any] = {}

        def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            with self._lock:
                if (region, service) not in clients:
                    clients[(region, service)] = self._original_client_for(region, service, state_credentials)
                return clients[(region, service)]

        lambda_eval_utils.boto_client_for = cached_client_for

    def uninstall(self) -> None:
        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            lambda_eval_utils.boto_client_for = self._original_client_for
            self.roles.uninstall()
            self._original = None

    def _handler(self, path: str) -> Handler:
        with self._lock:
            if path not in self._cache:
                module_name, _, attribute = path.rpartition(".")
                self._cache[path] = getattr(importlib.import_module(module_name), attribute)
            return self._cache[path]

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        try:
            payload_limits.check_invoke(event if isinstance(event, str | bytes) else json.dumps(event))
        except payload_limits.PayloadTooLarge as too_large:
            return payload_limits.error_payload(too_large), True, ""
        payload = json.loads(event) if isinstance(event, str) else (event or {})
        name = function.function_name
        started = time.monotonic()
        error: str | None = None
        fault = self._take_fault(name)
        with self._lock:
            self.in_flight += 1
        try:
            if fault == "before":
                raise _LambdaServiceError("injected Lambda service fault before the handler ran")
            context = FakeContext(
                function_name=name,
                memory_limit_in_mb=int(function.memory_size or 256),
                timeout_seconds=int(function.timeout or 60),
                invoked_function_arn=function.function_arn,
            )
            with self.roles.acting_as(str(function.role), name):
                result = self._handler(str(function.handler))(payload, context)
            if fault == "after":
                raise _LambdaServiceError("injected Lambda fault after the handler ran (response lost)")
            response = json.dumps(result, default=str)
            # Lambda refuses a response above 6 MB after the function ran: its side effects stay.
            payload_limits.check_invoke(None, response)
            return response, False, ""
        except payload_limits.PayloadTooLarge as too_large:
            error = too_large.error_type
            return payload_limits.error_payload(too_large), True, ""
        except Exception as exc:  # a real Lambda turns any unhandled exception into this payload
            error = type(exc).__name__
            body = {
                "errorType": "Lambda.ServiceException" if isinstance(exc, _LambdaServiceError) else error,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-3:],
            }
            return json.dumps(body), True, ""
        finally:
            with self._lock:
                self.in_flight -= 1
                self.invocations.append(
                    Invocation(name, str(function.handler), started, time.monotonic(), error, payload)
                )

    def inject_fault(self, function_name: str, when: str, times: int = 1) -> None:
        with self._lock:
            self.faults.setdefault(function_name, []).extend([when] * times)

    def _take_fault(self, function_name: str) -> str | None:
        with self._lock:
            queue = self.faults.get(function_name)
            return queue.pop(0) if queue else None


class _LambdaServiceError(Exception):
    pass
