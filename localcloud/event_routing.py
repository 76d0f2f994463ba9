"""Event routing as EventBridge and Scheduler do it: matched events and schedule ticks reach their state
machine or function targets (moto's EventBridge delivers to SQS and logs only), with the target's input,
only as the deployed permissions allow, and what cannot be delivered goes to the target's dead-letter queue.
DRS's events enter EventBridge here too."""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Literal

from botocore.exceptions import ClientError
from moto.events.models import Rule

from localcloud.iam import allows
from localcloud.input_transformer import transform
from localcloud.schedules import Firing, scheduled_event, scheduler_input
from localcloud.template import ACCOUNT_ID, Template

_log = logging.getLogger(__name__)


def start_execution(
    client: Callable[[str], Any], state_machine_arn: str, body: str, name: str | None = None
) -> str:
    # Step Functions names an execution when the caller does not; moto leaves it unset, so name it here.
    arn: str = client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, input=body, name=name or str(uuid.uuid4())
    )["executionArn"]
    return arn


def event_entry(event: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry that sends an event document (as in events/*.json)."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event.get("resources", []),
    }


class EventRouting:
    """install() patches moto's EventBridge delivery; fire() delivers one schedule tick. role_policies are
    the deployed roles' policies (role name -> policy documents) that permit a target, or not."""

    def __init__(self, template: Template, client: Callable[[str], Any]) -> None:
        self.template = template
        self.client = client
        self.role_policies: dict[str, list[dict[str, Any]]] = {}
        # Deliveries EventBridge or Scheduler would count as FailedInvocations (e.g. a target not permitted).
        self.failed_invocations: list[dict[str, str]] = []
        self.drs_events: Literal["deliver", "drop", "duplicate"] = "deliver"
        self.drs_events_seen: list[dict[str, Any]] = []
        self._original_send: Any = None

    def install(self) -> None:
        """Deliver matched events to state machines (and Lambda functions) the way the real service does;
        other targets stay moto's."""
        if self._original_send is not None:
            return
        original = Rule.send_to_targets
        self._original_send = original
        routing = self

        def send_to_targets(rule: Rule, event: Any, transform_input: bool = True) -> None:
            # A scheduled rule has no pattern and matches no event.
            if rule.scheduled_expression or not rule.event_pattern.matches_event(event):
                return
            ours = [t for t in rule.targets if ":states:" in t["Arn"] or ":lambda:" in t["Arn"]]
            for target in ours:
                threading.Thread(
                    target=routing.deliver, args=(rule.arn, target, copy.deepcopy(event)), daemon=True
                ).start()
            rest = [t for t in rule.targets if t not in ours]
            if rest:
                clone = copy.copy(rule)
                clone.targets = rest
                original(clone, event, transform_input)

        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original_send is not None:
            Rule.send_to_targets = self._original_send  # type: ignore[method-assign]
            self._original_send = None

    def fire(self, firing: Firing) -> None:
        """One tick of a scheduled rule or schedule, delivered as the real service delivers it."""
        if firing.kind == "rule":
            events = self.client("events")
            rule = events.describe_rule(Name=firing.name)
            if rule.get("State") != "ENABLED":
                return
            event = scheduled_event(rule["Arn"], firing, ACCOUNT_ID, self.template.region)
            for target in events.list_targets_by_rule(Rule=firing.name)["Targets"]:
                threading.Thread(
                    target=self.deliver, args=(rule["Arn"], target, copy.deepcopy(event)), daemon=True
                ).start()
            return
        schedule = self.client("scheduler").get_schedule(Name=firing.name)
        if schedule.get("State") != "ENABLED":
            return
        target = schedule["Target"]
        body = scheduler_input(target.get("Input", "{}"), schedule["Arn"], firing)
        threading.Thread(
            target=self.invoke_target,
            args=("scheduler", schedule["Arn"], target, body),
            daemon=True,
        ).start()

    def deliver(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        """An EventBridge rule's delivery of the event to one target, with the target's input."""
        if "Input" in target:
            body = str(target["Input"])
        elif "InputTransformer" in target:
            transformer = target["InputTransformer"]
            body = transform(transformer["InputTemplate"], transformer.get("InputPathsMap", {}), event)
        else:
            body = json.dumps(event)
        try:
            refusal = self.invoke_target("events", rule_arn, target, body)
            if refusal:
                self._dead_letter(rule_arn, target, event, "AccessDeniedException", refusal)
        except ClientError as exc:
            error = exc.response["Error"]
            self._dead_letter(rule_arn, target, event, error["Code"], error.get("Message", ""))

    def _dead_letter(
        self, rule_arn: str, target: dict[str, Any], event: dict[str, Any], code: str, message: str
    ) -> None:
        """EventBridge sends an event it cannot deliver to the target's dead-letter queue, with these
        attributes (EventBridge user guide, "Event retry policy and using dead-letter queues"). It first
        retries retriable errors within the target's retry policy; here every failure is final at once."""
        queue_arn = target.get("DeadLetterConfig", {}).get("Arn")
        if not queue_arn:
            _log.warning("event to %s dropped: %s %s", target["Arn"], code, message)
            return
        sqs = self.client("sqs")
        attributes = {
            "RULE_ARN": rule_arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:256] or "-",
        }
        sqs.send_message(
            QueueUrl=sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"],
            MessageBody=json.dumps(event),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    def invoke_target(self, service: str, source_arn: str, target: dict[str, Any], body: str) -> str | None:
        """Start the target state machine or invoke the target function, if the deployed permissions let
        EventBridge (service "events") or Scheduler ("scheduler") do so; returns the refusal, if any."""
        refusal = self.target_refusal(service, source_arn, target)
        if refusal:
            _log.warning("%s target not invoked: %s", service, refusal)
            self.failed_invocations.append({"source": source_arn, "target": target["Arn"], "reason": refusal})
            return refusal
        if ":states:" in target["Arn"]:
            start_execution(self.client, target["Arn"], body)
        else:
            self.client("lambda").invoke(FunctionName=target["Arn"], Payload=body.encode())
        return None

    def target_refusal(self, service: str, source_arn: str, target: dict[str, Any]) -> str | None:
        """Why the service may not invoke the target, or None. EventBridge invokes a Lambda function under
        the function's resource policy (AWS::Lambda::Permission for events.amazonaws.com); a state machine,
        and every Scheduler target, through the target's role (RoleArn)."""
        arn = str(target["Arn"])
        if service == "events" and ":lambda:" in arn:
            if self._lambda_permits(arn, "events.amazonaws.com", source_arn):
                return None
            return f"no resource-based policy of {arn} lets events.amazonaws.com invoke it from {source_arn}"
        action = "states:StartExecution" if ":states:" in arn else "lambda:InvokeFunction"
        role = str(target.get("RoleArn", ""))
        if not role:
            return f"the target {arn} of {source_arn} has no RoleArn"
        if not allows(self.role_policies.get(role.split("/")[-1], []), action, arn):
            return f"role {role} is not allowed {action} on {arn}"
        return None

    def _lambda_permits(self, function_arn: str, principal: str, source_arn: str) -> bool:
        t = self.template
        for resource in t.of_type("AWS::Lambda::Permission").values():
            props = t.resolve(resource["Properties"])
            if (
                props.get("Action") in ("lambda:InvokeFunction", "lambda:*")
                and props.get("Principal") == principal
                and props.get("FunctionName") in (function_arn, function_arn.split(":")[-1])
                and props.get("SourceArn", source_arn) == source_arn
            ):
                return True
        return False

    def put_drs_event(self, event: dict[str, Any]) -> None:
        """DRS events reach EventBridge at best once; tests can drop or duplicate them (drs_events)."""
        self.drs_events_seen.append(event)
        copies = {"deliver": 1, "drop": 0, "duplicate": 2}[self.drs_events]
        entry = event_entry(event)
        for _ in range(copies):
            self.client("events").put_events(Entries=[entry])
