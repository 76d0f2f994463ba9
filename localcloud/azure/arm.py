"""Azure Resource Manager front end for the compute calls the orchestrator uses.

Per request: bearer token check (401 + WWW-Authenticate), injected faults, subscription and
api-version checks, then routing to `Compute`. Long-running operations answer 201/202 with an
`Azure-AsyncOperation` status URL (and `Location` for POST/DELETE) served here as well.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from .compute import ArmError, Compute
from .entra import Tokens
from .model import Operation
from .network import Network
from .server import Request, Response

# Audiences ARM accepts besides the emulator's own URL (as real ARM does for these two).
_ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
_ACTIONS = {name.lower(): name for name in ("start", "deallocate", "powerOff", "restart")}

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_COMPUTE = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
_VM = _COMPUTE + r"/virtualMachines/(?P<name>[^/]+)"
_LOCATION = _SUB + r"/providers/Microsoft\.Compute/locations/(?P<location>[^/]+)"
_GALLERY = _COMPUTE + r"/galleries/(?P<gallery>[^/]+)"
_GALLERY_IMAGE = _GALLERY + r"/images/(?P<image>[^/]+)"
_NETWORK = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Network"


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: float | None = None


class Faults:
    """Responses to inject before the next ARM requests are processed, in order."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._queue.extend([fault] * count)

    def take(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


class Arm:
    def __init__(self, compute: Compute, network: Network, tokens: Tokens, tenant_id: str) -> None:
        self.compute = compute
        self.network = network
        self.faults = Faults()
        self._tokens = tokens
        self._tenant_id = tenant_id
        self._routes: list[tuple[str, re.Pattern[str], Callable[[Request, re.Match[str]], Response]]] = [
            ("GET", re.compile(_COMPUTE + r"/virtualMachines", re.I), self._list_vms),
            ("GET", re.compile(_VM, re.I), self._get_vm),
            ("PUT", re.compile(_VM, re.I), self._put_vm),
            ("DELETE", re.compile(_VM, re.I), self._delete_vm),
            ("GET", re.compile(_VM + r"/instanceView", re.I), self._instance_view),
            ("POST", re.compile(_VM + r"/(?P<action>start|deallocate|powerOff|restart)", re.I), self._action),
            ("POST", re.compile(_VM + r"/runCommand", re.I), self._run_command),
            ("GET", re.compile(_COMPUTE + r"/disks", re.I), self._list_disks),
            ("GET", re.compile(_COMPUTE + r"/disks/(?P<name>[^/]+)", re.I), self._get_disk),
            ("PUT", re.compile(_COMPUTE + r"/disks/(?P<name>[^/]+)", re.I), self._put_disk),
            ("DELETE", re.compile(_COMPUTE + r"/disks/(?P<name>[^/]+)", re.I), self._delete_disk),
            ("GET", re.compile(_GALLERY, re.I), self._get_gallery),
            ("PUT", re.compile(_GALLERY, re.I), self._put_gallery),
            ("PUT", re.compile(_GALLERY_IMAGE, re.I), self._put_gallery_image),
            (
                "PUT",
                re.compile(_GALLERY_IMAGE + r"/versions/(?P<version>[^/]+)", re.I),
                self._put_gallery_version,
            ),
            ("PUT", re.compile(_COMPUTE + r"/images/(?P<name>[^/]+)", re.I), self._put_image),
            ("GET", re.compile(_GALLERY_IMAGE, re.I), self._get_gallery_image),
            (
                "GET",
                re.compile(_GALLERY_IMAGE + r"/versions/(?P<version>[^/]+)", re.I),
                self._get_gallery_version,
            ),
            ("GET", re.compile(_LOCATION + r"/vmSizes", re.I), self._vm_sizes),
            ("GET", re.compile(_COMPUTE + r"/images/(?P<name>[^/]+)", re.I), self._get_image),
            ("GET", re.compile(_NETWORK + r"/networkInterfaces/(?P<name>[^/]+)", re.I), self._get_nic),
            (
                "GET",
                re.compile(_NETWORK + r"/virtualNetworks/(?P<vnet>[^/]+)/subnets/(?P<name>[^/]+)", re.I),
                self._get_subnet,
            ),
            ("GET", re.compile(_NETWORK + r"/networkSecurityGroups/(?P<name>[^/]+)", re.I), self._get_nsg),
            ("GET", re.compile(_LOCATION + r"/operations/(?P<op>[^/]+)", re.I), self._operation_status),
            ("GET", re.compile(_LOCATION + r"/operationResults/(?P<op>[^/]+)", re.I), self._operation_result),
        ]

    def handle(self, request: Request) -> Response | None:
        """Answer an ARM request, or return None when the path is not under /subscriptions/."""
        if not request.path.lower().startswith("/subscriptions/"):
            return None
        try:
            response = self._authenticate(request) or self._fault() or self._dispatch(request)
        except ArmError as error:
            response = _error(error.status, error.code, error.message)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        return response

    # --- pipeline ------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Response | None:
        """None for a valid ARM bearer token, else ARM's 401 with a WWW-Authenticate challenge."""
        header = request.headers.get("authorization", "")
        grant = self._tokens.lookup(header[7:].strip()) if header.lower().startswith("bearer ") else None
        allowed = (request.base_url, *_ARM_AUDIENCES)
        if not header:
            code, message = (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        elif grant is None:
            code, message = "InvalidAuthenticationToken", "The access token is invalid."
        elif grant.expires_at <= time.time():
            code, message = "ExpiredAuthenticationToken", "The access token has expired."
        elif grant.audience.rstrip("/") not in allowed:
            code = "InvalidAuthenticationTokenAudience"
            message = (
                f"The access token has been obtained for wrong audience or resource '{grant.audience}'. "
                f"It should exactly match with one of the allowed audiences {', '.join(allowed)}."
            )
        else:
            return None
        response = _error(401, code, message)
        response.headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{request.base_url}/{self._tenant_id}", error="invalid_token", '
            f'error_description="{message}"'
        )
        return response

    def _fault(self) -> Response | None:
        fault = self.faults.take()
        if fault is None:
            return None
        if fault.status == 429:
            response = _error(
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for this subscription "
                "(fault injected by the emulator).",
            )
        else:
            phrase = HTTPStatus(fault.status).phrase.replace(" ", "")
            response = _error(fault.status, phrase, f"Fault injected by the emulator ({fault.status}).")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
        return response

    def _dispatch(self, request: Request) -> Response:
        sub = re.match(_SUB, request.path, re.I)
        if sub and sub["sub"].lower() != self.compute.subscription_id.lower():
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{sub['sub']}' could not be found."
            )
        if "api-version" not in request.query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, match)
        raise ArmError(
            501, "NotImplemented", f"The emulator does not implement {request.method} {request.path}."
        )

    # --- handlers ------------------------------------------------------------------------------

    def _list_vms(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": self.compute.list_vms(match["rg"])})

    def _get_vm(self, request: Request, match: re.Match[str]) -> Response:
        expand = request.query.get("$expand", "").lower()
        vm = self.compute.get_vm(
            match["rg"], match["name"], instance_view=expand == "instanceview", user_data=expand == "userdata"
        )
        return Response(200, vm)

    def _put_vm(self, request: Request, match: re.Match[str]) -> Response:
        body = _json_body(request)
        created, vm, operation = self.compute.create_or_update(match["rg"], match["name"], body)
        return Response(201 if created else 200, vm, self._lro_headers(request, operation, location=False))

    def _delete_vm(self, request: Request, match: re.Match[str]) -> Response:
        operation = self.compute.delete_vm(match["rg"], match["name"])
        if operation is None:
            return Response(204)
        return Response(202, None, self._lro_headers(request, operation, location=True))

    def _instance_view(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.compute.instance_view(match["rg"], match["name"]))

    def _action(self, request: Request, match: re.Match[str]) -> Response:
        operation = self.compute.run_action(match["rg"], match["name"], _ACTIONS[match["action"].lower()])
        return Response(202, None, self._lro_headers(request, operation, location=True))

    def _run_command(self, request: Request, match: re.Match[str]) -> Response:
        operation = self.compute.run_command(match["rg"], match["name"], _json_body(request))
        return Response(202, None, self._lro_headers(request, operation, location=True))

    def _get_disk(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.compute.get_disk(match["rg"], match["name"]))

    def _list_disks(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": self.compute.list_disks(match["rg"])})

    def _put_disk(self, request: Request, match: re.Match[str]) -> Response:
        body = _json_body(request)
        created, disk, operation = self.compute.create_or_update_disk(match["rg"], match["name"], body)
        # Managed disks answer a create with 202 Accepted and poll (the disks API has no 201).
        return Response(202 if created else 200, disk, self._lro_headers(request, operation, location=True))

    def _delete_disk(self, request: Request, match: re.Match[str]) -> Response:
        operation = self.compute.delete_disk(match["rg"], match["name"])
        if operation is None:
            return Response(204)
        return Response(202, None, self._lro_headers(request, operation, location=True))

    def _get_gallery(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.compute.get_gallery(match["rg"], match["gallery"]))

    def _put_gallery(self, request: Request, match: re.Match[str]) -> Response:
        return self._created(
            request, *self.compute.create_gallery(match["rg"], match["gallery"], _json_body(request))
        )

    def _put_gallery_image(self, request: Request, match: re.Match[str]) -> Response:
        result = self.compute.create_gallery_image(
            match["rg"], match["gallery"], match["image"], _json_body(request)
        )
        return self._created(request, *result)

    def _put_gallery_version(self, request: Request, match: re.Match[str]) -> Response:
        result = self.compute.create_gallery_version(
            match["rg"], match["gallery"], match["image"], match["version"], _json_body(request)
        )
        return self._created(request, *result)

    def _put_image(self, request: Request, match: re.Match[str]) -> Response:
        return self._created(
            request, *self.compute.create_image(match["rg"], match["name"], _json_body(request))
        )

    def _created(
        self, request: Request, created: bool, body: dict[str, object], operation: Operation
    ) -> Response:
        """A PUT answered as a long-running operation: 201 (or 200) with Azure-AsyncOperation."""
        return Response(201 if created else 200, body, self._lro_headers(request, operation, location=False))

    def _get_gallery_image(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.compute.get_gallery_image(match["rg"], match["gallery"], match["image"]))

    def _get_gallery_version(self, request: Request, match: re.Match[str]) -> Response:
        version = self.compute.get_gallery_version(
            match["rg"], match["gallery"], match["image"], match["version"]
        )
        return Response(200, version)

    def _vm_sizes(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"value": self.compute.vm_sizes(match["location"])})

    def _get_image(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.compute.get_image(match["rg"], match["name"]))

    def _get_nic(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.network.get_nic(match["rg"], match["name"]))

    def _get_subnet(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.network.get_subnet(match["rg"], match["vnet"], match["name"]))

    def _get_nsg(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, self.network.get_nsg(match["rg"], match["name"]))

    def _operation_status(self, request: Request, match: re.Match[str]) -> Response:
        status = self.compute.operation_status(match["op"])
        headers = self._poll_hint() if status["status"] == "InProgress" else {}
        return Response(200, status, headers)

    def _operation_result(self, request: Request, match: re.Match[str]) -> Response:
        status = self.compute.operation_status(match["op"])
        if status["status"] == "InProgress":
            return Response(202, None, {"Location": _url(request), **self._poll_hint()})
        if status["status"] == "Succeeded":
            result = self.compute.operation_result(match["op"])
            return Response(200, result) if result is not None else Response(200)
        error = status.get("error") or {}
        return _error(
            409, error.get("code", "Conflict"), error.get("message", "The operation did not succeed.")
        )

    # --- helpers -------------------------------------------------------------------------------

    def _lro_headers(self, request: Request, operation: Operation, *, location: bool) -> dict[str, str]:
        api_version = request.query["api-version"]
        base = f"{request.base_url}/subscriptions/{self.compute.subscription_id}/providers/Microsoft.Compute"
        base += f"/locations/{operation.location}"
        headers = {"Azure-AsyncOperation": f"{base}/operations/{operation.id}?api-version={api_version}"}
        if location:
            headers["Location"] = f"{base}/operationResults/{operation.id}?api-version={api_version}"
        return {**headers, **self._poll_hint()}

    def _poll_hint(self) -> dict[str, str]:
        """Advise pollers when to ask again. azure-core honours Retry-After first, then Retry-After-Ms;
        the SDK parses an initial response's Retry-After as an integer, so sub-second hints use -Ms."""
        poll = self.compute.timing.poll
        if poll >= 1:
            return {"Retry-After": str(round(poll))}
        return {"Retry-After-Ms": str(max(1, round(poll * 1000)))}


def _json_body(request: Request) -> dict[str, object]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc}") from exc
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: not a JSON object.")
    return body


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def _url(request: Request) -> str:
    query = "&".join(f"{key}={value}" for key, value in request.query.items())
    return f"{request.base_url}{request.path}" + (f"?{query}" if query else "")
