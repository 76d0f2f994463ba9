"""IAM as DRS applies it to the failback client's calls: credentials issued by the local STS (moto),
their expiry, and the policies the synthesized template attaches to the role they were issued for.

Only what the emulated private DRS operations need: Allow/Deny statements with Action and Resource
wildcards. Errors as AWS answers them (AWS general reference, "Signing AWS API requests" / IAM).
"""

from __future__ import annotations

import fnmatch
import json
import threading
from datetime import UTC, datetime
from functools import cache
from typing import Any

from localcloud.drs.errors import ApiError
from localcloud.template import ACCOUNT_ID, Template

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@cache
def _aws_managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def aws_managed_policy(arn: str) -> dict[str, Any]:
    name = arn.removeprefix(AWS_MANAGED_PREFIX).split("/")[-1]
    policy = _aws_managed_policies().get(name)
    if policy is None:
        raise ValueError(f"unknown AWS managed policy {arn}")
    return dict(policy["Document"])


def role_policies(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Role name -> its policy documents (managed, inline and attached AWS::IAM::Policy)."""
    policies: dict[str, list[dict[str, Any]]] = {}
    for logical, resource in template.of_type("AWS::IAM::Role").items():
        props = template.resolve(resource.get("Properties", {}))
        documents = [
            aws_managed_policy(arn)
            for arn in props.get("ManagedPolicyArns", [])
            if arn.startswith(AWS_MANAGED_PREFIX)
        ]
        documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        policies[logical] = documents
    for resource in template.of_type("AWS::IAM::Policy").values():
        props = resource["Properties"]
        for role in props.get("Roles", []):
            name = role.get("Ref") if isinstance(role, dict) else role
            if name in policies:
                policies[name].append(template.resolve(props["PolicyDocument"]))
    return policies


def allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM evaluation for one action on one resource: an explicit Deny wins, else an Allow is needed."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if _matches(statement.get("Action", []), action, case=False) and _matches(
                statement.get("Resource", []), resource, case=True
            ):
                if statement.get("Effect") == "Deny":
                    return False
                allowed = True
    return allowed


def _matches(patterns: Any, value: str, *, case: bool) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    if case:
        return any(fnmatch.fnmatchcase(value, str(p)) for p in items)
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in items)


class LocalIam:
    """Authorizes a caller of the DRS emulator's private operations (see localcloud.drs.machines)."""

    def __init__(self, policies: dict[str, list[dict[str, Any]]]) -> None:
        self._policies = policies
        self._expired: set[str] = set()
        self._seen: set[str] = set()
        self._expire_next = False
        self._lock = threading.Lock()

    def expire_next_credentials(self) -> None:
        """The next credentials a caller presents that were not seen before are past their expiry (as if
        the client had started after their lifetime)."""
        with self._lock:
            self._expire_next = True

    def set_policies(self, policies: dict[str, list[dict[str, Any]]]) -> None:
        with self._lock:
            self._policies = policies

    def expire_issued_credentials(self) -> None:
        """Every credential issued so far is past its expiry, as if its lifetime had passed."""
        from moto.sts.models import sts_backends

        with self._lock:
            self._expired.update(r.access_key_id for r in sts_backends[ACCOUNT_ID]["global"].assumed_roles)

    def authorize(self, access_key_id: str, session_token: str, action: str, resource: str) -> str:
        from moto.sts.models import sts_backends

        role = next(
            (r for r in sts_backends[ACCOUNT_ID]["global"].assumed_roles if r.access_key_id == access_key_id),
            None,
        )
        if role is None or role.session_token != session_token:
            raise ApiError(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        with self._lock:
            if self._expire_next and access_key_id not in self._seen:
                self._expire_next = False
                self._expired.add(access_key_id)
            self._seen.add(access_key_id)
            expired = access_key_id in self._expired
        if expired or role.expiration <= datetime.now(UTC).replace(tzinfo=None):
            raise ApiError("ExpiredTokenException", "The security token included in the request is expired")
        role_name = role.role_arn.split("/")[-1]
        if not allows(self._policies.get(role_name, []), action, resource):
            raise ApiError(
                "AccessDeniedException",
                f"User: {role.arn} is not authorized to perform: {action} on resource: {resource} because "
                f"no identity-based policy allows the {action} action",
            )
        return str(role.arn)
