"""DRS events (launch results, failback state changes) resume the workflows waiting on them."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dr_constructs.alarms import FailureAlarms
from lambdas.inputs import DRS_WAIT_EVENTS

WORKFLOWS_WAITING_ON_DRS = ("drill", "recovery", "failback")


class DrsEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        handler: lambda_.IFunction,
        state_machines: dict[str, sfn.StateMachine],
        alarms: FailureAlarms,
    ) -> None:
        super().__init__(scope, construct_id)
        rule = events.Rule(
            self,
            "DrsWaitEvents",
            description="DRS launch results and failback state changes -> resume waiting DR workflows",
            event_pattern=events.EventPattern(source=["aws.drs"], detail_type=list(DRS_WAIT_EVENTS)),
        )
        # An event is worth delivering while a workflow waits on it; the workflows poll DRS slowly as well.
        rule.add_target(
            targets.LambdaFunction(
                handler,
                dead_letter_queue=alarms.dead_letter_queue("drs-events", "DRS event -> waiting workflows"),
                max_event_age=Duration.hours(1),
                retry_attempts=4,
            )
        )
        alarms.rule_failures("drs-events", rule, "DRS event -> waiting workflows")
        alarms.function_errors(
            "drs-event-handler", handler, "The DRS event handler (resumes waiting workflows)"
        )
        # Only the workflows that wait on DRS events; never the approval gate, whose tokens are the
        # operator's to answer.
        for workflow in WORKFLOWS_WAITING_ON_DRS:
            state_machines[workflow].grant_task_response(handler)
