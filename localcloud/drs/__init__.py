"""A stateful AWS Elastic Disaster Recovery emulator speaking botocore's `drs` rest-json protocol."""

from localcloud.drs.emulator import DrsEmulator
from localcloud.drs.timing import DrsTiming

__all__ = ["DrsEmulator", "DrsTiming"]
