"""What runs inside the Azure emulator's VMs, and what DRS sees of them.

A VM that boots a disk made from the failback-client image runs the project's real boot hook
(failback_client/hook.py, the file that goes into the image) in a subprocess, against the emulated
Instance Metadata Service, with the VM's disks laid out in a sysfs tree as Azure presents them, and the
stand-in client as the launcher. A VM that boots its own OS disk runs the DRS replication agent (when DRS
knows the machine), and its guest agent runs Run Command scripts with bash, with stand-ins for `wget` and
the AWS Replication Agent installer (localcloud/agent_standin.py) on its PATH.
This class is also the DRS emulator's view of those machines (localcloud.drs.machines.Machines).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import failback_client.hook as hook
from localcloud import agent_standin, failback_standin
from localcloud.azure import AzureEmulator
from localcloud.azure.compute import WORKLOAD
from localcloud.drs.machines import VolumeWrite

log = logging.getLogger(__name__)
FAILBACK_CLIENT = "drs-failback-client"  # Disk.boots of a disk made from the failback-client image
# The VMBus controller of the OS and resource disks (Azure's udev rules call it scsi0).
_OS_CONTROLLER = "{00000000-0000-8899-0000-000000000000}"
_HOOK_TIMEOUT_SECONDS = 120


class Guests:
    def __init__(self, azure: AzureEmulator) -> None:
        self._azure = azure
        self._root = Path(tempfile.mkdtemp(prefix="localcloud-guests-"))
        self._consoles: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._boots = 0

    def install(self) -> None:
        self._azure.on_boot(self._booted)
        self._azure.on_run_command(self.run_command)

    def run_command(self, vm_id: str, script: list[str]) -> tuple[int, str, str]:
        """Run Command in a running workload guest: the script runs with bash as root (sudo passes
        through), in a fresh working directory; the failback client (a LiveCD) has no guest agent."""
        guest = self._azure.guest(vm_id)
        if guest is None or guest["osDisk"]["boots"] != WORKLOAD:
            return 1, "", "the VM guest agent is not running in this VM"
        with self._lock:
            self._boots += 1
            workdir = self._root / f"run-{self._boots}"
        bin_dir = workdir / "bin"
        bin_dir.mkdir(parents=True)
        stand_in = f'"{sys.executable}" "{agent_standin.__file__}"'
        for name, body in {"wget": f'exec {stand_in} wget "$@"', "sudo": 'exec "$@"'}.items():
            path = bin_dir / name
            path.write_text(f"#!/bin/sh\n{body}\n")
            path.chmod(0o755)
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "DRS_AGENT_IMDS_URL": self._azure.imds_url(vm_id),
            "PYTHONPATH": os.pathsep.join(sys.path),
            "HOME": str(workdir),
        }
        result = subprocess.run(
            ["bash", "-e", "-s"],
            input="\n".join(script) + "\n",
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=_HOOK_TIMEOUT_SECONDS,
            check=False,
        )
        return result.returncode, result.stdout, result.stderr

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=_HOOK_TIMEOUT_SECONDS)
        shutil.rmtree(self._root, ignore_errors=True)

    def console(self, vm_id: str) -> list[str]:
        """The serial console of a VM: what its guests printed, oldest first."""
        with self._lock:
            return list(self._consoles.get(vm_id.lower(), []))

    # -- the DRS emulator's view (Machines) --------------------------------------------------------

    def agent_running(self, machine_id: str) -> bool | None:
        try:
            self._azure.vm(machine_id)
        except KeyError:
            return None
        guest = self._azure.guest(machine_id)
        return guest is not None and guest["osDisk"]["boots"] == WORKLOAD

    def failback_client_running(self, machine_id: str) -> bool:
        guest = self._azure.guest(machine_id)
        return guest is not None and guest["osDisk"]["boots"] == FAILBACK_CLIENT

    def restore_volumes(self, machine_id: str, writes: list[VolumeWrite]) -> None:
        guest = self._azure.guest(machine_id)
        if guest is None:
            raise RuntimeError(f"machine {machine_id} is not running: nothing written")
        by_lun = {disk["lun"]: disk["id"] for disk in guest["dataDisks"]}
        for write in writes:
            self._azure.write_disk(by_lun[write.lun], write.content, WORKLOAD if write.bootable else None)

    def reboot(self, machine_id: str) -> None:
        self._azure.guest_reboot(machine_id)

    # -- boots -------------------------------------------------------------------------------------

    def _booted(self, vm_id: str) -> None:
        # Called under the Azure emulator's lock: hand the boot to a thread.
        thread = threading.Thread(target=self._run_guest, args=(vm_id,), name="guest-boot", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _run_guest(self, vm_id: str) -> None:
        try:
            guest = self._azure.guest(vm_id)
            if guest is None or guest["osDisk"]["boots"] != FAILBACK_CLIENT:
                return
            with self._lock:
                self._boots += 1
                workdir = self._root / f"boot-{self._boots}"
            sysfs = self._sysfs(workdir, guest["dataDisks"])
            console = workdir / "console.log"
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "DRS_FAILBACK_IMDS_URL": self._azure.imds_url(vm_id),
                "DRS_FAILBACK_SYSFS": str(sysfs),
                "DRS_FAILBACK_CONSOLE": str(console),
                "PYTHONPATH": os.pathsep.join(sys.path),
            }
            launcher = [sys.executable, failback_standin.__file__]
            result = subprocess.run(
                [sys.executable, hook.__file__, *launcher],
                env=env,
                capture_output=True,
                text=True,
                timeout=_HOOK_TIMEOUT_SECONDS,
                check=False,
            )
            lines = (console.read_text() if console.exists() else "").splitlines()
            lines += [line for line in result.stdout.splitlines() if not line.startswith("drs-failback-hook")]
            lines += result.stderr.splitlines()
            with self._lock:
                self._consoles.setdefault(vm_id.lower(), []).extend(lines)
        except Exception:
            log.exception("guest of %s failed", vm_id)

    @staticmethod
    def _sysfs(workdir: Path, data_disks: list[dict[str, object]]) -> Path:
        """The block devices as Azure presents them to a Linux guest: sda is the OS disk on one VMBus
        controller, the data disks follow on the data-disk controller with their LUNs."""
        sysfs = workdir / "sys"
        controllers = {_OS_CONTROLLER: 0, hook.DATA_DISK_CONTROLLER: 1}
        for controller, host in controllers.items():
            path = sysfs / "devices" / "vmbus" / f"host{host}"
            path.mkdir(parents=True)
            (path / "device_id").write_text(controller + "\n")
        disks = [(0, 0, 30 * 1024**3)] + [
            (1, int(str(d["lun"])), int(str(d["sizeGB"])) * 1024**3) for d in data_disks
        ]
        for index, (host, lun, size) in enumerate(disks):
            name = "sd" + chr(ord("a") + index)
            address = sysfs / "devices" / "vmbus" / f"host{host}" / f"{host}:0:0:{lun}"
            address.mkdir(parents=True)
            block = sysfs / "class" / "block" / name
            block.mkdir(parents=True)
            (block / "device").symlink_to(address)
            (block / "size").write_text(f"{size // 512}\n")
        return sysfs
