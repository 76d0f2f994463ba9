"""The boot hook that makes the DRS Failback Client unattended on an Azure VM (see hook.py, which is
copied into the failback-client image as it is and so carries its own version)."""

from failback_client.hook import DOCUMENT_VERSION, HOOK_VERSION

__all__ = ["DOCUMENT_VERSION", "HOOK_VERSION"]
