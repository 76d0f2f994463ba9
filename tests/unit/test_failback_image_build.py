"""`drctl failback-image build`: a synthetic Failback Client ISO becomes a fixed VHD that is read back here
as Azure and a BIOS would: footer, size, MBR partition and boot code, the hook in the initrd, and the
launcher wired to the hook once dracut's pre-pivot hook ran in the live root."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
from pathlib import Path

import pycdlib
import pytest

from drctl import cpio, vhd
from drctl.image_build import HOOK_SOURCE, PRE_PIVOT, build
from drctl.main import main
from drctl.stack import OperatorError
from failback_client import HOOK_VERSION
from tests.failback_iso import LAUNCHER, initrd, live_root, make_iso


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def built(tmp_path: Path) -> Path:
    iso = make_iso(tmp_path / "aws-failback-livecd-64bit.iso")
    return build(iso, tmp_path / "client.vhd", progress=quiet).out


def partitions(disk: bytes) -> list[tuple[int, int, int, int]]:
    """(boot flag, type, first LBA, sectors) of the MBR's used entries."""
    entries = [struct.unpack_from("<B3xB3xII", disk, 446 + 16 * i) for i in range(4)]
    return [entry for entry in entries if entry[1]]


def overlay_of(image: pycdlib.PyCdlib) -> list[cpio.Entry]:
    import io

    buffer = io.BytesIO()
    image.get_file_from_iso_fp(buffer, rr_path="/isolinux/initrd0.img")
    data = buffer.getvalue()
    original = initrd()
    assert data.startswith(original)  # the original initrd is untouched, the overlay follows it
    return cpio.parse(data[-(-len(original) // 4) * 4 :])


def test_vhd_is_fixed_whole_mib_with_a_valid_footer(built: Path) -> None:
    footer = vhd.read_footer(built)
    assert (footer.cookie, footer.disk_type, footer.checksum_ok) == (b"conectix", vhd.DISK_TYPE_FIXED, True)
    assert footer.current_size % vhd.MIB == 0
    assert built.stat().st_size == footer.current_size + vhd.FOOTER_SIZE
    assert vhd.azure_problems(built) == []


def test_disk_has_one_active_partition_whose_boot_code_loads_isolinux(built: Path) -> None:
    disk = built.read_bytes()
    assert disk[510:512] == b"\x55\xaa"
    [(flag, _type, first, sectors)] = partitions(disk)
    assert (flag, first) == (0x80, 0)
    assert sectors * 512 <= vhd.read_footer(built).current_size
    image = pycdlib.PyCdlib()
    image.open(str(built))  # the partition holds the ISO 9660 file system
    try:
        boot = image.get_record(rr_path="/isolinux/isolinux.bin")
        # isohdpfx's boot code reads isolinux.bin from the 512-byte sector stored at offset 432.
        assert struct.unpack_from("<I", disk, 432)[0] == boot.extent_location() * 4
        catalog = image.eltorito_boot_catalog
        assert catalog is not None and catalog.validation_entry.platform_id == 0  # BIOS
    finally:
        image.close()


def test_hook_travels_executable_in_the_initrd(built: Path) -> None:
    image = pycdlib.PyCdlib()
    image.open(str(built))
    try:
        entries = {entry.name: entry for entry in overlay_of(image)}
    finally:
        image.close()
    hook = entries["drs-failback/drs-failback-hook"]
    assert hook.data == HOOK_SOURCE.read_bytes()
    assert stat.S_ISREG(hook.mode) and hook.mode & 0o111 == 0o111
    assert entries["drs-failback/VERSION"].data.decode().strip() == HOOK_VERSION
    assert entries[PRE_PIVOT].mode & 0o111 == 0o111


def test_pre_pivot_hook_wires_the_launcher_to_the_hook_once(built: Path, tmp_path: Path) -> None:
    image = pycdlib.PyCdlib()
    image.open(str(built))
    try:
        entries = overlay_of(image)
    finally:
        image.close()
    initrd_root = tmp_path / "initrd"
    for entry in entries:
        target = initrd_root / entry.name
        if entry.is_dir:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_bytes(entry.data)
            target.chmod(stat.S_IMODE(entry.mode))
    root = live_root(tmp_path / "root")
    script = initrd_root / PRE_PIVOT
    env = {
        "PATH": os.environ["PATH"],
        "NEWROOT": str(root),
        "DRS_FAILBACK_SOURCE": str(initrd_root / "drs-failback"),
    }
    for _boot in range(2):  # every boot runs it; the second must not wrap the wrapper
        subprocess.run(["sh", "-c", f". {script}"], env=env, check=True)

    installed = root / "usr/local/sbin/drs-failback-hook"
    assert installed.read_bytes() == HOOK_SOURCE.read_bytes() and os.access(installed, os.X_OK)
    assert (root / "usr/bin/start.sh.client").read_text() == LAUNCHER
    wrapper = (root / "usr/bin/start.sh").read_text().splitlines()
    assert wrapper == ["#!/bin/sh", 'exec /usr/local/sbin/drs-failback-hook /usr/bin/start.sh.client "$@"']
    assert os.access(root / "usr/bin/start.sh", os.X_OK)


def test_an_iso_that_is_already_hybrid_keeps_its_mbr(tmp_path: Path) -> None:
    iso = make_iso(tmp_path / "hybrid.iso", hybrid=True)
    result = build(iso, tmp_path / "client.vhd", progress=quiet)
    assert not result.made_hybrid
    assert partitions(result.out.read_bytes())[0][:1] == (0x80,)
    assert vhd.azure_problems(result.out) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bootable": False}, "no El Torito boot catalog"),
        ({"config": b"default linux\nlabel linux\n  kernel vmlinuz0\n"}, "names no initrd"),
        (
            {"config": b"label linux\n  append initrd=missing.img\n"},
            "/isolinux/missing.img, which the ISO lacks",
        ),
    ],
)
def test_an_iso_that_would_not_boot_is_refused_and_nothing_written(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    iso = make_iso(tmp_path / "bad.iso", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(OperatorError, match=message):
        build(iso, tmp_path / "client.vhd", progress=quiet)
    assert not list(tmp_path.glob("client.vhd*"))


def test_cli_builds_and_names_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iso = make_iso(tmp_path / "livecd.iso")
    assert main(["failback-image", "build", "--iso", str(iso), "--out", str(tmp_path / "c.vhd")]) == 0
    assert "fixed VHD" in capsys.readouterr().out
    assert (
        main(
            ["failback-image", "build", "--iso", str(tmp_path / "none.iso"), "--out", str(tmp_path / "x.vhd")]
        )
        == 2
    )
    assert "--iso" in capsys.readouterr().err
    assert main(["failback-image", "build", "--iso", str(iso), "--out", str(tmp_path / "c.img")]) == 2
    assert "FILE.vhd" in capsys.readouterr().err


def test_footer_round_trip_and_azure_refusals(tmp_path: Path) -> None:
    disk = tmp_path / "d.vhd"
    with disk.open("wb") as stream:
        stream.write(b"x" * 1000)
        size = vhd.finish_fixed_vhd(stream)
    assert size % vhd.MIB == 0 and disk.stat().st_size == size + 512 and vhd.azure_problems(disk) == []
    raw = bytearray(disk.read_bytes())
    raw[-512 + 60 : -512 + 64] = struct.pack(">I", vhd.DISK_TYPE_DYNAMIC)
    disk.write_bytes(bytes(raw))
    assert any("checksum" in p for p in vhd.azure_problems(disk))
    assert any("fixed" in p for p in vhd.azure_problems(disk))
    unaligned = tmp_path / "u.vhd"
    unaligned.write_bytes(bytes(vhd.MIB + 512) + vhd.footer_bytes(vhd.MIB + 512))
    assert any("whole number of MiB" in p for p in vhd.azure_problems(unaligned))


@pytest.mark.parametrize("raw", [1, vhd.MIB, 300 * vhd.MIB + 5, 700 * vhd.MIB, 3000 * vhd.MIB])
def test_aligned_size_is_whole_mib_and_whole_cylinders(raw: int) -> None:
    size = vhd.aligned_size(raw)
    cylinders, heads, sectors = vhd.geometry(size)
    assert size >= raw and size % vhd.MIB == 0 and cylinders * heads * sectors * 512 == size
    assert size - raw < 64 * vhd.MIB  # padding stays small
