"""Stand-ins for what a Run Command script reaches inside an emulated Linux guest: `wget` (which serves only
the AWS Replication Agent installer from DRS's regional bucket) and the installer itself.

The installer reads exactly the parameters the real one takes (DRS user guide, "AWS Replication Agent
Installer parameters": --region, --aws-access-key-id, --aws-secret-access-key, --aws-session-token,
--no-prompt, --endpoint) and, like the real one, stops where the real one would prompt. It then registers
the machine with DRS (CreateSourceServerForDrs, an action of the managed policy
AWSElasticDisasterRecoveryAgentInstallationPolicy), signed with the credentials it was given (SigV4),
reporting the machine's identity and disks as the Instance Metadata Service gives them. It prints no
credential.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EXIT_WOULD_PROMPT = 5
EXIT_REFUSED = 6
EXIT_NOT_FOUND = 8  # wget: server issued an error response
# DRS user guide, "Installing the AWS Replication Agent" (Linux): the installer's download location.
INSTALLER_URL = re.compile(
    r"https://aws-elastic-disaster-recovery-(?P<region>[a-z0-9-]+)\.s3\.(?P=region)\.amazonaws\.com"
    r"/latest/linux/aws-replication-installer-init"
)


def wget(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wget")
    parser.add_argument("-O", dest="output", required=True)
    parser.add_argument("url")
    args = parser.parse_args(argv)
    if not INSTALLER_URL.fullmatch(args.url):
        print(f"ERROR 404: Not Found ({args.url}).", file=sys.stderr)
        return EXIT_NOT_FOUND
    with open(args.output, "w", encoding="utf-8") as installer:
        installer.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.abspath(__file__)}" install "$@"\n')
    print(f"'{args.output}' saved")
    return 0


def _imds_compute() -> dict[str, object]:
    url = os.environ.get("DRS_AGENT_IMDS_URL", "http://169.254.169.254").rstrip("/")
    request = urllib.request.Request(
        f"{url}/metadata/instance/compute?api-version=2021-02-01", headers={"Metadata": "true"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        compute: dict[str, object] = json.loads(response.read())
        return compute


def install(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aws-replication-installer-init")
    for name in ("--region", "--aws-access-key-id", "--aws-secret-access-key", "--aws-session-token"):
        parser.add_argument(name)
    parser.add_argument("--endpoint")
    parser.add_argument("--no-prompt", action="store_true")
    args = parser.parse_args(argv)
    if not (args.no_prompt and args.region and args.aws_access_key_id and args.aws_secret_access_key):
        print("AWS Replication Agent installer: would prompt (region, credentials or --no-prompt missing)")
        return EXIT_WOULD_PROMPT
    compute = _imds_compute()
    storage = compute.get("storageProfile") or {}
    assert isinstance(storage, dict)
    os_disk = storage.get("osDisk") or {}
    data_disks = sorted(storage.get("dataDisks") or [], key=lambda d: int(d["lun"]))
    sizes = [int(os_disk["diskSizeGB"])] + [int(d["diskSizeGB"]) for d in data_disks]
    body = json.dumps(
        {
            "machine": {"id": compute["resourceId"], "hostname": compute["name"]},
            "disks": [
                {"deviceName": f"/dev/sd{chr(ord('a') + i)}", "bytes": size * 1024**3}
                for i, size in enumerate(sizes)
            ],
        }
    )
    endpoint = args.endpoint or f"https://drs.{args.region}.amazonaws.com"
    request = AWSRequest(
        method="POST",
        url=endpoint.rstrip("/") + "/CreateSourceServerForDrs",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(args.aws_access_key_id, args.aws_secret_access_key, args.aws_session_token)
    SigV4Auth(credentials, "drs", args.region).add_auth(request)
    http = urllib.request.Request(
        str(request.url), data=body.encode(), headers=dict(request.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=10) as response:
            source_server_id = json.loads(response.read())["sourceServerID"]
    except urllib.error.HTTPError as exc:
        error = exc.headers.get("x-amzn-ErrorType", str(exc.code))
        message = json.loads(exc.read() or b"{}").get("message", "")
        print(f"AWS Replication Agent installer: DRS refused the registration: {error}: {message}")
        return EXIT_REFUSED
    print(f"The AWS Replication Agent was installed; source server {source_server_id}.")
    return 0


def main() -> int:
    command, *rest = sys.argv[1:] or [""]
    if command == "wget":
        return wget(rest)
    if command == "install":
        return install(rest)
    print(f"unknown stand-in command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
