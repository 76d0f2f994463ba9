"""Identifiers and time formats as DRS writes them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

ACCOUNT_ID = "123456789012"


def new_id(prefix: str, length: int = 17) -> str:
    """A DRS-style id: prefix plus lowercase hex (s-, pit-, drsjob-, i-, snap-)."""
    return prefix + secrets.token_hex((length + 1) // 2)[:length]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Real DRS sends '2024-06-13T16:46:56.645979+00:00' (not the model's 'Z' form)."""
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: str) -> datetime:
    """Parse a request timestamp ('...Z' per the model; '+00:00' is accepted too)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_duration(seconds: float) -> str:
    """ISO-8601 duration as in lagDuration: 3 -> 'PT3S', 3723 -> 'PT1H2M3S'."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or text == "PT":
        text += f"{secs}S"
    return text


def arn(region: str, resource: str) -> str:
    return f"arn:aws:drs:{region}:{ACCOUNT_ID}:{resource}"
