"""What starts the workflows: the Azure outage alarm(s) start recovery, a monthly schedule starts a drill.

Manual starts need no resource: an operator starts an execution in the console (or `drctl start`)
with an input document from events/.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dr_constructs.alarms import FailureAlarms
from lambdas.plan import Plan

# A failover start may still help an hour late (begin_run refuses a duplicate delivery by its event id), but
# after an hour of failed starts an operator must know: the event goes to the dead-letter queue and alarms.
RECOVERY_TRIGGER_MAX_AGE = Duration.hours(1)
RECOVERY_TRIGGER_RETRIES = 8
DRILL_SCHEDULE_MAX_AGE = Duration.hours(1)
DRILL_SCHEDULE_RETRIES = 3


def alarm_event_pattern(alarm_names: list[str]) -> events.EventPattern:
    """Only the transition INTO ALARM starts a failover; OK and INSUFFICIENT_DATA never do."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={"alarmName": alarm_names, "state": {"value": ["ALARM"]}},
    )


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        plans: list[Plan],
        state_machines: dict[str, sfn.StateMachine],
        alarms: FailureAlarms,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self).stack_name
        recovery_dlq = (
            alarms.dead_letter_queue("recovery-trigger", "Outage alarm -> recovery")
            if any(plan.outage_alarm_names(stack) for plan in plans)
            else None
        )
        drill_dlq = (
            alarms.dead_letter_queue("drill-schedule", "Monthly drill schedule")
            if any(plan.triggers.drill_schedule for plan in plans)
            else None
        )
        for plan in plans:
            if plan.outage_alarm_names(stack):
                rule = events.Rule(
                    self,
                    f"{plan.name}-outage-alarm",
                    description=f"Azure outage alarm of plan {plan.name} -> recovery",
                    event_pattern=alarm_event_pattern(plan.outage_alarm_names(stack)),
                )
                rule.add_target(
                    targets.SfnStateMachine(
                        state_machines["recovery"],
                        input=events.RuleTargetInput.from_object(
                            {
                                "plan": plan.name,
                                "trigger": "alarm",
                                "alarm_name": events.EventField.from_path("$.detail.alarmName"),
                                "event_id": events.EventField.event_id,
                                "reason": "Azure outage alarm",
                            }
                        ),
                        dead_letter_queue=recovery_dlq,
                        max_event_age=RECOVERY_TRIGGER_MAX_AGE,
                        retry_attempts=RECOVERY_TRIGGER_RETRIES,
                    )
                )
                alarms.rule_failures(
                    f"{plan.name}-recovery-trigger", rule, f"Outage alarm of plan {plan.name} -> recovery"
                )
            if plan.triggers.drill_schedule:
                role = iam.Role(
                    self,
                    f"{plan.name}-drill-schedule-role",
                    assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                    description=f"Starts the monthly drill of plan {plan.name}",
                )
                state_machines["drill"].grant_start_execution(role)
                assert drill_dlq is not None
                # Scheduler sends undeliverable invocations to the dead-letter queue with the schedule's role.
                drill_dlq.grant_send_messages(role)
                scheduler.CfnSchedule(
                    self,
                    f"{plan.name}-drill-schedule",
                    description=f"Monthly drill of plan {plan.name}",
                    schedule_expression=plan.triggers.drill_schedule,
                    schedule_expression_timezone="UTC",
                    flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                    target=scheduler.CfnSchedule.TargetProperty(
                        arn=state_machines["drill"].state_machine_arn,
                        role_arn=role.role_arn,
                        input=json.dumps(
                            {"plan": plan.name, "trigger": "schedule", "reason": "monthly drill"}
                        ),
                        retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                            maximum_event_age_in_seconds=int(DRILL_SCHEDULE_MAX_AGE.to_seconds()),
                            maximum_retry_attempts=DRILL_SCHEDULE_RETRIES,
                        ),
                        dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                            arn=drill_dlq.queue_arn
                        ),
                    ),
                )
