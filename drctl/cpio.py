"""The cpio "newc" format (SVR4 with no CRC: magic 070701), which the Linux kernel unpacks as an initramfs.

Linux unpacks every archive of a concatenation in turn, compressed or not, each later file replacing an
earlier one (kernel documentation, "early userspace support" / buffer-format.rst): so an archive appended
to a LiveCD's initrd adds files to it without unpacking or recompressing the original.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
_FIELDS = 13  # ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
#               namesize, check


@dataclass(frozen=True)
class Entry:
    name: str  # relative, no leading "/"
    mode: int  # full st_mode: type and permission bits
    data: bytes = b""

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def directory(name: str, permissions: int = 0o755) -> Entry:
    return Entry(name, stat.S_IFDIR | permissions)


def regular(name: str, data: bytes, permissions: int = 0o644) -> Entry:
    return Entry(name, stat.S_IFREG | permissions, data)


def archive(entries: list[Entry], mtime: int = 0) -> bytes:
    out = bytearray()
    for number, entry in enumerate([*entries, Entry(TRAILER, 0)], start=1):
        name = entry.name.encode() + b"\0"
        values = [number if entry.name != TRAILER else 0, entry.mode, 0, 0,
                  2 if entry.is_dir else 1, mtime, len(entry.data), 0, 0, 0, 0, len(name), 0]  # fmt: skip
        out += MAGIC + b"".join(b"%08X" % value for value in values) + name
        out += bytes(-len(out) % 4)
        out += entry.data
        out += bytes(-len(out) % 4)
    return bytes(out)


def parse(raw: bytes) -> list[Entry]:
    """The entries of one uncompressed newc archive (without the trailer)."""
    entries: list[Entry] = []
    offset = 0
    while True:
        if raw[offset : offset + 6] != MAGIC:
            raise ValueError(f"no cpio newc header at offset {offset}")
        values = [int(raw[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(_FIELDS)]
        mode, size, name_size = values[1], values[6], values[11]
        offset += 6 + 8 * _FIELDS
        name = raw[offset : offset + name_size - 1].decode()
        offset += name_size + (-(offset + name_size) % 4)
        data = raw[offset : offset + size]
        offset += size + (-(offset + size) % 4)
        if name == TRAILER:
            return entries
        entries.append(Entry(name, mode, data))
