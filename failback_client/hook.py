#!/usr/bin/env python3
"""drs-failback-hook: run the DRS Failback Client unattended on an Azure VM.

Installed in the failback-client image and started at boot with the client's launcher as its arguments:

    drs-failback-hook /usr/bin/start.sh

It reads the VM's userData from the Azure Instance Metadata Service: a base64 JSON document that the
orchestrator wrote before starting the VM (version, region, short-lived credentials, the recovery
instance to pair with, and which of the VM's disks, by LUN, receives each recovery-instance volume). It
resolves each LUN to the device the client sees, exports the variables the launcher reads
(AWS_REGION, AWS_ACCESS_KEY, AWS_SECRET_KEY, AWS_SESSION_TOKEN, AWS_DRS_ENDPOINT, S3_ENDPOINT,
RECOVERY_INSTANCE_ID, DEVICE_MAPPING, NO_PROMPT) and runs it. Every outcome is one line on the serial
console; no credential is ever printed. An empty userData means there is nothing to do (the orchestrator
clears it once the client paired, so a reboot after the failback launch does not pair again).

Standard library only (Python 3.6+): the Failback Client's LiveCD has no third-party packages.
Settings, all optional: DRS_FAILBACK_IMDS_URL (default http://169.254.169.254), DRS_FAILBACK_SYSFS
(default /sys), DRS_FAILBACK_CONSOLE (default /dev/ttyS0, Azure's serial console).
"""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HOOK_VERSION = "1"
DOCUMENT_VERSION = 1
# The VMBus SCSI controller that carries an Azure VM's data disks (the one Azure's udev rules name scsi1).
DATA_DISK_CONTROLLER = "{f8b3781b-1e82-4818-a1c3-63d806ec15bb}"
IMDS_ATTEMPTS = 30
IMDS_RETRY_SECONDS = 4
EXIT_NOTHING_TO_DO = 0
EXIT_BAD_DOCUMENT = 2
EXIT_NO_METADATA = 3
EXIT_CLIENT_FAILED = 4


class HookError(Exception):
    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def console(message):
    """One line to the serial console (where an operator looks, via boot diagnostics) and to stdout."""
    line = f"drs-failback-hook[v{HOOK_VERSION}]: {message}"
    print(line, flush=True)
    path = os.environ.get("DRS_FAILBACK_CONSOLE", "/dev/ttyS0")
    try:
        with open(path, "a") as stream:
            stream.write(line + "\n")
    except OSError:
        pass


def read_user_data(imds_url):
    """The VM's userData (base64 text; "" when none), retried while the metadata service is not reachable."""
    url = imds_url.rstrip("/") + "/metadata/instance/compute/userData?api-version=2021-01-01&format=text"
    request = urllib.request.Request(url, headers={"Metadata": "true"})
    last_error = None
    for _attempt in range(IMDS_ATTEMPTS):
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read().decode("ascii").strip()
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            time.sleep(IMDS_RETRY_SECONDS)
    raise HookError(f"instance metadata service not reachable: {last_error}", EXIT_NO_METADATA)


def parse_document(user_data):
    try:
        document = json.loads(base64.b64decode(user_data, validate=True).decode("utf-8"))
    except ValueError:
        raise HookError("userData is not a base64 JSON document", EXIT_BAD_DOCUMENT) from None
    if not isinstance(document, dict) or document.get("version") != DOCUMENT_VERSION:
        raise HookError(
            "userData document version {!r} is not {} (image and orchestrator releases differ)".format(
                document.get("version") if isinstance(document, dict) else None, DOCUMENT_VERSION
            ),
            EXIT_BAD_DOCUMENT,
        )
    credentials = document.get("credentials") or {}
    missing = [
        name
        for name, value in (
            ("region", document.get("region")),
            ("recoveryInstanceId", document.get("recoveryInstanceId")),
            ("credentials.accessKeyId", credentials.get("accessKeyId")),
            ("credentials.secretAccessKey", credentials.get("secretAccessKey")),
            ("credentials.sessionToken", credentials.get("sessionToken")),
            ("deviceMapping", document.get("deviceMapping")),
        )
        if not value
    ]
    if missing:
        raise HookError("userData document lacks " + ", ".join(missing), EXIT_BAD_DOCUMENT)
    return document


def data_disks_by_lun(sysfs):
    """LUN -> /dev/<name> of the data disks on the VM's data-disk controller."""
    found = {}
    block = os.path.join(sysfs, "class", "block")
    for name in sorted(os.listdir(block)) if os.path.isdir(block) else []:
        device = os.path.join(block, name, "device")
        if not os.path.exists(device):
            continue  # a partition or a virtual device
        real = os.path.realpath(device)
        address = os.path.basename(real).split(":")
        if len(address) != 4 or not _on_data_controller(real, sysfs):
            continue
        found[int(address[3])] = "/dev/" + name
    return found


def _on_data_controller(path, sysfs):
    root = os.path.realpath(sysfs)
    while path.startswith(root) and path != root:
        device_id = os.path.join(path, "device_id")
        if os.path.isfile(device_id):
            with open(device_id) as stream:
                return stream.read().strip().lower() == DATA_DISK_CONTROLLER
        path = os.path.dirname(path)
    return False


def device_mapping(document, sysfs):
    """DEVICE_MAPPING for the launcher: recovery-instance device=local device, comma separated, no spaces
    (the launcher passes it unquoted)."""
    disks = data_disks_by_lun(sysfs)
    pairs = []
    for entry in document["deviceMapping"]:
        lun = entry.get("lun")
        source = entry.get("recoveryInstanceDevice") or ""
        if not isinstance(lun, int) or not source or any(c in source for c in " ,="):
            raise HookError(f"deviceMapping entry is invalid: {entry!r}", EXIT_BAD_DOCUMENT)
        if lun not in disks:
            raise HookError(
                "no data disk at LUN {} for {} (disks at LUNs: {})".format(
                    lun, source, ", ".join(str(n) for n in sorted(disks)) or "none"
                ),
                EXIT_BAD_DOCUMENT,
            )
        pairs.append(f"{source}={disks[lun]}")
    return ",".join(pairs)


def launcher_environment(document, mapping):
    credentials = document["credentials"]
    environment = dict(os.environ)
    environment.update(
        {
            "AWS_REGION": document["region"],
            "AWS_ACCESS_KEY": credentials["accessKeyId"],
            "AWS_SECRET_KEY": credentials["secretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["sessionToken"],
            # Set but empty: the launcher uses DRS's default endpoint and asks nothing.
            "AWS_DRS_ENDPOINT": document.get("endpoint") or "",
            "S3_ENDPOINT": document.get("s3Endpoint") or "",
            "RECOVERY_INSTANCE_ID": document["recoveryInstanceId"],
            "DEVICE_MAPPING": mapping,
            "NO_PROMPT": "1",
        }
    )
    return environment


def main(argv):
    if not argv:
        console("usage: drs-failback-hook LAUNCHER [ARGS...]")
        return EXIT_BAD_DOCUMENT
    try:
        user_data = read_user_data(os.environ.get("DRS_FAILBACK_IMDS_URL", "http://169.254.169.254"))
        if not user_data:
            console("no failback document in userData: nothing to do")
            return EXIT_NOTHING_TO_DO
        document = parse_document(user_data)
        mapping = device_mapping(document, os.environ.get("DRS_FAILBACK_SYSFS", "/sys"))
    except HookError as exc:
        console(f"failed: {exc}")
        return exc.exit_code
    console(
        "starting the failback client for recovery instance {} in {} (devices {})".format(
            document["recoveryInstanceId"], document["region"], mapping
        )
    )
    # Credentials go through the environment, never the command line (visible in ps) or the console.
    code = subprocess.call(argv, env=launcher_environment(document, mapping))
    if code == 0:
        console("failback client finished for recovery instance {}".format(document["recoveryInstanceId"]))
        return 0
    rid = document["recoveryInstanceId"]
    console("failback client exited with code {} (recovery instance {})".format(code, rid))
    return EXIT_CLIENT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
