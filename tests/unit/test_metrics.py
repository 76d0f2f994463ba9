"""CloudWatch metrics (embedded metric format) emitted by the tasks."""

from __future__ import annotations

import json

import pytest


def test_metric_batches_in_flight_at_once_keep_their_own_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from lambdas.handlers.common import new_metrics

    first, second = new_metrics(), new_metrics()
    first.add_dimension(name="plan", value="shop")
    second.add_dimension(name="plan", value="billing")
    first.add_metric(name="RunSucceeded", unit=MetricUnit.Count, value=1)
    first.flush_metrics()
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert document["plan"] == "shop"
