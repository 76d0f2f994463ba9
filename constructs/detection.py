"""The outage signal, built from the plan: a Route 53 health check per Azure endpoint, an alarm per check,
and one composite alarm per plan that goes to ALARM only when a quorum of endpoints fails (optionally
together with DRS replication of the plan being unhealthy). The recovery trigger listens to it.

Route 53 publishes health-check metrics in us-east-1 only, so a stack with detection must be deployed there:
the alarms, their state-change events and the recovery rule are regional, and moving only the alarms to
us-east-1 would also need the events forwarded back. With an explicit region other than us-east-1 synth
stops with DetectionRegionError; an environment-agnostic stack carries a CloudFormation rule that refuses
to create or update the stack in another region, before any resource changes.
"""

from __future__ import annotations

from itertools import combinations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Duration, Fn, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_route53 as route53
from constructs import Construct

from dr_constructs.alarms import FailureAlarms
from dr_constructs.monitoring import metric
from lambdas.plan import Endpoint, Plan, composite_alarm_name

HEALTH_CHECK_TYPES = {"HTTPS": "HTTPS", "HTTP": "HTTP", "TCP": "TCP"}
# Route 53 health-check metrics exist in this region only (Route 53 developer guide, "Monitoring health
# checks using CloudWatch").
METRICS_REGION = "us-east-1"


class DetectionRegionError(Exception):
    """The stack's explicit region cannot see Route 53 health-check metrics."""


def region_message(plans: list[str], region: str) -> str:
    return (
        f"plans {', '.join(plans)} have a detection section, whose Route 53 health-check metrics exist "
        f"in {METRICS_REGION} only: deploy the stack in {METRICS_REGION} (not {region}), or remove the "
        "detection sections and start recovery from your own alarms (triggers.alarm_names)"
    )


def health_check_config(
    endpoint: Endpoint, interval: int, threshold: int
) -> route53.CfnHealthCheck.HealthCheckConfigProperty:
    kind = HEALTH_CHECK_TYPES[endpoint.protocol] + ("_STR_MATCH" if endpoint.search_string else "")
    return route53.CfnHealthCheck.HealthCheckConfigProperty(
        type=kind,
        fully_qualified_domain_name=endpoint.fqdn,
        ip_address=endpoint.ip_address,
        port=endpoint.port,
        resource_path=endpoint.path,
        search_string=endpoint.search_string,
        request_interval=interval,
        failure_threshold=threshold,
        enable_sni=endpoint.protocol == "HTTPS" or None,
    )


def quorum_rule(alarms: list[cloudwatch.IAlarm], quorum: int) -> cloudwatch.IAlarmRule:
    """ALARM when at least `quorum` of the alarms are in ALARM: the OR of every quorum-sized AND."""
    return cloudwatch.AlarmRule.any_of(
        *[
            cloudwatch.AlarmRule.all_of(
                *[cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in group]
            )
            for group in combinations(alarms, quorum)
        ]
    )


class OutageDetection(Construct):
    def __init__(self, scope: Construct, construct_id: str, plans: list[Plan], alarms: FailureAlarms) -> None:
        super().__init__(scope, construct_id)
        self._alarms = alarms
        self._require_metrics_region([p.name for p in plans if p.detection is not None])
        self.composite_alarms: dict[str, cloudwatch.CompositeAlarm] = {}
        for plan in plans:
            if plan.detection is not None:
                self.composite_alarms[plan.name] = self._plan_signal(plan)

    def _require_metrics_region(self, plans: list[str]) -> None:
        if not plans:
            return
        region = Stack.of(self).region
        if not Token.is_unresolved(region):
            if region != METRICS_REGION:
                raise DetectionRegionError(region_message(plans, region))
            return
        CfnRule(
            self,
            "MetricsRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Aws.REGION, METRICS_REGION),
                    assert_description=region_message(plans, "this region"),
                )
            ],
        )

    def _plan_signal(self, plan: Plan) -> cloudwatch.CompositeAlarm:
        detection = plan.detection
        assert detection is not None
        endpoint_alarms: list[cloudwatch.IAlarm] = []
        for endpoint in detection.endpoints:
            check = route53.CfnHealthCheck(
                self,
                f"{plan.name}-{endpoint.name}-check",
                health_check_config=health_check_config(
                    endpoint, detection.request_interval_seconds, detection.failure_threshold
                ),
                health_check_tags=[
                    route53.CfnHealthCheck.HealthCheckTagProperty(
                        key="Name", value=f"dr-{plan.name}-{endpoint.name}"
                    )
                ],
            )
            endpoint_alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{plan.name}-{endpoint.name}-down",
                    alarm_description=f"Azure endpoint {endpoint.name} of plan {plan.name} failing",
                    metric=cloudwatch.Metric(
                        namespace="AWS/Route53",
                        metric_name="HealthCheckStatus",
                        dimensions_map={"HealthCheckId": check.attr_health_check_id},
                        statistic="Minimum",
                        period=Duration.minutes(1),
                    ),
                    threshold=1,
                    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=detection.alarm_periods,
                    datapoints_to_alarm=detection.datapoints_to_alarm,
                    # No data says nothing about Azure: it must never fail production over.
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        rule = quorum_rule(endpoint_alarms, detection.effective_quorum)
        if detection.require_replication_signal:
            replication = cloudwatch.Alarm(
                self,
                f"{plan.name}-replication-down",
                alarm_description=f"DRS replication of plan {plan.name} not CONTINUOUS (source unreachable?)",
                metric=metric("ServersNotContinuous", plan.name, "Maximum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self._alarms.notify(replication)
            rule = cloudwatch.AlarmRule.all_of(
                rule, cloudwatch.AlarmRule.from_alarm(replication, cloudwatch.AlarmState.ALARM)
            )
        for alarm in endpoint_alarms:
            self._alarms.notify(alarm)  # an endpoint down is worth knowing before the quorum fails
        outage = cloudwatch.CompositeAlarm(
            self,
            f"{plan.name}-outage",
            composite_alarm_name=composite_alarm_name(Stack.of(self).stack_name, plan.name),
            alarm_description=(
                f"Azure outage for plan {plan.name}: {detection.effective_quorum} of "
                f"{len(detection.endpoints)} endpoints failing "
                f"(detection within about {detection.detection_minutes():g} minutes)"
            ),
            alarm_rule=rule,
        )
        self._alarms.notify(outage)
        return outage
