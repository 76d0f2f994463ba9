import json

from localcloud.input_transformer import transform


def test_strings_are_quoted_outside_quotes_and_bare_inside() -> None:
    event = {"id": "e-1", "detail": {"alarmName": 'shop "outage"', "count": 3}}
    template = '{"name":<name>,"id":"<id>","count":<count>,"missing":<nope>}'
    body = transform(
        template,
        {"name": "$.detail.alarmName", "id": "$.id", "count": "$.detail.count", "nope": "$.detail.none"},
        event,
    )
    assert json.loads(body) == {"name": 'shop "outage"', "id": "e-1", "count": 3, "missing": None}
