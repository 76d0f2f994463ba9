"""Deploy options from CDK context (cdk.json, or `cdk deploy -c key=value`): stack tags and termination
protection. A bad value stops synth with the key named and what to write instead."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

TAGS_KEY = "dr:tags"
TERMINATION_PROTECTION_KEY = "dr:terminationProtection"

# Tag rules of AWS resources and CloudFormation stacks (AWS general reference, "Tagging AWS resources";
# CloudFormation allows 50 tags on a stack).
MAX_TAGS = 50
_TAG_CHARACTERS = re.compile(r"^[\w .:/=+\-@]*$")


class DeployOptionError(ValueError):
    pass


@dataclass(frozen=True)
class DeployOptions:
    tags: dict[str, str]
    termination_protection: bool

    @classmethod
    def from_context(cls, get: Callable[[str], object]) -> DeployOptions:
        return cls(tags=_tags(get(TAGS_KEY)), termination_protection=_flag(get(TERMINATION_PROTECTION_KEY)))


def _tags(value: object) -> dict[str, str]:
    example = f'for example -c {TAGS_KEY}=\'{{"cost-center":"dr","owner":"platform"}}\''
    if value is None:
        return {}
    if isinstance(value, str):  # -c passes a string; cdk.json an object
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DeployOptionError(
                f"context {TAGS_KEY}: not JSON; give an object of tag names to values, {example}"
            ) from None
    if not isinstance(value, dict):
        raise DeployOptionError(
            f"context {TAGS_KEY}: must be an object of tag names to values "
            f"(got {type(value).__name__}), {example}"
        )
    if len(value) > MAX_TAGS:
        raise DeployOptionError(f"context {TAGS_KEY}: {len(value)} tags, CloudFormation allows {MAX_TAGS}")
    for key, tag_value in value.items():
        where = f"context {TAGS_KEY}.{key}"
        if not isinstance(tag_value, str):
            raise DeployOptionError(
                f"{where}: the value must be a string (got {json.dumps(tag_value)}), {example}"
            )
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise DeployOptionError(
                f"{where}: a tag name has 1 to 128 characters and does not start with aws:"
            )
        if len(tag_value) > 256:
            raise DeployOptionError(f"{where}: a tag value has at most 256 characters")
        if not (_TAG_CHARACTERS.match(key) and _TAG_CHARACTERS.match(tag_value)):
            raise DeployOptionError(
                f"{where}: tag names and values may hold letters, digits, spaces and _ . : / = + - @ only"
            )
    return dict(value)


def _flag(value: object) -> bool:
    if value is None:  # cdk.json sets it; a DR stack is protected unless told otherwise
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise DeployOptionError(
        f"context {TERMINATION_PROTECTION_KEY}: must be true or false (got {json.dumps(value)}), "
        f"for example -c {TERMINATION_PROTECTION_KEY}=false for a test stack"
    )
