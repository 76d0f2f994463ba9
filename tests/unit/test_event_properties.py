"""Property-based checks of the EventBridge events the orchestrator consumes:

- DRS events (launch results, failback state changes) that resume waiting workflows
  (`lambdas.handlers.waits.event_handler`, model `DrsEvent`);
- the CloudWatch alarm state change that the outage rule's input transformer turns into a start document;
- the start document of the scheduled drill.

The rules and the schedule come from the real constructs (constructs/triggers.py, constructs/drs_events.py),
synthesized once for the module. A bad event is refused with an InvalidInput naming the field, or ignored; it
never resumes a wait and never starts a run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st
from moto.events.models import EventPattern
from pydantic import ValidationError

from dr_constructs.alarms import FailureAlarms
from dr_constructs.drs_events import DrsEvents
from dr_constructs.triggers import Triggers
from lambdas.adapters import aws, executions
from lambdas.domain import runs
from lambdas.errors import InvalidInput
from lambdas.handlers import waits
from lambdas.inputs import WORKFLOWS, parse_start_request
from lambdas.plan import Triggers as PlanTriggers
from lambdas.plan import parse_plan
from localcloud.drs import events as drs_events
from localcloud.drs.formats import ACCOUNT_ID, arn
from localcloud.input_transformer import transform
from tests.conftest import INJECTIONS, ROOT, SAMPLE_PLAN
from tests.fakes.state_store import InMemoryStateStore

PROPERTY = settings(max_examples=50, deadline=None, derandomize=True, database=None)

SAMPLE = parse_plan(json.loads(SAMPLE_PLAN.read_text()))
NOW = datetime(2026, 5, 1, tzinfo=UTC)
ALARM_EVENT = json.loads((ROOT / "events" / "alarm-state-change-alarm.json").read_text())
OK_EVENT = json.loads((ROOT / "events" / "alarm-state-change-ok.json").read_text())

WAIT_EVENT_TYPES = ("DRS Source Server Launch Result", "DRS Recovery Instance Failback State Change")
OTHER_DRS_EVENT_TYPES = (
    "DRS Source Server Data Replication Stalled Change",
    "DRS PIT Snapshot Taken",
    "DRS Source Server Launch Result ",
    "drs source server launch result",
)
ENVELOPE_FIELDS = ("source", "detail-type", "resources", "detail")
START_FIELDS = ("plan", "snapshot", "reason", "requested_by", "trigger", "alarm_name", "event_id")

MARKUP_OR_CONTROL = re.compile(r"[\x00-\x1f<>`$\\]")  # what free text (inputs.FreeText) refuses

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
injection_texts = st.sampled_from(INJECTIONS) | st.builds(
    lambda head, bad, tail: f"x{head}{bad}{tail}x",
    st.text(max_size=8),
    st.sampled_from("'\";$`{}<>|\\\x00\r\n"),
    st.text(max_size=8),
)


# --- the synthesized rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    alarm_pattern: dict[str, Any]
    alarm_paths: dict[str, str]
    alarm_template: str
    drs_pattern: dict[str, Any]
    drill_input: dict[str, Any]


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The outage-alarm rule, the DRS rule and the drill schedule of the sample plan, as CloudFormation."""
    stack = cdk.Stack(cdk.App(), "DrOrchestrator")  # the stack name the sample events name
    machines = {
        workflow: sfn.StateMachine(
            stack,
            f"{workflow}-machine",
            definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, f"{workflow}-pass")),
        )
        for workflow in ("drill", "recovery", "failback")
    }
    handler = lambda_.Function(
        stack,
        "DrsEventHandler",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    alarms = FailureAlarms(stack, "Alarms", sns.Topic(stack, "Notifications"))
    Triggers(stack, "Triggers", [SAMPLE], machines, alarms)
    DrsEvents(stack, "DrsEvents", handler, machines, alarms)
    resources = Template.from_stack(stack).to_json()["Resources"].values()
    event_rules = [r["Properties"] for r in resources if r["Type"] == "AWS::Events::Rule"]
    alarm = next(r for r in event_rules if r["EventPattern"]["source"] == ["aws.cloudwatch"])
    drs = next(r for r in event_rules if r["EventPattern"]["source"] == ["aws.drs"])
    schedule = next(r["Properties"] for r in resources if r["Type"] == "AWS::Scheduler::Schedule")
    transformer = alarm["Targets"][0]["InputTransformer"]
    return Rules(
        alarm_pattern=alarm["EventPattern"],
        alarm_paths=transformer["InputPathsMap"],
        alarm_template=transformer["InputTemplate"],
        drs_pattern=drs["EventPattern"],
        drill_input=json.loads(schedule["Target"]["Input"]),
    )


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """EventBridge pattern matching as the local cloud does it (moto's matcher)."""
    return EventPattern(None, pattern).matches_event(event)


def fields_named(message: str) -> set[str]:
    """The top-level fields an `execution input: a: ...; b.c: ...` message names."""
    # A quoted bad value may itself hold "; ": split only where the next field's name follows.
    parts = re.split(r"; (?=[a-z_][a-z0-9_.\[\]]*: )", message.removeprefix("execution input: "))
    return {part.split(":", 1)[0].split(".", 1)[0] for part in parts}


# --- DRS events and the wait handler ------------------------------------------------------------------------

SERVER_IDS = [s.source_server_id for s in SAMPLE.servers()]
RECOVERY_INSTANCE_IDS = [f"i-0{n:016x}" for n in range(1, 5)]
# resource id -> {execution ARN: task token}: two runs wait on some resources.
WAITERS: dict[str, dict[str, str]] = {
    resource: {
        f"arn:aws:states:us-east-1:{ACCOUNT_ID}:execution:dr-{kind}:run-{n}": f"token-{resource}-{n}"
        for n in range(1 + index % 2)
    }
    for kind, ids in (("drill", SERVER_IDS), ("failback", RECOVERY_INSTANCE_IDS))
    for index, resource in enumerate(ids)
}


@dataclass
class LambdaContext:
    """The context attributes Powertools reads."""

    function_name: str = "drs-event"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:drs-event"
    aws_request_id: str = "3f0c1b7e-0000-4000-8000-000000000000"


class FakeDynamoDB:
    """The waiter items of the state table; answers the Query and DeleteItem the handler makes."""

    def __init__(self, waiters: dict[str, dict[str, str]]) -> None:
        self.waiters = copy.deepcopy(waiters)
        self.calls: list[str] = []

    def query(self, **params: Any) -> dict[str, Any]:
        self.calls.append("Query")
        pk = params["ExpressionAttributeValues"][":pk"]["S"]
        found = self.waiters.get(pk.removeprefix("WAIT#"), {}) if pk.startswith("WAIT#") else {}
        items = [
            {"pk": {"S": pk}, "sk": {"S": execution}, "taskToken": {"S": token}, "kind": {"S": "wave"}}
            for execution, token in found.items()
        ]
        return {"Items": items}

    def delete_item(self, **params: Any) -> dict[str, Any]:
        self.calls.append("DeleteItem")
        key = params["Key"]
        self.waiters.get(key["pk"]["S"].removeprefix("WAIT#"), {}).pop(key["sk"]["S"], None)
        return {}


class FakeStepFunctions:
    """Records SendTaskSuccess; tokens in `finished` answer like a wait that is already over."""

    def __init__(self, finished: set[str], finished_code: str) -> None:
        self.finished = finished
        self.finished_code = finished_code
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        if taskToken in self.finished:
            error = {"Error": {"Code": self.finished_code, "Message": "wait is over"}}
            raise ClientError(error, "SendTaskSuccess")  # type: ignore[arg-type]
        self.resumed.append((taskToken, json.loads(output)))
        return {}


@dataclass
class Delivery:
    result: dict[str, Any] | None
    error: InvalidInput | None
    dynamodb: FakeDynamoDB
    stepfunctions: FakeStepFunctions


@contextmanager
def fake_aws(dynamodb: FakeDynamoDB, stepfunctions: FakeStepFunctions) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATE_TABLE_NAME", "dr-orchestrator-state")
        patch.setitem(aws._clients, "dynamodb", dynamodb)
        patch.setitem(aws._clients, "stepfunctions", stepfunctions)
        yield


def deliver(
    event: Any,
    waiters: dict[str, dict[str, str]] = WAITERS,
    finished: set[str] | None = None,
    finished_code: str = "TaskTimedOut",
) -> Delivery:
    """Invoke the DRS event handler as EventBridge would; any exception but InvalidInput fails the test."""
    dynamodb, stepfunctions = FakeDynamoDB(waiters), FakeStepFunctions(finished or set(), finished_code)
    with fake_aws(dynamodb, stepfunctions):
        try:
            result = waits.event_handler(event, LambdaContext())
        except InvalidInput as error:
            return Delivery(None, error, dynamodb, stepfunctions)
    return Delivery(result, None, dynamodb, stepfunctions)


regions = st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"])
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))


@st.composite
def launch_results(draw: st.DrawFn) -> dict[str, Any]:
    """'DRS Source Server Launch Result' as the DRS emulator (after the DRS user guide) emits it."""
    region = draw(regions)
    server = arn(region, f"source-server/{draw(st.sampled_from(SERVER_IDS))}")
    job_id = draw(st.from_regex(r"drsjob-[0-9a-f]{17}", fullmatch=True))
    return drs_events.launch_result(
        region, draw(moments), server, job_id, draw(st.booleans()), draw(st.booleans())
    )


@st.composite
def failback_changes(draw: st.DrawFn) -> dict[str, Any]:
    """'DRS Recovery Instance Failback State Change' as the DRS emulator emits it."""
    region = draw(regions)
    instance = arn(region, f"recovery-instance/{draw(st.sampled_from(RECOVERY_INSTANCE_IDS))}")
    state = draw(st.sampled_from(sorted(drs_events.FAILBACK_EVENT_STATES)))
    event = drs_events.failback_state(region, draw(moments), instance, state)
    assert event is not None
    return event


drs_wait_events = launch_results() | failback_changes()


def wrong_type_for(field: str) -> st.SearchStrategy[Any]:
    """JSON values of a type the envelope field does not have."""
    if field == "resources":
        return json_values.filter(lambda v: not isinstance(v, list)) | st.lists(
            json_values.filter(lambda v: not isinstance(v, str)), min_size=1, max_size=3
        )
    if field == "detail":
        return json_values.filter(lambda v: not isinstance(v, dict))
    return json_values.filter(lambda v: not isinstance(v, str))


@st.composite
def malformed_drs_events(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A DRS wait event with one envelope field of the wrong type, missing, or past its size limit."""
    event = draw(drs_wait_events)
    field = draw(st.sampled_from(ENVELOPE_FIELDS))
    how = draw(st.sampled_from(["type", "missing", "oversize"]))
    if how == "missing":
        del event[field]
    elif how == "oversize" and field == "resources":
        event[field] = event[field] * draw(st.integers(201, 260))
    elif how == "oversize" and field == "detail-type":
        event[field] += " " + "x" * draw(st.integers(128, 400))
    else:
        event[field] = draw(wrong_type_for(field))
    return event, field


def assert_untouched(delivery: Delivery) -> None:
    """Nothing was resumed, read or deleted."""
    assert delivery.stepfunctions.resumed == []
    assert delivery.dynamodb.calls == []
    assert delivery.dynamodb.waiters == WAITERS


@PROPERTY
@given(drs_wait_events)
def test_drs_wait_events_resume_exactly_the_waits_on_their_resource(event: dict[str, Any]) -> None:
    """A valid launch result / failback state change resumes every wait registered on its resource (and only
    those), passes the event on as the task output, and consumes the waits: a duplicate resumes nothing."""
    resource = event["resources"][0].rsplit("/", 1)[-1]
    first = deliver(event)
    assert first.error is None
    assert first.result == {"resumed": len(WAITERS[resource])}
    assert sorted(token for token, _ in first.stepfunctions.resumed) == sorted(WAITERS[resource].values())
    expected = {"resumed_by": event["detail-type"], "resource": resource, "detail": event["detail"]}
    assert all(output == expected for _, output in first.stepfunctions.resumed)
    assert first.dynamodb.waiters == {**WAITERS, resource: {}}

    duplicate = deliver(event, first.dynamodb.waiters)
    assert duplicate.result == {"resumed": 0}
    assert duplicate.stepfunctions.resumed == []


@PROPERTY
@given(drs_wait_events, st.sampled_from(executions.FINISHED_TOKEN_ERRORS))
def test_a_late_event_for_a_finished_wait_is_consumed_quietly(event: dict[str, Any], code: str) -> None:
    """When Step Functions says the wait is already over (timed out, gone), the event resumes nothing, raises
    nothing, and the stale waiter is removed."""
    resource = event["resources"][0].rsplit("/", 1)[-1]
    delivery = deliver(event, finished=set(WAITERS[resource].values()), finished_code=code)
    assert delivery.error is None
    assert delivery.result == {"resumed": 0}
    assert delivery.dynamodb.waiters[resource] == {}


@PROPERTY
@given(malformed_drs_events())
def test_a_malformed_drs_event_is_refused_naming_the_field(case: tuple[dict[str, Any], str]) -> None:
    """An envelope field of the wrong type, missing or oversize (resources > 200, detail-type > 128) is
    refused with InvalidInput naming the field ("DRS event: field: ...", or the missing field in the message),
    before any state is read and without resuming a wait."""
    event, field = case
    delivery = deliver(event)
    assert delivery.error is not None
    message = str(delivery.error)
    assert message.startswith(f"DRS event: {field}") or f"field `{field}`" in message, message
    assert_untouched(delivery)


@PROPERTY
@given(
    drs_wait_events,
    st.sampled_from(["aws.ec2", "aws.drs.evil", "AWS.DRS", "aws.drs\n", " aws.drs", "aws-drs"])
    | injection_texts
    | st.text(max_size=30),
)
def test_an_event_from_another_source_is_refused(event: dict[str, Any], source: str) -> None:
    """Only source aws.drs is accepted (exactly: no case, whitespace or suffix variants); anything else is
    refused naming 'source' and resumes nothing."""
    assume(source != "aws.drs")
    delivery = deliver({**event, "source": source})
    assert delivery.error is not None
    assert str(delivery.error).startswith("DRS event: source: ")
    assert_untouched(delivery)


@PROPERTY
@given(json_values | st.lists(json_values, max_size=3) | st.text(max_size=30))
def test_an_event_that_is_not_an_object_is_refused(event: Any) -> None:
    """A payload that is not a JSON object is refused (the document itself is named); nothing is read."""
    assume(not isinstance(event, dict))
    delivery = deliver(event)
    assert delivery.error is not None
    assert str(delivery.error).startswith("DRS event: (document): ")
    assert_untouched(delivery)


@PROPERTY
@given(
    drs_wait_events,
    st.dictionaries(
        st.text(max_size=12).filter(lambda key: key not in ENVELOPE_FIELDS),
        json_values,
        min_size=1,
        max_size=4,
    ),
)
def test_envelope_fields_the_handler_does_not_read_change_nothing(
    event: dict[str, Any], extra: dict[str, Any]
) -> None:
    """DrsEvent deliberately ignores envelope fields it does not read (EventBridge adds version, id, account,
    time, region, and may add more): extra fields never change which waits resume, or with what."""
    plain, noisy = deliver(event), deliver({**event, **extra})
    assert noisy.error is None
    assert noisy.result == plain.result
    assert noisy.stepfunctions.resumed == plain.stepfunctions.resumed


@st.composite
def foreign_resources(draw: st.DrawFn) -> str:
    """A resource string whose last path segment is no awaited id: injection-like, very long, or another
    service's ARN."""
    known = draw(st.sampled_from(sorted(WAITERS)))
    resource = draw(
        st.sampled_from(
            [
                f"arn:aws:drs:us-east-1:{ACCOUNT_ID}:source-server/{known}{draw(injection_texts)}",
                f"arn:aws:drs:us-east-1:{ACCOUNT_ID}:source-server/{draw(injection_texts)}",
                f"arn:aws:drs:us-east-1:{ACCOUNT_ID}:source-server/{known}/../{known}x",
                f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance:{known}",
                known.upper(),
                "",
                "x" * 100_000,
            ]
        )
    )
    assume(resource.rsplit("/", 1)[-1] not in WAITERS)
    return resource


@PROPERTY
@given(drs_wait_events, st.lists(foreign_resources(), min_size=1, max_size=4))
def test_resources_naming_no_awaited_resource_resume_nothing(
    event: dict[str, Any], resources: list[str]
) -> None:
    """Resources that do not end in an awaited id (injection-like text, CRLF, NUL, 100 kB strings, other ARNs)
    resume no wait and delete no waiter; an over-long one is refused naming resources."""
    delivery = deliver({**event, "resources": resources})
    if delivery.error is not None:
        assert str(delivery.error).startswith("DRS event: resources."), delivery.error
        assert any(len(r) > 256 for r in resources)
    else:
        assert delivery.result == {"resumed": 0}
    assert delivery.stepfunctions.resumed == []
    assert delivery.dynamodb.waiters == WAITERS


@PROPERTY
@given(drs_wait_events, st.sampled_from(OTHER_DRS_EVENT_TYPES) | injection_texts | st.text(max_size=60))
def test_the_drs_rule_forwards_only_the_two_wait_events(
    rules: Rules, event: dict[str, Any], detail_type: str
) -> None:
    """The deployed DRS rule matches launch results and failback state changes from aws.drs, and nothing else:
    other DRS event types, or the same types from another source, never reach the handler."""
    assume(detail_type not in WAIT_EVENT_TYPES)
    assert matches(rules.drs_pattern, event)
    assert not matches(rules.drs_pattern, {**event, "detail-type": detail_type})
    assert not matches(rules.drs_pattern, {**event, "source": "aws.ec2"})


@PROPERTY
@given(launch_results(), st.sampled_from(OTHER_DRS_EVENT_TYPES) | injection_texts)
def test_a_drs_event_of_another_type_resumes_no_wait(event: dict[str, Any], detail_type: str) -> None:
    """The handler itself ignores or refuses DRS events other than the two it serves (defence in depth: a
    rule edited by hand, a test event sent with PutEvents)."""
    delivery = deliver({**event, "detail-type": detail_type})
    assert delivery.stepfunctions.resumed == []


# --- the alarm-triggered start ------------------------------------------------------------------------------

OUTAGE_ALARM = "dr-DrOrchestrator-shop-azure-outage"


def alarm_event(name: Any = OUTAGE_ALARM, event_id: Any = None, **detail: Any) -> dict[str, Any]:
    """events/alarm-state-change-alarm.json with another alarm name, event id or detail fields."""
    event = copy.deepcopy(ALARM_EVENT)
    event["detail"]["alarmName"] = name
    event["detail"].update(detail)
    if event_id is not None:
        event["id"] = event_id
    return event


def start_document(rules: Rules, event: dict[str, Any]) -> Any:
    """The execution input EventBridge hands to the recovery state machine for this event."""
    return json.loads(transform(rules.alarm_template, rules.alarm_paths, event))


def plan_alarm_name(text: str) -> str:
    """The name as a plan would hold it in triggers.alarm_names (or skip texts a plan refuses)."""
    try:
        return PlanTriggers(alarm_names=[text]).alarm_names[0]
    except ValidationError:
        reject()


def test_the_sample_events_match_the_outage_rule_only_on_alarm(rules: Rules) -> None:
    """events/alarm-state-change-alarm.json starts recovery of plan shop; the OK transition starts nothing."""
    assert SAMPLE.outage_alarm_names("DrOrchestrator") == [OUTAGE_ALARM]
    assert matches(rules.alarm_pattern, ALARM_EVENT)
    assert not matches(rules.alarm_pattern, OK_EVENT)
    request = parse_start_request(start_document(rules, ALARM_EVENT))
    assert (request.plan, request.trigger, request.alarm_name) == ("shop", "alarm", OUTAGE_ALARM)
    assert request.event_id == ALARM_EVENT["id"]


@PROPERTY
@given(
    st.uuids().map(str),
    st.text(max_size=300) | injection_texts,
    st.sampled_from(["OK", "INSUFFICIENT_DATA"]),
)
def test_an_outage_alarm_starts_a_valid_recovery_document(
    rules: Rules, event_id: str, reason: str, previous: str
) -> None:
    """Every transition of the plan's outage alarm into ALARM matches the rule and becomes a start document
    that validates as an alarm start; the (untrusted) state reason text never reaches the document."""
    state = {"value": "ALARM", "reason": reason, "timestamp": "2026-11-25T03:12:44.000+0000"}
    event = alarm_event(event_id=event_id, state=state, previousState={"value": previous})
    assert matches(rules.alarm_pattern, event)
    document = start_document(rules, event)
    request = parse_start_request(document)
    assert (request.plan, request.trigger, request.alarm_name, request.event_id) == (
        "shop",
        "alarm",
        OUTAGE_ALARM,
        event_id,
    )
    assert request.reason == "Azure outage alarm"
    assert set(document) == {"plan", "trigger", "alarm_name", "event_id", "reason"}


@PROPERTY
@given(st.from_regex(r"[A-Za-z0-9_ .:/#+=@-]{1,255}", fullmatch=True), st.uuids().map(str))
def test_every_alarm_name_a_plan_accepts_gives_a_valid_start_document(
    rules: Rules, text: str, event_id: str
) -> None:
    """triggers.alarm_names and the start document agree: any alarm name a plan accepts passes the rule's
    input transformer into a start document that validates, with the name unchanged (an outage alarm an
    operator configured is never refused at failover time)."""
    name = plan_alarm_name(text)
    request = parse_start_request(start_document(rules, alarm_event(name, event_id)))
    assert (request.trigger, request.alarm_name, request.event_id) == ("alarm", name, event_id)


@PROPERTY
@given(
    st.sampled_from(["state", "alarm", "source", "detail-type"]),
    st.sampled_from(["OK", "INSUFFICIENT_DATA", "alarm", "ALARM ", "Alarm"])
    | injection_texts
    | st.text(max_size=20),
)
def test_only_a_transition_into_alarm_of_a_plan_alarm_matches(rules: Rules, what: str, value: str) -> None:
    """OK / INSUFFICIENT_DATA transitions, other alarms, other sources and other detail types never match the
    outage rule: nothing is started."""
    event = alarm_event()
    if what == "state":
        assume(value != "ALARM")
        event["detail"]["state"]["value"] = value
    elif what == "alarm":
        assume(value != OUTAGE_ALARM)
        event["detail"]["alarmName"] = value
    elif what == "source":
        assume(value != "aws.cloudwatch")
        event["source"] = value
    else:
        assume(value != "CloudWatch Alarm State Change")
        event["detail-type"] = value
    assert not matches(rules.alarm_pattern, event)


@PROPERTY
@given(json_values | injection_texts, st.uuids().map(str) | json_values | injection_texts)
def test_alarm_fields_cannot_reshape_the_start_document(rules: Rules, name: Any, event_id: Any) -> None:
    """Whatever alarmName and id an event carries (quotes, injection-like text, numbers, objects, null), the
    transformed input is one JSON object with the template's keys and the plan, trigger and reason fixed; it
    is accepted only if both values are valid, else refused naming alarm_name and/or event_id only."""
    document = start_document(rules, alarm_event(name, event_id))
    assert set(document) == {"plan", "trigger", "alarm_name", "event_id", "reason"}
    assert (document["plan"], document["trigger"], document["reason"]) == (
        "shop",
        "alarm",
        "Azure outage alarm",
    )
    try:
        request = parse_start_request(document)
    except InvalidInput as error:
        named = fields_named(str(error))
        assert named and named <= {"alarm_name", "event_id"}, str(error)
    else:
        assert isinstance(name, str) and isinstance(event_id, str)
        assert re.fullmatch(r"[A-Za-z0-9_ .:/#+=@-]{0,255}", request.alarm_name)
        assert re.fullmatch(r"[A-Za-z0-9_-]{0,128}", request.event_id)


@PROPERTY
@given(st.sampled_from(WORKFLOWS), st.sampled_from(["alarm", "schedule"]), st.uuids().map(str))
def test_a_trigger_starts_only_its_own_workflow(workflow: str, trigger: str, event_id: str) -> None:
    """An alarm starts only recovery and a schedule only a drill: any other pairing is refused naming
    'trigger', before the trigger event is recorded (no state is written)."""
    assume((trigger, workflow) not in {("alarm", "recovery"), ("schedule", "drill")})
    request = parse_start_request({"plan": "shop", "trigger": trigger, "event_id": event_id})
    store = InMemoryStateStore()
    with pytest.raises(InvalidInput, match=r"^trigger: "):
        runs.check_trigger(store, NOW, request, SAMPLE, workflow, "arn:aws:states:us-east-1:1:execution:x:y")
    assert store.events == {} and store.plans == {}


# --- the scheduled drill ------------------------------------------------------------------------------------

# What each start-document field must refuse. Free text (reason) allows quotes and braces by design, and
# refuses markup and control characters; the identifier-like fields refuse all of INJECTIONS.
MAX_LENGTH = {"plan": 40, "reason": 500, "requested_by": 128, "alarm_name": 255, "event_id": 128}
TEXT_FIELDS = ("plan", "reason", "requested_by", "trigger", "alarm_name", "event_id")


def test_the_drill_schedule_input_is_a_valid_drill_start(rules: Rules) -> None:
    """The schedule's input validates as a scheduled start of the sample plan and may start a drill."""
    request = parse_start_request(rules.drill_input)
    assert (request.plan, request.trigger, request.snapshot) == ("shop", "schedule", "latest")
    runs.check_trigger(
        InMemoryStateStore(), NOW, request, SAMPLE, "drill", "arn:aws:states:us-east-1:1:execution:x:y"
    )


@PROPERTY
@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True))
def test_the_drill_schedule_input_of_any_plan_name_is_valid(rules: Rules, name: str) -> None:
    """Any plan name a plan accepts gives a schedule input that validates."""
    request = parse_start_request({**rules.drill_input, "plan": name})
    assert (request.plan, request.trigger) == (name, "schedule")


@PROPERTY
@given(st.sampled_from(START_FIELDS), st.data())
def test_a_schedule_input_field_of_the_wrong_type_is_refused_naming_it(
    rules: Rules, field: str, data: st.DataObject
) -> None:
    """A start-document field of the wrong JSON type is refused, naming that field only. (Numbers for
    snapshot are left out: numbers are refused by a test of their own.)"""
    if field == "snapshot":
        wrong = data.draw(
            json_values.filter(lambda v: not isinstance(v, str | int | float) or isinstance(v, bool))
        )
    else:
        wrong = data.draw(json_values.filter(lambda v: not isinstance(v, str)))
    with pytest.raises(InvalidInput) as error:
        parse_start_request({**rules.drill_input, field: wrong})
    assert fields_named(str(error.value)) == {field}


@PROPERTY
@given(st.text(min_size=1, max_size=20) | injection_texts, json_values)
def test_an_unknown_schedule_input_field_is_refused_naming_it(rules: Rules, key: str, value: Any) -> None:
    """A field the start document does not have is refused as not permitted, naming the field."""
    assume(key not in START_FIELDS)
    with pytest.raises(InvalidInput) as error:
        parse_start_request({**rules.drill_input, key: value})
    assert f"(document): Object contains unknown field `{key}`" in str(error.value)


@PROPERTY
@given(st.sampled_from(TEXT_FIELDS), injection_texts, st.data())
def test_injection_like_text_in_a_schedule_input_field_is_refused_naming_it(
    rules: Rules, field: str, payload: str, data: st.DataObject
) -> None:
    """Injection-like text put inside a valid value of a field (identifiers: any of them; free text: markup
    and control characters) is refused naming that field."""
    if field == "reason":
        assume(MARKUP_OR_CONTROL.search(payload))
    valid = str(
        {**rules.drill_input, "alarm_name": "dr-DrOrchestrator-shop-azure-outage", "event_id": "e-1"}.get(
            field, "ok"
        )
    )
    cut = data.draw(st.integers(0, len(valid)))
    with pytest.raises(InvalidInput) as error:
        parse_start_request({**rules.drill_input, field: valid[:cut] + payload + valid[cut:]})
    assert fields_named(str(error.value)) == {field}


@PROPERTY
@given(st.sampled_from(sorted(MAX_LENGTH)), st.integers(1, 5000))
def test_an_overlong_schedule_input_field_is_refused_naming_it(rules: Rules, field: str, extra: int) -> None:
    """A text field longer than its limit is refused naming the field, whatever characters it holds."""
    with pytest.raises(InvalidInput) as error:
        parse_start_request({**rules.drill_input, field: "a" * (MAX_LENGTH[field] + extra)})
    assert fields_named(str(error.value)) == {field}


@PROPERTY
@given(st.integers(0, 1_700_000_000) | st.floats(0, 1e9) | st.integers(0, 1_700_000_000).map(str))
def test_a_numeric_snapshot_is_refused(rules: Rules, value: int | float | str) -> None:
    """snapshot is 'latest' or an ISO-8601 time with a zone; a number is the wrong type and is refused."""
    with pytest.raises(InvalidInput) as error:
        parse_start_request({**rules.drill_input, "snapshot": value})
    assert fields_named(str(error.value)) == {"snapshot"}
