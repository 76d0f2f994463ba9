"""Replication health every five minutes, and the dashboard: replication lag, last drill result, RTO/RPO
trends per plan."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from dr_constructs.alarms import FailureAlarms
from lambdas.plan import Plan

NAMESPACE = "DrOrchestrator"
SERVICE = "dr-orchestrator"


def metric(
    name: str, plan: str, statistic: str, workflow: str | None = None, days: int = 0
) -> cloudwatch.Metric:
    dimensions = {"service": SERVICE, "plan": plan, **({"workflow": workflow} if workflow else {})}
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=Duration.days(1) if days else Duration.minutes(5),
        label=f"{plan} {workflow or ''}".strip(),
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        plans: list[Plan],
        monitor: lambda_.IFunction,
        alarms: FailureAlarms,
    ) -> None:
        super().__init__(scope, construct_id)
        # The next run comes five minutes later: an older invocation is not worth retrying.
        rule = events.Rule(
            self,
            "ReplicationMonitorSchedule",
            description="Replication health of every DR plan; sweep of drill instances left behind",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[
                targets.LambdaFunction(
                    monitor,
                    dead_letter_queue=alarms.dead_letter_queue(
                        "replication-monitor", "Replication monitor schedule"
                    ),
                    max_event_age=Duration.minutes(5),
                    retry_attempts=2,
                )
            ],
        )
        alarms.rule_failures("replication-monitor", rule, "Replication monitor schedule")
        alarms.function_errors(
            "replication-monitor", monitor, "The replication monitor (replication health, drill sweep)"
        )
        names = [p.name for p in plans]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(90))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Replication lag (max per plan, seconds)",
                left=[metric("MaxReplicationLagSeconds", n, "Maximum") for n in names],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Servers not replicating CONTINUOUS",
                left=[metric("ServersNotContinuous", n, "Maximum") for n in names],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.SingleValueWidget(
                title="Last drill result (1 = succeeded)",
                metrics=[metric("RunSucceeded", n, "Minimum", "drill", days=1) for n in names],
                width=8,
            ),
            _achieved("RTO", "RtoSeconds", names),
            _achieved("RPO", "RpoSeconds", names),
        )


def _achieved(objective: str, metric_name: str, plans: list[str]) -> cloudwatch.GraphWidget:
    """Trend of an achieved objective per plan, for drills and recoveries."""
    return cloudwatch.GraphWidget(
        title=f"Achieved {objective} (seconds)",
        left=[metric(metric_name, n, "Maximum", w, days=1) for n in plans for w in ("drill", "recovery")],
        width=8,
    )
