"""The Lambda functions' roles, enforced on their AWS calls as IAM enforces them on a deployed function.

While a handler runs (localcloud.lambda_bridge), every botocore API call made on its thread is authorized
against the policy documents of the function's execution role in the synthesized template, and refused
with the error the service answers when no statement allows the action: the same ClientError (modeled
class, code, 403 status, message naming the role session and the action) that product code sees deployed.

Limits, stated honestly:
- Action-level only. An action is allowed when an Allow statement's Action matches it (wildcards, any
  case) and no Deny statement with Resource "*" and no Condition matches it. Resource ARNs and conditions
  are not evaluated: resource-level scoping of the grants is checked on the template by tests/infra.
- Calls a service makes on the caller's behalf (S3 asking KMS for a data key) are not checked.
- Calls from a thread the handler starts itself are not checked; work it submits to a
  concurrent.futures.ThreadPoolExecutor runs in a copy of its context, so those calls are.
- Calls made without an invocation (tests, drctl, the emulators, the Step Functions interpreter) are not
  checked: they are not the functions' calls.
"""

from __future__ import annotations

import contextvars
import fnmatch
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from localcloud.template import ACCOUNT_ID

# Where an operation's IAM action is not <service prefix>:<operation name> (Service Authorization Reference).
_ACTION_EXCEPTIONS = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
}
# Where the IAM service prefix is not the API's signing name.
_PREFIX_EXCEPTIONS = {"monitoring": "cloudwatch"}
# Operations IAM authorizes for everyone (STS: "No permissions are required to perform this operation").
_UNAUTHORIZED = {"sts:GetCallerIdentity"}
# The error code a service answers an unauthorized request with; JSON protocols answer AccessDeniedException.
_ERROR_CODES = {"ec2": "UnauthorizedOperation", "sns": "AuthorizationError"}
_JSON_PROTOCOLS = {"json", "rest-json"}


@dataclass(frozen=True)
class Invocation:
    role_name: str
    function_name: str

    @property
    def session_arn(self) -> str:
        """The caller as IAM names a Lambda function's role session."""
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.role_name}/{self.function_name}"


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "lambda_invocation", default=None
)


class RoleEnforcement:
    """Install once with the bridge; `set_policies` gives the roles' documents (before that, nothing is
    enforced), `acting_as` marks a handler's run."""

    def __init__(self) -> None:
        self._policies: dict[str, list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()
        self._original_call: Any = None
        self._original_submit: Any = None
        # Every refusal so far, "<function>: <action>": a handler may handle one and carry on.
        self.refusals: list[str] = []

    def set_policies(self, policies: dict[str, list[dict[str, Any]]]) -> None:
        with self._lock:
            self._policies = policies

    @contextmanager
    def acting_as(self, role_arn: str, function_name: str) -> Iterator[None]:
        token = _current.set(Invocation(role_arn.rsplit("/", 1)[-1], function_name))
        try:
            yield
        finally:
            _current.reset(token)

    def install(self) -> None:
        if self._original_call is not None:
            return
        # Every operation of every client goes through BaseClient._make_api_call (paginators too).
        original_call = self._original_call = getattr(BaseClient, "_make_api_call")  # noqa: B009
        original_submit = self._original_submit = ThreadPoolExecutor.submit
        enforcement = self

        def make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            invocation = _current.get()
            if invocation is not None:
                enforcement.authorize(client, operation_name, invocation)
            return original_call(client, operation_name, api_params)

        def submit(
            pool: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
        ) -> Future[Any]:
            if _current.get() is None:
                return original_submit(pool, fn, *args, **kwargs)
            # A copy per task: one context cannot be entered by two threads at once.
            return original_submit(pool, contextvars.copy_context().run, fn, *args, **kwargs)

        setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010
        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original_call is not None:
            setattr(BaseClient, "_make_api_call", self._original_call)  # noqa: B010
            ThreadPoolExecutor.submit = self._original_submit  # type: ignore[method-assign]
            self._original_call = self._original_submit = None

    def authorize(self, client: BaseClient, operation_name: str, invocation: Invocation) -> None:
        with self._lock:
            policies = self._policies
        if policies is None:
            return
        model = client.meta.service_model
        action = iam_action(model.signing_name or model.endpoint_prefix, operation_name)
        decision = evaluate(policies.get(invocation.role_name, []), action)
        if decision == "allow":
            return
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision == "deny"
            else f"because no identity-based policy allows the {action} action"
        )
        with self._lock:
            self.refusals.append(f"{invocation.function_name}: {action}")
        message = f"User: {invocation.session_arn} is not authorized to perform: {action} {reason}"
        code = _ERROR_CODES.get(
            model.service_name,
            "AccessDeniedException" if model.protocol in _JSON_PROTOCOLS else "AccessDenied",
        )
        if code == "UnauthorizedOperation":
            message = f"You are not authorized to perform this operation. {message}"
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        error: Any = client.exceptions.from_code(code)  # the modeled class, else ClientError
        raise error(response, operation_name)


def iam_action(service_prefix: str, operation_name: str) -> str:
    prefix = _PREFIX_EXCEPTIONS.get(service_prefix, service_prefix)
    return _ACTION_EXCEPTIONS.get((prefix, operation_name), f"{prefix}:{operation_name}")


def evaluate(documents: list[dict[str, Any]], action: str) -> str:
    """ "allow", "deny" (an explicit, unconditional Deny on every resource) or "implicit" (no Allow)."""
    if action in _UNAUTHORIZED:
        return "allow"
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _action_matches(statement.get("Action", []), action):
                continue
            if statement.get("Effect") == "Deny":
                if "Condition" not in statement and "*" in _as_list(statement.get("Resource", [])):
                    return "deny"
            elif statement.get("Effect") == "Allow":
                allowed = True
    return "allow" if allowed else "implicit"


def _action_matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in _as_list(patterns))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
