"""Property-based checks of the input models: any document is either accepted or refused with an
InvalidInput that names a field; nothing else escapes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.errors import InvalidInput
from lambdas.inputs import parse_start_request
from lambdas.validation import to_document

FIELDS = ["plan", "snapshot", "reason", "requested_by", "trigger", "alarm_name", "event_id"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "extra", "Plan"]), json_values, max_size=6))
def test_any_document_is_accepted_or_refused_with_a_field(document: dict[str, Any]) -> None:
    try:
        request = parse_start_request(document)
    except InvalidInput as error:
        message = str(error)
        assert message.startswith("execution input: ")
        assert any(name in message for name in [*FIELDS, "extra", "Plan", "(document)"])
        return
    assert to_document(request)["plan"] == document["plan"]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda s: any(c in s.strip() for c in "<>`$\\\x00\n")))
def test_injection_like_text_is_refused(text: str) -> None:
    try:
        parse_start_request({"plan": "shop", "reason": text})
    except InvalidInput as error:
        assert "reason" in str(error)
    else:
        raise AssertionError(f"accepted {text!r}")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3))
def test_wrong_types_are_refused(values: list[str]) -> None:
    for field in ("plan", "reason", "trigger"):
        try:
            parse_start_request({"plan": "shop", field: values})
        except InvalidInput as error:
            assert field in str(error)
        else:
            raise AssertionError(f"{field} accepted a list")
