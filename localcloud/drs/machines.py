"""What the DRS emulator needs to know of the machines outside AWS, and of IAM.

Real DRS learns these from its agents and failback clients over the network: whether a source
machine's replication agent runs, whether a paired failback client is connected, and it writes the
recovery instance's volumes onto the client's disks. In the local cloud the Azure emulator's guests stand
in for those machines; these protocols are the seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class VolumeWrite:
    """A recovery-instance volume restored onto one disk of the failback client's machine."""

    lun: int
    content: str
    bootable: bool  # the volume holds the source's operating system (with its replication agent)


class Machines(Protocol):
    def agent_running(self, machine_id: str) -> bool | None:
        """Whether the source machine runs its own OS (and so the replication agent); None: unknown."""

    def failback_client_running(self, machine_id: str) -> bool:
        """Whether the machine runs the failback client now."""

    def restore_volumes(self, machine_id: str, writes: list[VolumeWrite]) -> None:
        """The failback client writes the volumes onto the machine's disks."""

    def reboot(self, machine_id: str) -> None:
        """The failback client reboots its machine after the failback launch."""


class Authorizer(Protocol):
    def authorize(self, access_key_id: str, session_token: str, action: str, resource: str) -> str:
        """The caller's principal ARN when its credentials are valid and allow `action` on `resource`;
        raises ApiError (UnrecognizedClientException, ExpiredTokenException, AccessDeniedException)."""
