"""Nothing fails silently: a dead-letter queue behind every EventBridge and Scheduler target, and alarms that
notify the stack's SNS topic when a trigger is lost, a workflow fails or times out, or an event handler errs.

Lambda errors are alarmed per function for the two functions EventBridge invokes (the DRS event handler and
the replication monitor): nothing else sees their failures. The workflow task functions raise errors on
purpose (the error name is what the state machine retries or catches: TransientError, Refused, ...), so an
Errors alarm on them would fire on every retried throttle; what matters of their failures ends the run, and
ExecutionsFailed / ExecutionsTimedOut per workflow announces it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = Duration.minutes(5)
# Dead letters are kept for SQS's longest retention: time to read them, fix the cause and redeliver.
DEAD_LETTER_RETENTION = Duration.days(14)


class FailureAlarms(Construct):
    """Creates the dead-letter queues and failure alarms; every alarm it makes notifies the topic."""

    def __init__(self, scope: Construct, construct_id: str, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self._action = cloudwatch_actions.SnsAction(topic)

    def notify(self, alarm: cloudwatch.AlarmBase) -> None:
        """Send the alarm's transitions to ALARM to the stack's topic."""
        alarm.add_alarm_action(self._action)

    def dead_letter_queue(self, name: str, what: str) -> sqs.Queue:
        """An SQS queue for the events `what` could not deliver, with an alarm on its depth.

        SQS-managed encryption: EventBridge and Scheduler write to it without a key-policy grant; the messages
        are the trigger events (plan, alarm and event ids), never a secret."""
        queue = sqs.Queue(
            self,
            f"{name}-dead-letters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        self._alarm(
            f"{name}-dead-letters-depth",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            f"{what}: an event could not be delivered and waits in this dead-letter queue. Read it "
            "(its attributes name the rule, target and error), fix the cause, then redeliver or act by hand",
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=0,
        )
        return queue

    def rule_failures(self, name: str, rule: events.IRule, what: str) -> None:
        """FailedInvocations of a rule: a target invocation that failed for good (EventBridge publishes the
        metric only when it is not zero)."""
        self._alarm(
            f"{name}-failed-invocations",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="FailedInvocations",
                dimensions_map={"RuleName": rule.rule_name},
                statistic="Sum",
                period=PERIOD,
            ),
            f"{what}: EventBridge failed to invoke the target; see the rule's dead-letter queue",
        )

    def workflow_failures(self, name: str, machine: sfn.StateMachine) -> None:
        self._alarm(
            f"{name}-executions-failed",
            machine.metric_failed(period=PERIOD, statistic="Sum"),
            f"A {name.replace('_', ' ')} execution failed (refused, or ended in error): drctl status, "
            "and the execution's error in the Step Functions console",
        )
        self._alarm(
            f"{name}-executions-timed-out",
            machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            f"A {name.replace('_', ' ')} execution timed out: check what it left running (drctl status)",
        )

    def function_errors(self, name: str, function: lambda_.IFunction, what: str) -> None:
        self._alarm(
            f"{name}-errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            f"{what} failed: see the function's log group",
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        description: str,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        threshold: float = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            # These metrics are absent while nothing fails: no data is good news.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.notify(alarm)
        return alarm
