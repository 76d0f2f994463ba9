"""A polled task's result: PENDING or DONE, and only the fields that task has to say."""

from __future__ import annotations

from lambdas.progress import Validation, WaveStart, done_or_pending
from lambdas.validation import to_document


def test_a_field_left_none_is_not_in_the_result() -> None:
    assert to_document(Validation(status="DONE", healthy=2, first_checked_at="t")) == {
        "status": "DONE",
        "first_checked_at": "t",
        "healthy": 2,
    }
    assert to_document(Validation(status="PENDING", waiting=0, first_checked_at="t")) == {
        "status": "PENDING",
        "first_checked_at": "t",
        "waiting": 0,
    }


def test_a_queued_wave_is_pending() -> None:
    start = WaveStart(
        status=done_or_pending(False), wave=1, job_ids=["drsjob-1"], queued_servers=3, requested_at="t"
    )
    assert to_document(start) == {
        "status": "PENDING",
        "wave": 1,
        "job_ids": ["drsjob-1"],
        "queued_servers": 3,
        "requested_at": "t",
    }
    assert done_or_pending(True) == "DONE"
