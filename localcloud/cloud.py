"""The embedded local cloud: moto (with real ASL execution) for AWS, the DRS emulator, the Azure
emulator, and the synthesized stack created in them, so the unchanged handlers and the deployed state
machine definitions run end to end on this machine.

LocalCloud puts together its parts and is what an operator (a test, the bench, `drctl local`) drives: the
process (localcloud/process.py), the deployed template (localcloud/deploy.py) and the routing of events and
schedule ticks (localcloud/event_routing.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from lambdas.plan import Plan
from localcloud import limits
from localcloud.azure import AzureEmulator
from localcloud.deploy import WORKFLOW_BY_LOGICAL_PREFIX, Deployment, stack_name
from localcloud.drs import DrsEmulator
from localcloud.event_routing import EventRouting, event_entry, start_execution
from localcloud.guests import Guests
from localcloud.iam import LocalIam, role_policies
from localcloud.lambda_bridge import LambdaBridge
from localcloud.process import REGION, Clients, LocalCloudSettings, LocalProcess
from localcloud.schedules import ScheduleClock
from localcloud.seed import seed_plans
from localcloud.template import ACCOUNT_ID, Template

__all__ = ["REGION", "WORKFLOW_BY_LOGICAL_PREFIX", "LocalCloud", "LocalCloudSettings"]


class LocalCloud:
    """Start with `with LocalCloud(template) as cloud:`; see start() for what it sets up."""

    def __init__(
        self, template_path: Path, plans: list[Plan], settings: LocalCloudSettings | None = None
    ) -> None:
        if len({p.azure.subscription_id for p in plans}) > 1:
            raise ValueError(
                "the local Azure emulator serves one subscription: use plans of one subscription"
            )
        self.plans = plans
        self.settings = settings or LocalCloudSettings()
        self.template = Template(template_path, REGION)
        self.bridge = LambdaBridge()
        self._clients = Clients(REGION)
        self.routing = EventRouting(self.template, self._clients)
        self.clock = ScheduleClock(
            self.settings.time_scale, self.routing.fire, running=self.settings.schedules == "scaled"
        )
        self.process = LocalProcess(
            self.settings,
            plans[0].azure.subscription_id if plans else None,
            drs_event_sink=self.routing.put_drs_event,
            patches=[self.bridge, self.routing],
        )
        self.deployment = Deployment(
            self.template,
            self._clients,
            self.clock,
            set_env=self.process.env.set,
            handler_env={
                "POWERTOOLS_LOG_LEVEL": self.settings.log_level,
                "POWERTOOLS_METRICS_DISABLED": "false" if self.settings.print_metrics else "true",
            },
        )
        # The emulators, once started.
        self.drs: DrsEmulator
        self.azure: AzureEmulator
        self.guests: Guests
        self.iam: LocalIam

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """moto and the emulators with the patches, the template deployed with the deployed permissions
        in force, the plans seeded, replication checked once, and the schedule clock started."""
        # Before anything runs: a template CloudFormation, IAM or Lambda would refuse is refused here too.
        limits.check(self.template.path)
        emulators = self.process.start()
        self.azure = emulators.azure
        self.guests = emulators.guests
        self.iam = emulators.iam
        self.drs = emulators.drs
        self.deployment.deploy()
        self.routing.role_policies = role_policies(self.template)
        self.iam.set_policies(self.routing.role_policies)
        self.bridge.set_role_policies(self.routing.role_policies)
        seed_plans(
            self.plans,
            client=self.client,
            azure=self.azure,
            drs=self.drs,
            stack_name=self.stack_name,
            secret_arn=self.env["AZURE_SECRET_ARN"],
        )
        self.refresh_replication()
        self.clock.start()

    def stop(self) -> None:
        self.clock.stop()
        self.process.stop()

    # -- what is deployed ------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment variables the local cloud set (endpoints, credentials, the handlers' variables)."""
        return self.process.env.values

    @property
    def stack_name(self) -> str:
        return stack_name(self.template)

    @property
    def state_machines(self) -> dict[str, str]:
        """Workflow -> state machine ARN."""
        return self.deployment.state_machines

    @property
    def functions(self) -> dict[str, str]:
        """Handler path -> function name."""
        return self.deployment.functions

    @property
    def schedules(self) -> dict[str, dict[str, Any]]:
        return self.deployment.schedules

    @property
    def failed_invocations(self) -> list[dict[str, str]]:
        """Deliveries EventBridge or Scheduler would count as FailedInvocations (a target not permitted)."""
        return self.routing.failed_invocations

    @property
    def drs_events(self) -> Literal["deliver", "drop", "duplicate"]:
        """What becomes of DRS's events: delivered once (as usual), dropped, or delivered twice."""
        return self.routing.drs_events

    @drs_events.setter
    def drs_events(self, value: Literal["deliver", "drop", "duplicate"]) -> None:
        self.routing.drs_events = value

    @property
    def drs_events_seen(self) -> list[dict[str, Any]]:
        return self.routing.drs_events_seen

    def function_name(self, handler: str) -> str:
        return self.functions[handler]

    # -- operating it ----------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client for this local cloud (cached: building one parses the service model)."""
        return self._clients(service)

    def refresh_replication(self) -> None:
        """Run the replication monitor once (deployed, a schedule runs it every 5 minutes)."""
        monitor = self.functions.get("lambdas.handlers.replication_monitor.handler")
        if monitor:
            self.client("lambda").invoke(FunctionName=monitor, Payload=b"{}")

    def start_workflow(self, workflow: str, document: dict[str, Any], name: str | None = None) -> str:
        return start_execution(self._clients, self.state_machines[workflow], json.dumps(document), name)

    def wait(self, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout:.0f}s")
            time.sleep(0.1)

    def run(self, workflow: str, document: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        return self.wait(self.start_workflow(workflow, document), timeout)

    def put_alarm_event(self, alarm_name: str, state: str, event_id: str | None = None) -> None:
        """What CloudWatch sends to EventBridge when an alarm changes state."""
        detail = {
            "alarmName": alarm_name,
            "state": {
                "value": state,
                "reason": "local cloud",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "previousState": {"value": "OK" if state == "ALARM" else "ALARM"},
        }
        self.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.cloudwatch",
                    "DetailType": "CloudWatch Alarm State Change",
                    "Detail": json.dumps(detail),
                    "Resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm_name}"],
                }
            ]
        )

    def put_event(self, event: dict[str, Any]) -> None:
        """Send an EventBridge event document (as in events/*.json) the way its source service would."""
        self.client("events").put_events(Entries=[event_entry(event)])
