"""What an operator reads when AWS cannot be reached, the credentials do not work or the profile does not
exist: one line that says what happened and what to do, never a traceback.

Error codes from the AWS common errors (ExpiredTokenException, UnrecognizedClientException, AccessDenied...,
HTTP 403) and their spellings in the query-protocol services (CloudFormation, STS: ExpiredToken,
InvalidClientTokenId); the SSO errors are botocore's.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
    SSOError,
    TokenRetrievalError,
)

from drctl.stack import CONNECT_TIMEOUT_ENV, READ_TIMEOUT_ENV, Timeouts

EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "AuthFailure",
    "InvalidAccessKeyId",
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"}
SIGN_IN = "sign in again (aws sso login, or fresh session credentials) and retry"


def cloud_error(exc: BaseException, timeouts: Timeouts) -> str | None:
    """The one-line message for an AWS error drctl cannot fix itself; None for anything else."""
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, BotoCoreError):
        return _botocore_error(exc, timeouts)
    return None


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    operation = exc.operation_name
    if code in EXPIRED:
        return f"the AWS credentials have expired ({code} on {operation}): {SIGN_IN}"
    if code in REJECTED:
        return (
            f"AWS rejected the credentials ({code} on {operation}): check AWS_PROFILE/--profile and the "
            f"access key, or {SIGN_IN}"
        )
    if code in DENIED:
        return (
            f"not allowed: {operation} was denied ({code}); use the stack's operator role "
            "(stack output OperatorRoleArn)"
        )
    message = str(error.get("Message", "")).strip()
    return f"AWS refused {operation} ({code})" + (f": {message}" if message else "")


def _botocore_error(exc: BotoCoreError, timeouts: Timeouts) -> str:
    url = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
    if isinstance(exc, ProfileNotFound):
        return (
            f"AWS profile '{exc.kwargs.get('profile')}' is not in your AWS config "
            "(aws configure list-profiles): check --profile and AWS_PROFILE"
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no usable AWS credentials: set AWS_PROFILE (or --profile), or run `aws sso login`"
    if isinstance(exc, SSOError | TokenRetrievalError):
        return "the AWS SSO session has expired or is invalid: run `aws sso login` (with your --profile)"
    if isinstance(exc, CredentialRetrievalError):
        return f"cannot get AWS credentials: {exc}"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_REGION or pass --region"
    if isinstance(exc, ConnectTimeoutError):
        return (
            f"cannot reach {url}: no connection within {timeouts.connect:g}s; check the network, proxy and "
            f"--region (or raise --connect-timeout / {CONNECT_TIMEOUT_ENV})"
        )
    if isinstance(exc, ReadTimeoutError):
        return (
            f"{url} accepted the connection but sent no answer within {timeouts.read:g}s; check a proxy or "
            f"AWS_ENDPOINT_URL (or raise --read-timeout / {READ_TIMEOUT_ENV})"
        )
    if isinstance(exc, ProxyConnectionError):
        return f"cannot reach the proxy {exc.kwargs.get('proxy_url')}: check HTTPS_PROXY"
    if isinstance(exc, SSLError):
        return f"TLS to {url} failed: check REQUESTS_CA_BUNDLE or AWS_CA_BUNDLE"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {url}: check the network, --region and AWS_ENDPOINT_URL"
    if isinstance(exc, ConnectionClosedError):
        return f"{url} closed the connection before answering: retry, or check a proxy"
    return f"AWS call failed: {exc}"
