"""A small synthetic DRS Failback Client ISO with the real one's layout: isolinux boot (El Torito, BIOS,
load size 4, boot info table), isolinux.cfg naming a dracut initrd, the live root in /LiveOS/squashfs.img.
The client's launcher lives in the live root; `live_root` makes that root as a folder."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pycdlib

from drctl import cpio

ISOLINUX_CFG = b"""default linux
timeout 0
label linux
  kernel vmlinuz0
  append initrd=initrd0.img root=live:CDLABEL=FAILBACK rootfstype=auto ro rd.live.image quiet
"""
LAUNCHER = """#!/bin/sh
# The Failback Client's launcher: asks for what it is not given in its environment.
for name in AWS_REGION AWS_ACCESS_KEY AWS_SECRET_KEY AWS_SESSION_TOKEN \\
    RECOVERY_INSTANCE_ID DEVICE_MAPPING NO_PROMPT
do
    eval "value=\\${$name-}"
    [ -n "$value" ] || [ "$name" = NO_PROMPT ] || { echo "prompt: $name"; exit 5; }
done
[ -n "${NO_PROMPT+set}" ] || { echo "prompt: continue?"; exit 5; }
echo "client runs for $RECOVERY_INSTANCE_ID in $AWS_REGION with $DEVICE_MAPPING"
"""


def isolinux_bin() -> bytes:
    """Four sectors standing in for isolinux.bin, with the signature the hybrid MBR's boot code checks."""
    data = bytearray(2048)
    data[0x40:0x44] = b"\xfb\xc0\x78\x70"
    return bytes(data)


def initrd() -> bytes:
    return gzip.compress(
        cpio.archive([cpio.regular("init", b"#!/bin/sh\nexec /sbin/init\n", 0o755)]), mtime=0
    )


def make_iso(
    path: Path, *, hybrid: bool = False, bootable: bool = True, config: bytes = ISOLINUX_CFG
) -> Path:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident="FAILBACK", rock_ridge="1.09", joliet=3)
    iso.add_directory("/ISOLINUX", rr_name="isolinux", joliet_path="/isolinux")
    iso.add_directory("/LIVEOS", rr_name="LiveOS", joliet_path="/LiveOS")
    files = {
        "/ISOLINUX/ISOLINUX.BIN;1": ("isolinux.bin", "/isolinux/isolinux.bin", isolinux_bin()),
        "/ISOLINUX/ISOLINUX.CFG;1": ("isolinux.cfg", "/isolinux/isolinux.cfg", config),
        "/ISOLINUX/VMLINUZ0.;1": ("vmlinuz0", "/isolinux/vmlinuz0", b"kernel" * 1000),
        "/ISOLINUX/INITRD0.IMG;1": ("initrd0.img", "/isolinux/initrd0.img", initrd()),
        "/LIVEOS/SQUASHFS.IMG;1": ("squashfs.img", "/LiveOS/squashfs.img", b"hsqs" + bytes(300_000)),
    }
    for iso_path, (rr_name, joliet_path, data) in files.items():
        iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=rr_name, joliet_path=joliet_path)
    if bootable:
        iso.add_eltorito(
            "/ISOLINUX/ISOLINUX.BIN;1",
            "/ISOLINUX/BOOT.CAT;1",
            rr_bootcatname="boot.cat",
            joliet_bootcatfile="/isolinux/boot.cat",
            boot_load_size=4,
            boot_info_table=True,
        )
        if hybrid:
            iso.add_isohybrid()
    iso.write(str(path))
    iso.close()
    return path


def live_root(path: Path) -> Path:
    """The LiveCD's root filesystem as a folder, with the launcher."""
    launcher = path / "usr" / "bin" / "start.sh"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(LAUNCHER)
    launcher.chmod(0o755)
    return path
