"""`drctl failback-image build`: the DRS Failback Client ISO -> a BIOS-bootable (Hyper-V generation 1) fixed
VHD for Azure, with the boot hook (failback_client/hook.py) wired in front of the client's launcher.

The Failback Client is a LiveCD (isolinux boot, a dracut initrd, the live root in /LiveOS/squashfs.img). It
boots from a disk as it boots from a USB stick, through an isohybrid MBR whose boot code loads isolinux
(syslinux's isohdpfx, which pycdlib carries): so the disk is the ISO itself, made hybrid if it is not, with
a whole number of MiB and a VHD footer. The hook travels in a cpio archive appended to each initrd the
isolinux configuration names (the kernel unpacks both); a dracut pre-pivot hook in it puts the hook into the
live root and replaces the launcher with a two-line script that runs the hook with the original launcher.
So neither the squashfs nor the root filesystem inside it is unpacked, and everything is pure Python.
"""

from __future__ import annotations

import hashlib
import io
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drctl import cpio
from drctl.stack import OperatorError
from drctl.vhd import MIB, finish_fixed_vhd
from failback_client import HOOK_VERSION
from failback_client import hook as hook_module

HOOK_SOURCE = Path(hook_module.__file__).resolve()  # copied into the image as it is
# Where the client's launcher lives in the LiveCD's root filesystem (failback_client/hook.py); --launcher
# overrides it for a release that moves it.
DEFAULT_LAUNCHER = "/usr/bin/start.sh"
HOOK_DIR = "drs-failback"  # in the initrd
HOOK_TARGET = "/usr/local/sbin/drs-failback-hook"  # in the live root
PRE_PIVOT = "lib/dracut/hooks/pre-pivot/90-drs-failback-hook.sh"
ISOLINUX_CONFIGS = ("/isolinux/isolinux.cfg", "/boot/isolinux/isolinux.cfg", "/isolinux.cfg")
# Signature isolinux.bin carries at offset 0x40, which the hybrid MBR's boot code checks before jumping.
ISOLINUX_HYBRID_SIGNATURE = b"\xfb\xc0\x78\x70"
_INITRD = re.compile(r"(?:^|\s)initrd=(\S+)", re.IGNORECASE)
_LAUNCHER = re.compile(r"/[A-Za-z0-9_./+-]+\Z")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    out: Path
    virtual_size: int
    iso_sha256: str
    initrds: list[str]
    launcher: str
    hook_version: str
    made_hybrid: bool

    def document(self) -> dict[str, Any]:
        return {
            "vhd": str(self.out),
            "virtualSizeBytes": self.virtual_size,
            "isoSha256": self.iso_sha256,
            "initrds": self.initrds,
            "launcher": self.launcher,
            "hookVersion": self.hook_version,
            "madeHybrid": self.made_hybrid,
        }


def wiring_script(launcher: str) -> str:
    """The dracut pre-pivot hook (sourced by dracut's shell, so it never exits): runs once per boot before
    the switch to the live root ($NEWROOT, writable on a LiveCD). DRS_FAILBACK_SOURCE (default
    /drs-failback) is where the initrd holds the hook."""
    quoted = shlex.quote(launcher)
    return f"""# drctl failback-image build, hook v{HOOK_VERSION}: run the Failback Client through the hook.
drs_failback_wire() {{
    launcher="$NEWROOT"{quoted}
    if [ ! -f "$launcher" ] && [ ! -f "$launcher.client" ]; then
        echo "drs-failback-hook[v{HOOK_VERSION}]: failed: launcher {launcher} not found in the live root" \\
            > /dev/ttyS0 2>/dev/null
        return 0
    fi
    mkdir -p "$NEWROOT/usr/local/sbin"
    cp "${{DRS_FAILBACK_SOURCE:-/{HOOK_DIR}}}/drs-failback-hook" "$NEWROOT{HOOK_TARGET}"
    chmod 0755 "$NEWROOT{HOOK_TARGET}"
    [ -f "$launcher.client" ] || mv "$launcher" "$launcher.client"
    printf '#!/bin/sh\\nexec {HOOK_TARGET} %s.client "$@"\\n' {quoted} > "$launcher"
    chmod 0755 "$launcher"
}}
drs_failback_wire
"""


def overlay(launcher: str) -> bytes:
    """The cpio archive appended to the initrd."""
    hook = HOOK_SOURCE.read_bytes()
    return cpio.archive(
        [
            cpio.directory(HOOK_DIR),
            cpio.regular(f"{HOOK_DIR}/drs-failback-hook", hook, 0o755),
            cpio.regular(f"{HOOK_DIR}/VERSION", f"{HOOK_VERSION}\n".encode()),
            cpio.directory("lib"),
            cpio.directory("lib/dracut"),
            cpio.directory("lib/dracut/hooks"),
            cpio.directory("lib/dracut/hooks/pre-pivot"),
            cpio.regular(PRE_PIVOT, wiring_script(launcher).encode(), 0o755),
        ]
    )


def build(
    iso: Path, out: Path, *, launcher: str = DEFAULT_LAUNCHER, progress: Progress = print
) -> BuildResult:
    """Write `out` (a fixed VHD) from the Failback Client ISO `iso`. Refuses, changing nothing, what would
    not boot: no El Torito BIOS entry, no isolinux, no initrd named in its configuration."""
    pycdlib = require("pycdlib")
    from pycdlib.pycdlibexception import PyCdlibException

    if not _LAUNCHER.match(launcher):
        raise OperatorError(
            f"--launcher {launcher!r} must be an absolute path in the LiveCD's root filesystem"
        )
    if not iso.is_file():
        raise OperatorError(
            f"--iso {iso}: no such file (download it from DRS: README, 'Failback client image')"
        )
    if out.suffix.lower() != ".vhd":
        raise OperatorError(f"--out {out}: name the output FILE.vhd (Azure takes fixed VHDs only)")
    progress(f"reading {iso}")
    digest = _sha256(iso)
    image = pycdlib.PyCdlib()
    try:
        image.open(str(iso))
    except PyCdlibException as exc:
        raise OperatorError(f"--iso {iso} is not a readable ISO 9660 image: {exc}") from None
    try:
        made_hybrid = _check_bootable(image, iso)
        config_path, config = _isolinux_config(image, iso)
        initrds = _initrds(image, iso, config_path, config)
        extra = overlay(launcher)
        for initrd in initrds:
            original = _read(image, initrd)
            progress(f"adding the boot hook v{HOOK_VERSION} to {initrd}")
            _replace(image, initrd, original + bytes(-len(original) % 4) + extra)
        if made_hybrid:
            image.add_isohybrid()  # BIOS boot from a disk: an MBR whose boot code loads isolinux
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        progress(f"writing {out}")
        image.write(str(partial))
    finally:
        image.close()
    with partial.open("r+b") as stream:
        size = finish_fixed_vhd(stream)
    partial.replace(out)
    progress(f"wrote {out}: fixed VHD, {size // MIB} MiB, BIOS boot (generation 1), hook v{HOOK_VERSION}")
    return BuildResult(out, size, digest, initrds, launcher, HOOK_VERSION, made_hybrid)


def require(module: str) -> Any:
    """Import a library of the `image` extra, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise OperatorError(
            f"drctl failback-image needs the Python package {module.replace('.', '-')}: "
            "pip install 'azure-aws-dr-orchestrator[image]'"
        ) from None


def _check_bootable(image: Any, iso: Path) -> bool:
    """Checks the ISO boots isolinux in BIOS mode; True when it still needs a hybrid MBR."""
    catalog = image.eltorito_boot_catalog
    if catalog is None:
        raise OperatorError(f"--iso {iso} has no El Torito boot catalog: it is not a bootable LiveCD")
    entry = catalog.initial_entry
    if catalog.validation_entry.platform_id != 0:
        raise OperatorError(
            f"--iso {iso}: its default boot entry is not for BIOS (x86): Azure generation 1 boots BIOS"
        )
    head = _inode_bytes(image, entry.inode, 0x44)
    if head[0x40:0x44] != ISOLINUX_HYBRID_SIGNATURE:
        raise OperatorError(
            f"--iso {iso}: its BIOS boot image is not isolinux, which the disk's boot code loads"
        )
    if image.isohybrid_mbr is not None:
        return False
    if entry.sector_count != 4:
        raise OperatorError(
            f"--iso {iso}: El Torito boot load size {entry.sector_count} is not 4: cannot add a hybrid MBR"
        )
    return True


def _isolinux_config(image: Any, iso: Path) -> tuple[str, str]:
    for path in ISOLINUX_CONFIGS:
        if _exists(image, path):
            return path, _read(image, path).decode("utf-8", "replace")
    raise OperatorError(f"--iso {iso} has no isolinux configuration ({', '.join(ISOLINUX_CONFIGS)})")


def _initrds(image: Any, iso: Path, config_path: str, config: str) -> list[str]:
    base = config_path.rsplit("/", 1)[0]
    found: list[str] = []
    for line in config.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        keyword, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
        names = (
            [rest.strip()] if keyword == "initrd" else _INITRD.findall(rest) if keyword == "append" else []
        )
        for name in (n for joined in names for n in joined.split(",") if n):
            path = name if name.startswith("/") else f"{base}/{name}"
            if path not in found:
                found.append(path)
    if not found:
        raise OperatorError(f"--iso {iso}: {config_path} names no initrd: the boot hook has nowhere to go")
    missing = [path for path in found if not _exists(image, path)]
    if missing:
        raise OperatorError(f"--iso {iso}: {config_path} names {', '.join(missing)}, which the ISO lacks")
    return found


# --- pycdlib helpers: paths are Rock Ridge paths when the ISO has Rock Ridge (LiveCDs do) -----------------


def _record(image: Any, path: str) -> Any:
    return image.get_record(**_path_kwargs(image, path))


def _path_kwargs(image: Any, path: str) -> dict[str, str]:
    return {"rr_path": path} if image.has_rock_ridge() else {"iso_path": _iso_name(path)}


def _iso_name(path: str) -> str:
    parts = path.upper().split("/")
    return "/".join([*parts[:-1], parts[-1] + (";1" if "." in parts[-1] else ".;1")])


def _exists(image: Any, path: str) -> bool:
    from pycdlib.pycdlibexception import PyCdlibException

    try:
        return not _record(image, path).is_dir()
    except PyCdlibException:
        return False


def _read(image: Any, path: str) -> bytes:
    buffer = io.BytesIO()
    image.get_file_from_iso_fp(buffer, **_path_kwargs(image, path))
    return buffer.getvalue()


def _inode_bytes(image: Any, inode: Any, length: int) -> bytes:
    from pycdlib import inode as inodes

    with inodes.InodeOpenData(inode, image.logical_block_size) as (stream, _length):
        return bytes(stream.read(length))


def _replace(image: Any, path: str, data: bytes) -> None:
    """Replace a file's content, keeping its names (ISO 9660, Rock Ridge, Joliet) and mode."""
    record = _record(image, path)
    iso_path = image.full_path_from_dirrecord(record)
    kwargs: dict[str, Any] = {"iso_path": iso_path}
    if image.has_rock_ridge():
        kwargs["rr_name"] = path.rsplit("/", 1)[-1]
        kwargs["file_mode"] = record.rock_ridge.get_file_mode()
    if image.has_joliet():
        kwargs["joliet_path"] = path
    image.rm_file(**{k: v for k, v in kwargs.items() if k != "file_mode"})
    image.add_fp(io.BytesIO(data), len(data), **kwargs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()
