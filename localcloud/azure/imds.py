"""The Azure Instance Metadata Service as a guest sees it, for the local cloud's emulated guests.

Real IMDS answers on http://169.254.169.254 and knows the caller by its network address; here one
loopback server serves every VM and a guest is given the base URL `http://127.0.0.1:PORT/guest/<vmId>`.
Rules kept from the real service (Microsoft Learn, "Azure Instance Metadata Service"): the header
`Metadata: true` is required, a request carrying `X-Forwarded-For` is refused, `api-version` is required,
`compute/userData` answers the VM's userData as base64 text, and `compute/storageProfile` lists the
VM's disks with their sizes (as strings, as the real service gives them).
"""

from __future__ import annotations

import re

from .compute import Compute
from .server import Request, Response

_PATH = re.compile(r"/guest/(?P<vm>[0-9a-fA-F-]{36})/metadata/instance(?P<rest>/.*)?")


class Imds:
    def __init__(self, compute: Compute) -> None:
        self._compute = compute

    def handle(self, request: Request) -> Response:
        if request.headers.get("metadata", "").lower() != "true":
            return Response(400, {"error": "Bad request. Required metadata header not specified"})
        if "x-forwarded-for" in request.headers:
            return Response(400, {"error": "Bad request. Forwarded requests are not allowed"})
        if "api-version" not in request.query:
            return Response(400, {"error": "Bad request. api-version was not specified in the request"})
        match = _PATH.fullmatch(request.path)
        guest = self._compute.guest_by_vm_uuid(match["vm"]) if match else None
        if match is None or guest is None:
            return Response(404, {"error": "Not found"})
        rest = (match["rest"] or "").rstrip("/")
        compute = {
            "name": guest["name"],
            "location": guest["location"],
            "resourceId": guest["resourceId"],
            "vmId": guest["vmId"],
            "userData": guest["userData"],
            "storageProfile": {
                "osDisk": {
                    "name": guest["osDisk"]["id"].rsplit("/", 1)[-1],
                    "diskSizeGB": str(guest["osDisk"]["sizeGB"]),
                },
                "dataDisks": [
                    {"lun": str(d["lun"]), "name": d["id"].rsplit("/", 1)[-1], "diskSizeGB": str(d["sizeGB"])}
                    for d in guest["dataDisks"]
                ],
            },
        }
        if rest == "/compute/userData":
            return Response(200, text=guest["userData"])
        if rest == "/compute":
            return Response(200, compute)
        if rest == "":
            return Response(200, {"compute": compute})
        return Response(404, {"error": "Not found"})
