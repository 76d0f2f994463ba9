"""Loopback Azure emulator (Entra ID + ARM compute) for the local cloud."""

from .compute import AzureTiming
from .emulator import AzureEmulator

__all__ = ["AzureEmulator", "AzureTiming"]
