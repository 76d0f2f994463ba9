"""Entra ID for one tenant and one app registration: OIDC discovery and the client-credentials grant.

This is what msal (inside azure-identity's ClientSecretCredential, with instance discovery off) asks:
  GET  /{tenant}/v2.0/.well-known/openid-configuration
  POST /{tenant}/oauth2/v2.0/token   (form: client_id, client_secret, grant_type, scope)
Errors use Entra's body shape (error, error_description "AADSTSnnn: ...", error_codes, ...).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from .server import Request, Response

TOKEN_LIFETIME = 3600
_DISCOVERY = re.compile(r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration")
_TOKEN = re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token")
_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
_OIDC_SCOPES = {"openid", "profile", "offline_access"}


@dataclass(frozen=True)
class Grant:
    audience: str  # resource the token was issued for, e.g. "https://127.0.0.1:PORT"
    expires_at: float  # epoch seconds


class Tokens:
    """Opaque bearer tokens issued by Entra and checked by ARM."""

    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, audience: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = Grant(audience, time.time() + TOKEN_LIFETIME)
        return token

    def lookup(self, token: str) -> Grant | None:
        with self._lock:
            return self._grants.get(token)


class Entra:
    def __init__(self, tenant_id: str, client_id: str, client_secret: str, tokens: Tokens) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._configured_secret = client_secret
        self.secret = client_secret
        self._tokens = tokens

    def rotate_secret(self) -> str:
        """Replace the app's secret; the previous one is rejected from now on. Returns the new one."""
        self.secret = secrets.token_urlsafe(30)
        return self.secret

    def restore_secret(self) -> None:
        self.secret = self._configured_secret

    def handle(self, request: Request) -> Response | None:
        """Answer an Entra request, or return None when the path is not an Entra endpoint."""
        if request.method == "GET" and (match := _DISCOVERY.fullmatch(request.path)):
            return self._discovery(request, match["tenant"])
        if request.method == "POST" and (match := _TOKEN.fullmatch(request.path)):
            return self._token(request, match["tenant"])
        return None

    def _discovery(self, request: Request, tenant: str) -> Response:
        if tenant.lower() != self.tenant_id.lower():
            return self._unknown_tenant(request, tenant)
        base = f"{request.base_url}/{self.tenant_id}"
        return Response(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "jwks_uri": f"{request.base_url}/{self.tenant_id}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def _token(self, request: Request, tenant: str) -> Response:
        if tenant.lower() != self.tenant_id.lower():
            return self._unknown_tenant(request, tenant)
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        client_id, secret = _basic_credentials(request.headers.get("authorization")) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        grant_type = form.get("grant_type", "")
        if grant_type != "client_credentials":
            return _error(
                request,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if client_id != self.client_id:
            return _error(
                request,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_id}'.",
            )
        if not secret:
            return _error(
                request,
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        if not secrets.compare_digest(secret, self.secret):
            # Real Entra answers 401 (not 400) for a wrong secret.
            return _error(
                request,
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scope = form.get("scope", "")
        resources = [s for s in scope.split() if s not in _OIDC_SCOPES]
        if len(resources) != 1 or not resources[0].endswith("/.default"):
            return _error(
                request,
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        audience = resources[0].removesuffix("/.default").rstrip("/")
        body = {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": self._tokens.issue(audience),
        }
        return Response(200, body, dict(_NO_STORE))

    def _unknown_tenant(self, request: Request, tenant: str) -> Response:
        return _error(
            request,
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud.",
        )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """client_secret_basic: `Authorization: Basic base64(urlencode(id):urlencode(secret))`."""
    if not header or not header.lower().startswith("basic "):
        return None
    decoded = base64.b64decode(header[6:].strip()).decode()
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _error(request: Request, status: int, error: str, code: int, description: str) -> Response:
    timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{request.base_url}/error?code={code}",
    }
    return Response(status, body, dict(_NO_STORE))
