"""A stand-in for the DRS Failback Client's launcher, run by the real boot hook in the local cloud.

It reads exactly what the real launcher reads from its environment and, like the real client, refuses to
go on where the real one would stop and ask (no NO_PROMPT, no S3_ENDPOINT). It then pairs with the
recovery instance through the DRS endpoint, signed with the credentials it was given (SigV4), reporting
each mapped local device's size and LUN, as read from the machine. It prints no credential.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EXIT_WOULD_PROMPT = 5
EXIT_REFUSED = 6


def _local_device(sysfs: Path, device: str) -> tuple[int, int]:
    """(LUN, size in bytes) of /dev/<name> as the guest's sysfs shows it."""
    block = sysfs / "class" / "block" / Path(device).name
    lun = int(Path(os.path.realpath(block / "device")).name.split(":")[3])
    sectors = int((block / "size").read_text().strip())
    return lun, sectors * 512


def _machine_id(imds_url: str) -> str:
    request = urllib.request.Request(
        imds_url.rstrip("/") + "/metadata/instance/compute?api-version=2021-02-01",
        headers={"Metadata": "true"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.loads(response.read())["resourceId"])


def main() -> int:
    env = os.environ
    if "NO_PROMPT" not in env or "S3_ENDPOINT" not in env:
        print("failback client: would prompt (NO_PROMPT or S3_ENDPOINT not set)", flush=True)
        return EXIT_WOULD_PROMPT
    region = env.get("AWS_REGION", "")
    endpoint = env.get("AWS_DRS_ENDPOINT") or f"https://drs.{region}.amazonaws.com"
    sysfs = Path(env.get("DRS_FAILBACK_SYSFS", "/sys"))
    mapping = []
    for pair in filter(None, env.get("DEVICE_MAPPING", "").split(",")):
        source, _, local = pair.partition("=")
        lun, size = _local_device(sysfs, local)
        mapping.append({"recoveryInstanceDevice": source, "localDevice": local, "lun": lun, "bytes": size})
    body = json.dumps(
        {
            "recoveryInstanceID": env.get("RECOVERY_INSTANCE_ID", ""),
            "machine": {"id": _machine_id(env.get("DRS_FAILBACK_IMDS_URL", "http://169.254.169.254"))},
            "deviceMapping": mapping,
        }
    )
    request = AWSRequest(
        method="POST",
        url=endpoint.rstrip("/") + "/AssociateFailbackClientToRecoveryInstanceForDrs",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(
        env.get("AWS_ACCESS_KEY", ""), env.get("AWS_SECRET_KEY", ""), env.get("AWS_SESSION_TOKEN")
    )
    SigV4Auth(credentials, "drs", region).add_auth(request)
    headers = dict(request.headers)
    http = urllib.request.Request(str(request.url), data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            client_id = json.loads(response.read())["failbackClientID"]
    except urllib.error.HTTPError as exc:
        error = exc.headers.get("x-amzn-ErrorType", str(exc.code))
        message = json.loads(exc.read() or b"{}").get("message", "")
        print(f"failback client: DRS refused pairing: {error}: {message}", flush=True)
        return EXIT_REFUSED
    print(f"failback client: paired as {client_id} with {env.get('RECOVERY_INSTANCE_ID')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
