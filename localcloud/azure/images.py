"""Images made from an uploaded VHD: what Azure checks of the page blob before it makes a managed image
(Microsoft.Compute/images, storageProfile.osDisk.blobUri) or a Compute Gallery image version
(storageProfile.osDiskImage.source.uri), with the errors it answers.

Rules (Microsoft Learn, "Prepare a Windows VHD to upload to Azure", "Create a managed image of a generalized
VM", "Create an image definition and an image version"): the source is a fixed VHD (footer cookie
'conectix', disk type 2) whose virtual size is a whole number of MiB, in a storage account of the image's
region. The cookie and size messages are Azure's own (as reported in the issues of osbuild-composer and
azure-xplat-cli); the others are the emulator's words for the same refusals.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

MIB = 1024 * 1024
_FOOTER = 512


class _Blob(Protocol):
    size: int

    def read(self, offset: int, length: int) -> bytes: ...


class _Account(Protocol):
    name: str
    location: str


BlobLookup = Callable[[str], "tuple[Any, Any] | None"]


class VhdRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceVhd:
    uri: str
    virtual_size: int
    bootable: bool  # an MBR with an active partition: a BIOS (generation 1) machine boots it


def source_vhd(uri: str, location: str, lookup: BlobLookup, *, disk: str) -> SourceVhd:
    """The VHD at `uri` as Azure accepts it for an image in `location`, or VhdRefused saying why."""
    found = lookup(uri) if uri else None
    if found is None:
        raise VhdRefused(f"The source blob {uri or '(none)'} for disk '{disk}' was not found.")
    account, blob = found
    if _region(account.location) != _region(location):
        raise VhdRefused(
            f"The storage account '{account.name}' of blob {uri} is in '{account.location}', not in "
            f"'{location}': the source VHD must be in the image's region."
        )
    footer = blob.read(blob.size - _FOOTER, _FOOTER) if blob.size >= _FOOTER else b""
    if footer[:8] != b"conectix":
        raise VhdRefused(
            f"The specified cookie value in VHD footer indicates that disk '{disk}' with blob {uri} is not a "
            "supported VHD. Disk is expected to have cookie value 'conectix'."
        )
    current_size, disk_type = struct.unpack_from(">Q", footer, 48)[0], struct.unpack_from(">I", footer, 60)[0]
    if disk_type != 2:
        raise VhdRefused(f"Disk '{disk}' with blob {uri} is not a fixed VHD (disk type {disk_type}).")
    if current_size % MIB:
        raise VhdRefused(
            f"Disk '{disk}' with blob {uri} has unsupported virtual size of {current_size} bytes. "
            "The size must be a whole number (in MBs)."
        )
    if blob.size != current_size + _FOOTER:
        raise VhdRefused(
            f"Disk '{disk}' with blob {uri}: blob size {blob.size} is not the VHD's virtual size "
            f"{current_size} plus its 512-byte footer."
        )
    mbr = blob.read(0, 512)
    active = any(mbr[446 + 16 * i] == 0x80 and mbr[446 + 16 * i + 4] for i in range(4))
    return SourceVhd(uri, current_size, mbr[510:512] == b"\x55\xaa" and active)


def _region(location: str) -> str:
    return location.replace(" ", "").lower()
