"""The DRS adapter: what reaches a workflow when DRS says no."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import Stubber

from lambdas.adapters import aws, drs
from lambdas.errors import DrsRefused


def test_a_refusal_names_the_operation_and_drs_reason_and_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = botocore.session.get_session().create_client(
        "drs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setitem(aws._clients, "drs", client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "start_recovery",
            service_error_code="ConflictException",
            service_message="Source server s-0a1b2c3d4e5f60001 is already part of an active job",
            http_status_code=409,
        )
        with pytest.raises(DrsRefused) as refused:
            drs.start_recovery([{"sourceServerID": "s-0a1b2c3d4e5f60001"}], is_drill=True, tags={})
        stub.assert_no_pending_responses()
    assert refused.value.code == "ConflictException"
    assert str(refused.value) == (
        "DRS start_recovery refused (ConflictException): "
        "Source server s-0a1b2c3d4e5f60001 is already part of an active job"
    )
