"""Fixed-size VHD: a raw disk followed by the 512-byte footer of Microsoft's "Virtual Hard Disk Image Format
Specification" (cookie "conectix", version 1.0, data offset all ones, disk type 2 = fixed, big-endian
fields, a one's-complement checksum, CHS geometry by the specification's algorithm).

Azure accepts only this kind of VHD for an uploaded disk or image, with a virtual size that is a whole
number of MiB (Microsoft Learn, "Prepare a Windows VHD to upload to Azure" and "Information for
non-endorsed distributions": "fixed VHD", "virtual size aligned to 1 MB"); it refuses anything else with
InvalidParameter/InvalidVhd ("Disk is expected to have cookie value 'conectix'").

The footer is written here because no maintained pure-Python library writes one (qemu-img, of Debian's
qemu-utils, does; CI has only what pip installs), and the format is one fixed 512-byte record.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FOOTER_SIZE = 512
MIB = 1024 * 1024
COOKIE = b"conectix"
DISK_TYPE_FIXED = 2
DISK_TYPE_DYNAMIC = 3
_VERSION = 0x00010000
_FEATURES = 0x00000002  # "reserved": always set
_NO_DATA_OFFSET = 0xFFFFFFFFFFFFFFFF  # fixed disks have no dynamic header
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# cookie, features, version, data offset, timestamp, creator app, creator version, creator host,
# original size, current size, cylinders, heads, sectors, disk type, checksum, unique id, saved state
_FORMAT = ">8sIIQI4sI4sQQHBBII16sB"
_RESERVED = FOOTER_SIZE - struct.calcsize(_FORMAT)


class VhdError(ValueError):
    """A file that is not a fixed VHD Azure accepts (the message says why)."""


@dataclass(frozen=True)
class Footer:
    cookie: bytes
    disk_type: int
    current_size: int  # the virtual size: bytes of disk before the footer
    original_size: int
    geometry: tuple[int, int, int]  # cylinders, heads, sectors per track
    unique_id: uuid.UUID
    checksum_ok: bool

    @property
    def fixed(self) -> bool:
        return self.disk_type == DISK_TYPE_FIXED


def geometry(size: int) -> tuple[int, int, int]:
    """CHS geometry of a disk of `size` bytes, by the VHD specification's algorithm (appendix)."""
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        sectors, heads = 255, 16
        cylinder_heads = total // sectors
    else:
        sectors = 17
        cylinder_heads = total // sectors
        heads = max((cylinder_heads + 1023) // 1024, 4)
        if cylinder_heads >= heads * 1024 or heads > 16:
            sectors, heads = 31, 16
            cylinder_heads = total // sectors
        if cylinder_heads >= heads * 1024:
            sectors, heads = 63, 16
            cylinder_heads = total // sectors
    return cylinder_heads // heads, heads, sectors


def footer_bytes(size: int, *, unique_id: uuid.UUID | None = None, now: dt.datetime | None = None) -> bytes:
    """The footer of a fixed VHD whose disk is `size` bytes."""
    if size <= 0 or size % 512:
        raise VhdError(f"a VHD disk size must be a positive multiple of 512 bytes, not {size}")
    stamp = int(((now or dt.datetime.now(dt.UTC)) - _EPOCH).total_seconds())
    cylinders, heads, sectors = geometry(size)
    fields = [
        COOKIE, _FEATURES, _VERSION, _NO_DATA_OFFSET, stamp, b"drct", _VERSION, b"Wi2k",
        size, size, cylinders, heads, sectors, DISK_TYPE_FIXED, 0, (unique_id or uuid.uuid4()).bytes, 0,
    ]  # fmt: skip
    raw = struct.pack(_FORMAT, *fields) + bytes(_RESERVED)
    fields[14] = _checksum(raw)
    return struct.pack(_FORMAT, *fields) + bytes(_RESERVED)


def parse_footer(raw: bytes) -> Footer:
    if len(raw) != FOOTER_SIZE:
        raise VhdError(f"a VHD footer is {FOOTER_SIZE} bytes, not {len(raw)}")
    (cookie, _f, _v, _o, _t, _a, _av, _h, original, current, cylinders, heads, sectors, disk_type, stored,
     unique, _s) = struct.unpack_from(_FORMAT, raw)  # fmt: skip
    zeroed = raw[:64] + b"\0\0\0\0" + raw[68:]
    return Footer(
        cookie=cookie,
        disk_type=disk_type,
        current_size=current,
        original_size=original,
        geometry=(cylinders, heads, sectors),
        unique_id=uuid.UUID(bytes=unique),
        checksum_ok=stored == _checksum(zeroed),
    )


def read_footer(path: Path) -> Footer:
    with path.open("rb") as stream:
        stream.seek(0, 2)
        if stream.tell() < FOOTER_SIZE:
            raise VhdError(f"{path} is too small to be a VHD")
        stream.seek(-FOOTER_SIZE, 2)
        return parse_footer(stream.read(FOOTER_SIZE))


def azure_problems(path: Path) -> list[str]:
    """Why Azure would refuse this file as a disk or image source (empty: it accepts it)."""
    size = path.stat().st_size
    try:
        footer = read_footer(path)
    except VhdError as exc:
        return [str(exc)]
    problems = []
    if footer.cookie != COOKIE:
        problems.append(f"the footer's cookie is {footer.cookie!r}, not 'conectix': not a VHD")
        return problems
    if not footer.checksum_ok:
        problems.append("the footer's checksum is wrong")
    if not footer.fixed:
        problems.append(f"disk type {footer.disk_type} is not 2 (fixed): Azure takes fixed VHDs only")
    if footer.current_size % MIB:
        problems.append(f"virtual size {footer.current_size} bytes is not a whole number of MiB")
    if footer.fixed and size != footer.current_size + FOOTER_SIZE:
        problems.append(
            f"file size {size} is not the virtual size {footer.current_size} plus the "
            f"{FOOTER_SIZE}-byte footer"
        )
    return problems


def aligned_size(raw: int) -> int:
    """The smallest size >= raw that is a whole number of MiB (Azure's rule) and of CHS cylinders by the
    footer's geometry, so that readers which size a VHD by its geometry (qemu for unknown creators) agree."""
    size = max(MIB, -(-raw // MIB) * MIB)
    for candidate in range(size, size + 1024 * MIB, MIB):
        cylinders, heads, sectors = geometry(candidate)
        if cylinders * heads * sectors * 512 == candidate:
            return candidate
    return size


def finish_fixed_vhd(stream: BinaryIO) -> int:
    """Pad the raw disk in `stream` (positioned anywhere) with zeros to `aligned_size` and append the
    footer. Returns the virtual size."""
    stream.seek(0, 2)
    size = aligned_size(stream.tell())
    stream.truncate(size)
    stream.seek(size)
    stream.write(footer_bytes(size))
    return size


def _checksum(raw: bytes) -> int:
    return ~sum(raw) & 0xFFFFFFFF
