"""SNS notifications to the on-call channel."""

from __future__ import annotations

import json
import os
from typing import Any

from lambdas.adapters.aws import client


def publish(subject: str, message: dict[str, Any]) -> None:
    topic = os.environ.get("NOTIFY_TOPIC_ARN")
    if not topic:
        return
    client("sns").publish(
        TopicArn=topic,
        Subject=subject[:100],
        Message=json.dumps(message, indent=2, default=str),
    )
