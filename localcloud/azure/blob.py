"""Azure Blob Storage, the part that uploads a VHD: containers and page blobs, driven by the unchanged
azure-storage-blob client over HTTPS with Entra bearer tokens (audience https://storage.azure.com).

Path-style addressing, as the storage emulators use: https://127.0.0.1:PORT/<account>/<container>/<blob>.
Rules enforced, with the service's error codes (Microsoft Learn, Blob service REST API: "Put Blob", "Put
Page", "Blob service error codes"): a page blob's size and every page range are 512-byte aligned; one Put
Page writes at most 4 MiB and never past the blob's end; a page blob is at most 8 TiB; x-ms-version is
required. Blob content is kept sparse (pages never written read as zeros, as in Azure).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from .entra import Tokens
from .server import Request, Response

STORAGE_AUDIENCE = "https://storage.azure.com"
PAGE = 512
MAX_PUT_PAGE = 4 * 1024 * 1024
MAX_PAGE_BLOB = 8 * 1024**4
_CHUNK = 4 * 1024 * 1024  # storage granule of the sparse content
_RANGE = re.compile(r"bytes=(\d+)-(\d+)\Z")


class BlobError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class PageBlob:
    size: int
    chunks: dict[int, bytearray] = field(default_factory=dict)
    etag: str = field(default_factory=lambda: f'"0x{uuid.uuid4().hex[:15].upper()}"')
    modified: float = field(default_factory=time.time)

    def write(self, offset: int, data: bytes) -> None:
        while data:
            index, start = divmod(offset, _CHUNK)
            take = min(len(data), _CHUNK - start)
            chunk = self.chunks.setdefault(index, bytearray(_CHUNK))
            chunk[start : start + take] = data[:take]
            offset, data = offset + take, data[take:]
        self.etag = f'"0x{uuid.uuid4().hex[:15].upper()}"'
        self.modified = time.time()

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        while length > 0:
            index, start = divmod(offset, _CHUNK)
            take = min(length, _CHUNK - start)
            chunk = self.chunks.get(index)
            out += chunk[start : start + take] if chunk is not None else bytes(take)
            offset, length = offset + take, length - take
        return bytes(out)


@dataclass(frozen=True)
class StorageAccount:
    name: str
    resource_group: str
    location: str


class BlobService:
    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self.accounts: dict[str, StorageAccount] = {}
        self._containers: set[tuple[str, str]] = set()
        self._blobs: dict[tuple[str, str, str], PageBlob] = {}
        self.base_url = ""  # https://127.0.0.1:PORT, set when the server starts

    def add_account(self, name: str, resource_group: str, location: str) -> None:
        with self._lock:
            self.accounts[name.lower()] = StorageAccount(name.lower(), resource_group, location)

    def blob_at(self, uri: str) -> tuple[StorageAccount, PageBlob] | None:
        """The account and page blob a URI names: path-style here, or <account>.blob.<suffix>/... ."""
        url = urlsplit(uri)
        parts = [p for p in url.path.split("/") if p]
        if self.base_url and uri.lower().startswith(self.base_url.lower() + "/") and len(parts) >= 3:
            account, container, name = parts[0], parts[1], "/".join(parts[2:])
        elif ".blob." in (url.hostname or "") and len(parts) >= 2:
            account, container, name = (url.hostname or "").split(".")[0], parts[0], "/".join(parts[1:])
        else:
            return None
        with self._lock:
            found = self.accounts.get(account.lower())
            blob = self._blobs.get((account.lower(), container, name))
        return (found, blob) if found is not None and blob is not None else None

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            if not request.headers.get("x-ms-version"):
                raise BlobError(
                    400,
                    "MissingRequiredHeader",
                    "An HTTP header that's mandatory for this request is not specified.",
                )
            response = self._dispatch(request)
        except BlobError as error:
            response = _error(error, request.method == "HEAD")
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        response.headers.setdefault("x-ms-version", request.headers.get("x-ms-version", "2025-01-05"))
        return response

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        grant = self._tokens.lookup(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if grant is None or grant.expires_at <= time.time():
            raise BlobError(
                401,
                "InvalidAuthenticationInfo",
                "Authentication information is not given in the correct format. "
                "Check the value of Authorization header.",
            )
        if grant.audience.rstrip("/") != STORAGE_AUDIENCE:
            raise BlobError(
                401,
                "InvalidAuthenticationInfo",
                f"Audience validation failed. Audience did not match: {grant.audience}.",
            )

    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            raise BlobError(
                400, "InvalidUri", "The requested URI does not represent any resource on the server."
            )
        account = parts[0].lower()
        with self._lock:
            if account not in self.accounts:
                raise BlobError(404, "ResourceNotFound", "The specified resource does not exist.")
            if len(parts) == 2 and request.query.get("restype") == "container" and request.method == "PUT":
                return self._create_container(account, parts[1])
            if len(parts) >= 3:
                key = (account, parts[1], "/".join(parts[2:]))
                if (account, parts[1]) not in self._containers:
                    raise BlobError(404, "ContainerNotFound", "The specified container does not exist.")
                if request.method == "PUT" and request.query.get("comp") == "page":
                    return self._put_page(key, request)
                if request.method == "PUT" and not request.query.get("comp"):
                    return self._put_blob(key, request)
                if request.method == "HEAD":
                    return self._properties(key)
        raise BlobError(
            400, "UnsupportedHttpVerb", f"The emulator does not implement {request.method} {request.path}."
        )

    def _create_container(self, account: str, container: str) -> Response:
        if (account, container) in self._containers:
            raise BlobError(409, "ContainerAlreadyExists", "The specified container already exists.")
        self._containers.add((account, container))
        return Response(201, headers=_stamp(f'"0x{uuid.uuid4().hex[:15].upper()}"', time.time()))

    def _put_blob(self, key: tuple[str, str, str], request: Request) -> Response:
        if request.headers.get("x-ms-blob-type") != "PageBlob":
            raise BlobError(
                400, "InvalidHeaderValue", "The emulator stores page blobs only (x-ms-blob-type: PageBlob)."
            )
        size = _int_header(request, "x-ms-blob-content-length")
        if size % PAGE or size > MAX_PAGE_BLOB:
            raise BlobError(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format. "
                "(x-ms-blob-content-length must be a multiple of 512, at most 8 TiB)",
            )
        blob = PageBlob(size)
        self._blobs[key] = blob
        return Response(
            201, headers={**_stamp(blob.etag, blob.modified), "x-ms-request-server-encrypted": "true"}
        )

    def _put_page(self, key: tuple[str, str, str], request: Request) -> Response:
        blob = self._blobs.get(key)
        if blob is None:
            raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
        if request.headers.get("x-ms-page-write", "").lower() != "update":
            raise BlobError(
                400, "InvalidHeaderValue", "The emulator implements x-ms-page-write: update only."
            )
        match = _RANGE.match(request.headers.get("x-ms-range") or request.headers.get("range") or "")
        if not match:
            raise BlobError(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format. (x-ms-range)",
            )
        start, end = int(match[1]), int(match[2])
        length = end - start + 1
        if start % PAGE or length % PAGE or length <= 0:
            raise BlobError(416, "InvalidPageRange", "The page range specified is invalid.")
        if length > MAX_PUT_PAGE:
            raise BlobError(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
            )
        if end >= blob.size:
            raise BlobError(416, "InvalidPageRange", "The page range specified is invalid.")
        if len(request.body) != length:
            raise BlobError(400, "InvalidHeaderValue", "The range length does not match the request body.")
        blob.write(start, request.body)
        return Response(
            201,
            headers={
                **_stamp(blob.etag, blob.modified),
                "x-ms-blob-sequence-number": "0",
                "x-ms-request-server-encrypted": "true",
            },
        )

    def _properties(self, key: tuple[str, str, str]) -> Response:
        blob = self._blobs.get(key)
        if blob is None:
            raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
        headers = {
            **_stamp(blob.etag, blob.modified),
            "x-ms-blob-type": "PageBlob",
            "Content-Length": str(blob.size),
            "Content-Type": "application/octet-stream",
            "x-ms-blob-sequence-number": "0",
            "x-ms-lease-status": "unlocked",
            "x-ms-lease-state": "available",
            "x-ms-server-encrypted": "true",
        }
        return Response(200, headers=headers)


def _int_header(request: Request, name: str) -> int:
    try:
        return int(request.headers.get(name, ""))
    except ValueError:
        raise BlobError(
            400,
            "MissingRequiredHeader",
            f"An HTTP header that's mandatory for this request is not specified. ({name})",
        ) from None


def _stamp(etag: str, modified: float) -> dict[str, str]:
    return {
        "ETag": etag,
        "Last-Modified": format_datetime(dt.datetime.fromtimestamp(modified, dt.UTC), usegmt=True),
    }


def _error(error: BlobError, head: bool) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
    )
    headers = {"x-ms-error-code": error.code}
    if head:  # a HEAD answer carries no body: the code travels in x-ms-error-code only
        return Response(error.status, headers={**headers, "Content-Length": "0"})
    return Response(error.status, headers=headers, raw=body.encode())
