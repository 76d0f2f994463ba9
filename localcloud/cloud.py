"""The embedded local cloud: moto (with real ASL execution) for AWS, the DRS emulator, the Azure
emulator, and the synthesized stack created in them, so the unchanged handlers and the deployed state
machine definitions run end to end on this machine."""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError
from moto.core.config import default_user_config
from moto.events.models import Rule
from moto.server import ThreadedMotoServer

from lambdas.adapters import azure_compute, service_quotas
from lambdas.adapters.aws import reset_clients
from lambdas.plan import Plan
from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas
from localcloud import atomic_dynamodb, limits, payload_limits, sfn_integrations, sfn_stop, timescale
from localcloud import schedule_expressions as expressions
from localcloud import service_quotas as local_service_quotas
from localcloud.azure import AzureEmulator, AzureTiming
from localcloud.drs import DrsEmulator, DrsTiming
from localcloud.guests import Guests
from localcloud.iam import LocalIam, allows, role_policies
from localcloud.input_transformer import transform
from localcloud.lambda_bridge import LambdaBridge
from localcloud.schedules import Firing, ScheduleClock, scheduled_event, scheduler_input
from localcloud.seed import seed_plans
from localcloud.template import ACCOUNT_ID, Template

REGION = "us-east-1"
WORKFLOW_BY_LOGICAL_PREFIX = {
    "Workflowsdrill": "drill",
    "Workflowsrecovery": "recovery",
    "Workflowsfailback": "failback",
    "Workflowsreturntonormal": "return_to_normal",
    "Workflowsapprovalgate": "approval_gate",
}


@dataclass
class LocalCloudSettings:
    time_scale: float = 60.0
    # Handler log level in the local process (the deployed functions log at INFO).
    log_level: str = "INFO"
    # The functions print CloudWatch metrics (EMF) to stdout, as in Lambda; a terminal demo hides them.
    print_metrics: bool = True
    drs_timing: DrsTiming = field(default_factory=DrsTiming)
    # The emulated account's DRS job quotas (DRS's defaults unless a test emulates another account).
    drs_quotas: DrsQuotas = DEFAULT_QUOTAS
    # Whether Service Quotas answers those quotas (an account or region where it lists none: False).
    drs_quotas_published: bool = True
    azure_timing: AzureTiming = field(default_factory=AzureTiming)
    # Scheduled rules and Scheduler schedules: "scaled" fire on a clock running time_scale times faster than
    # real time; "manual" fire only when a test moves the clock (cloud.clock.advance), so a test decides when.
    schedules: Literal["scaled", "manual"] = "manual"


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
        self.state_machines: dict[str, str] = {}
        self.functions: dict[str, str] = {}  # handler path -> function name
        self.schedules: dict[str, dict[str, Any]] = {}
        self.clock = ScheduleClock(
            self.settings.time_scale, self._fire_schedule, running=self.settings.schedules == "scaled"
        )
        # Deliveries EventBridge or Scheduler would count as FailedInvocations (e.g. a target not permitted).
        self.failed_invocations: list[dict[str, str]] = []
        self._role_policies: dict[str, list[dict[str, Any]]] = {}
        self.env: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}
        self._moto: ThreadedMotoServer | None = None
        self.drs: DrsEmulator
        self.azure: AzureEmulator
        self._original_send: Any = None
        self._clients: dict[str, Any] = {}
        self.drs_events: str = "deliver"  # or "drop", "duplicate"
        self.drs_events_seen: list[dict[str, Any]] = []
        self._clients_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        # Before anything runs: a template CloudFormation, IAM or Lambda would refuse is refused here too.
        limits.check(self.template.path)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The interpreter logs every caught task failure as an error; the execution history has them.
        logging.getLogger("moto").setLevel(logging.ERROR)
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        # moto's backends live in this process: start each local cloud from an empty account.
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        port = self._moto._server.server_port  # type: ignore[union-attr]
        moto_url = f"http://127.0.0.1:{port}"
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": moto_url,
                "MOTO_PORT": str(port),
            }
        )
        subscription = {"subscription_id": self.plans[0].azure.subscription_id} if self.plans else {}
        self.azure = AzureEmulator(timing=self.settings.azure_timing, **subscription)
        self.guests = Guests(self.azure)
        self.iam = LocalIam({})
        self.drs = DrsEmulator(
            ec2_endpoint_url=moto_url,
            region=REGION,
            timing=self.settings.drs_timing,
            event_sink=self._put_drs_event,
            machines=self.guests,
            authorizer=self.iam,
            quotas=self.settings.drs_quotas,
        )
        self.drs.start()
        self.azure.start()
        self.guests.install()
        self._set_env({"AWS_ENDPOINT_URL_DRS": self.drs.url, "REQUESTS_CA_BUNDLE": self.azure.ca_bundle_path})
        reset_clients()
        azure_compute.reset_caches()
        service_quotas.reset_cache()
        local_service_quotas.install(self.settings.drs_quotas, published=self.settings.drs_quotas_published)
        timescale.install(self.settings.time_scale)
        atomic_dynamodb.install()
        sfn_integrations.install()
        payload_limits.install()
        sfn_stop.install()
        self.bridge.install()
        self._install_event_routing()
        self._deploy()
        self._role_policies = role_policies(self.template)
        self.iam.set_policies(self._role_policies)
        self.bridge.set_role_policies(self._role_policies)
        seed_plans(self, self.plans)
        self.refresh_replication()
        self.clock.start()

    def stop(self) -> None:
        self.clock.stop()
        # The emulators first: their background work must not outlive the routing it relies on.
        for component in ("drs", "azure"):
            if hasattr(self, component):
                getattr(self, component).stop()
        if hasattr(self, "guests"):
            self.guests.close()
        self.bridge.uninstall()
        timescale.uninstall()
        atomic_dynamodb.uninstall()
        payload_limits.uninstall()
        sfn_stop.uninstall()
        local_service_quotas.uninstall()
        if self._original_send is not None:
            Rule.send_to_targets = self._original_send  # type: ignore[method-assign]
            self._original_send = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        reset_clients()
        azure_compute.reset_caches()
        service_quotas.reset_cache()

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
            self.env[name] = value

    def client(self, service: str) -> Any:
        """A boto3 client for this local cloud (cached: building one parses the service model)."""
        with self._clients_lock:
            if service not in self._clients:
                session: Any = boto3.session.Session()
                self._clients[service] = session.client(service, region_name=REGION)
            return self._clients[service]

    # -- deploying the synthesized template ------------------------------------------------------

    def _deploy(self) -> None:
        t = self.template
        for logical in t.of_type("AWS::KMS::Key"):
            key = self.client("kms").create_key(Description=logical)["KeyMetadata"]
            t.refs[logical] = key["KeyId"]
            t.attributes[(logical, "Arn")] = key["Arn"]
        for logical, resource in t.of_type("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            self.client("dynamodb").create_table(
                TableName=logical,
                KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode="PAY_PER_REQUEST",
            )
            t.refs[logical] = logical
            t.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{logical}"
        for logical in t.of_type("AWS::SNS::Topic"):
            arn = self.client("sns").create_topic(Name=logical)["TopicArn"]
            t.refs[logical] = arn
            t.attributes[(logical, "TopicArn")] = arn
        for logical in t.of_type("AWS::SecretsManager::Secret"):
            arn = self.client("secretsmanager").create_secret(Name=logical, SecretString="{}")["ARN"]
            t.refs[logical] = arn
        for logical in t.of_type("AWS::S3::Bucket"):
            name = f"local-{logical.lower()}"[:63]
            self.client("s3").create_bucket(Bucket=name)
            t.refs[logical] = name
            t.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"
        for logical in t.of_type("AWS::SQS::Queue"):
            url = self.client("sqs").create_queue(QueueName=logical)["QueueUrl"]
            t.refs[logical] = url
            t.attributes[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{logical}"
            t.attributes[(logical, "QueueName")] = logical
        for logical in t.of_type("AWS::IAM::Role"):
            arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{logical}"
            self.client("iam").create_role(RoleName=logical, AssumeRolePolicyDocument="{}")
            t.refs[logical] = logical
            t.attributes[(logical, "Arn")] = arn
        self._deploy_functions()
        self._deploy_state_machines()
        self._deploy_rules()
        self._deploy_schedules()
        self._register_stack()

    def _register_stack(self) -> None:
        """A CloudFormation stack with the template's outputs, so `drctl --stack NAME` finds the local
        resources exactly as it finds deployed ones."""
        outputs = {
            key: {"Value": str(self.template.resolve(o["Value"]))}
            for key, o in self.template.document.get("Outputs", {}).items()
        }
        body = {
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        }
        with warnings.catch_warnings():  # moto notes that it does not model the placeholder: fine
            warnings.simplefilter("ignore")
            self.client("cloudformation").create_stack(
                StackName=self.stack_name, TemplateBody=json.dumps(body)
            )

    @property
    def stack_name(self) -> str:
        return self.template.path.name.removesuffix(".template.json")

    def refresh_replication(self) -> None:
        """Run the replication monitor once (deployed, a schedule runs it every 5 minutes)."""
        monitor = self.functions.get("lambdas.handlers.replication_monitor.handler")
        if monitor:
            self.client("lambda").invoke(FunctionName=monitor, Payload=b"{}")

    def _deploy_functions(self) -> None:
        t = self.template
        env: dict[str, str] = {}
        core_root: Path | None = None
        for logical, resource in t.of_type("AWS::Lambda::Function").items():
            props = resource["Properties"]
            variables = t.resolve(props.get("Environment", {}).get("Variables", {}))
            # Handlers run in this one process, so every function must agree on each variable it sets.
            for name, value in variables.items():
                if env.setdefault(name, value) != value:
                    raise RuntimeError(f"functions disagree on environment variable {name}")
            self.client("lambda").create_function(
                FunctionName=logical,
                Runtime="python3.12",
                Role=t.attributes[(props["Role"]["Fn::GetAtt"][0], "Arn")],
                Handler=props["Handler"],
                Code={"ZipFile": _EMPTY_ZIP},
                Timeout=int(props.get("Timeout", 60)),
                MemorySize=int(props.get("MemorySize", 256)),
                Environment={"Variables": variables},
            )
            t.refs[logical] = logical
            t.attributes[(logical, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical}"
            self.functions[props["Handler"]] = logical
            # Every code asset carries the same plan catalog; any one serves as the task root.
            core_root = core_root or t.asset_dir(logical)
        assert core_root is not None
        # Lambda unpacks the code asset (handlers, dependencies, the plan catalog) at LAMBDA_TASK_ROOT.
        self._set_env(
            {
                **env,
                "LAMBDA_TASK_ROOT": str(core_root),
                "POWERTOOLS_LOG_LEVEL": self.settings.log_level,
                "POWERTOOLS_METRICS_DISABLED": "false" if self.settings.print_metrics else "true",
            }
        )

    def _deploy_state_machines(self) -> None:
        t = self.template
        machines = t.of_type("AWS::StepFunctions::StateMachine")

        def starts_another(logical: str) -> bool:
            definition = json.dumps(machines[logical]["Properties"]["DefinitionString"])
            return any(f'"{other}"' in definition for other in machines if other != logical)

        # The recovery refers to the approval gate it starts: machines that start none are deployed first.
        for logical in sorted(machines, key=starts_another):
            props = machines[logical]["Properties"]
            workflow = next(
                w for prefix, w in WORKFLOW_BY_LOGICAL_PREFIX.items() if logical.startswith(prefix)
            )
            arn = self.client("stepfunctions").create_state_machine(
                name=t.resolve(props.get("StateMachineName", f"dr-{workflow}")),
                definition=t.resolve(props["DefinitionString"]),
                roleArn=t.attributes[(props["RoleArn"]["Fn::GetAtt"][0], "Arn")],
            )["stateMachineArn"]
            t.refs[logical] = arn
            self.state_machines[workflow] = arn

    def _deploy_rules(self) -> None:
        t = self.template
        events = self.client("events")
        for logical, resource in t.of_type("AWS::Events::Rule").items():
            props = t.resolve(resource["Properties"])
            state = props.get("State", "ENABLED")
            if "EventPattern" in props:
                arn = events.put_rule(
                    Name=logical, EventPattern=json.dumps(props["EventPattern"]), State=state
                )
            else:
                expression = _schedule_expression(logical, props["ScheduleExpression"], scheduler=False)
                arn = events.put_rule(
                    Name=logical, ScheduleExpression=props["ScheduleExpression"], State=state
                )
                self.clock.add("rule", logical, expression)
            t.attributes[(logical, "Arn")] = arn["RuleArn"]
            targets = []
            for target in props.get("Targets", []):
                entry = {"Id": target["Id"], "Arn": target["Arn"]}
                for key in ("Input", "InputPath", "InputTransformer", "RoleArn", "DeadLetterConfig"):
                    if key in target:
                        entry[key] = target[key]
                targets.append(entry)
            events.put_targets(Rule=logical, Targets=targets)

    def _deploy_schedules(self) -> None:
        t = self.template
        for logical, resource in t.of_type("AWS::Scheduler::Schedule").items():
            props = t.resolve(resource["Properties"])
            self.schedules[logical] = props
            zone_name = props.get("ScheduleExpressionTimezone", "UTC")
            expression = _schedule_expression(logical, props["ScheduleExpression"], scheduler=True)
            target = {
                k: v for k, v in props["Target"].items() if k in ("Arn", "RoleArn", "Input", "RetryPolicy")
            }
            self.client("scheduler").create_schedule(
                Name=logical,
                ScheduleExpression=props["ScheduleExpression"],
                ScheduleExpressionTimezone=zone_name,
                FlexibleTimeWindow=props["FlexibleTimeWindow"],
                Target=target,
                State=props.get("State", "ENABLED"),
                **({"Description": props["Description"]} if "Description" in props else {}),
            )
            self.clock.add("schedule", logical, expression, ZoneInfo(zone_name))

    # -- schedules -------------------------------------------------------------------------------

    def _fire_schedule(self, firing: Firing) -> None:
        """One tick of a scheduled rule or schedule, delivered as the real service delivers it."""
        if firing.kind == "rule":
            events = self.client("events")
            rule = events.describe_rule(Name=firing.name)
            if rule.get("State") != "ENABLED":
                return
            event = scheduled_event(rule["Arn"], firing, ACCOUNT_ID, REGION)
            for target in events.list_targets_by_rule(Rule=firing.name)["Targets"]:
                threading.Thread(
                    target=self._deliver, args=(rule["Arn"], target, copy.deepcopy(event)), daemon=True
                ).start()
            return
        schedule = self.client("scheduler").get_schedule(Name=firing.name)
        if schedule.get("State") != "ENABLED":
            return
        target = schedule["Target"]
        body = scheduler_input(target.get("Input", "{}"), schedule["Arn"], firing)
        threading.Thread(
            target=self._invoke_target,
            args=("scheduler", schedule["Arn"], target, body),
            daemon=True,
        ).start()

    # -- EventBridge -> Step Functions -----------------------------------------------------------

    def _install_event_routing(self) -> None:
        """moto's EventBridge delivers to SQS and logs only; deliver matched events to state machines
        (and Lambda functions) the way the real service does, with the target's input transformation."""
        if self._original_send is not None:
            return
        original = Rule.send_to_targets
        self._original_send = original
        cloud = self

        def send_to_targets(rule: Rule, event: Any, transform_input: bool = True) -> None:
            # A scheduled rule has no pattern and matches no event.
            if rule.scheduled_expression or not rule.event_pattern.matches_event(event):
                return
            ours = [t for t in rule.targets if ":states:" in t["Arn"] or ":lambda:" in t["Arn"]]
            for target in ours:
                threading.Thread(
                    target=cloud._deliver, args=(rule.arn, target, copy.deepcopy(event)), daemon=True
                ).start()
            rest = [t for t in rule.targets if t not in ours]
            if rest:
                clone = copy.copy(rule)
                clone.targets = rest
                original(clone, event, transform_input)

        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]

    def _deliver(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        if "Input" in target:
            body = str(target["Input"])
        elif "InputTransformer" in target:
            transformer = target["InputTransformer"]
            body = transform(transformer["InputTemplate"], transformer.get("InputPathsMap", {}), event)
        else:
            body = json.dumps(event)
        try:
            refusal = self._invoke_target("events", rule_arn, target, body)
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
            logging.getLogger(__name__).warning("event to %s dropped: %s %s", target["Arn"], code, message)
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

    def _invoke_target(self, service: str, source_arn: str, target: dict[str, Any], body: str) -> str | None:
        """Start the target state machine or invoke the target function, if the deployed permissions let
        EventBridge (service "events") or Scheduler ("scheduler") do so; returns the refusal, if any."""
        refusal = self._target_refusal(service, source_arn, target)
        if refusal:
            logging.getLogger(__name__).warning("%s target not invoked: %s", service, refusal)
            self.failed_invocations.append({"source": source_arn, "target": target["Arn"], "reason": refusal})
            return refusal
        if ":states:" in target["Arn"]:
            self._start_execution(target["Arn"], body)
        else:
            self.client("lambda").invoke(FunctionName=target["Arn"], Payload=body.encode())
        return None

    def _target_refusal(self, service: str, source_arn: str, target: dict[str, Any]) -> str | None:
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
        if not allows(self._role_policies.get(role.split("/")[-1], []), action, arn):
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

    def _put_drs_event(self, event: dict[str, Any]) -> None:
        """DRS events reach EventBridge at best once; tests can drop or duplicate them (drs_events)."""
        self.drs_events_seen.append(event)
        copies = {"deliver": 1, "drop": 0, "duplicate": 2}[self.drs_events]
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
        }
        for _ in range(copies):
            self.client("events").put_events(Entries=[entry])

    # -- operating it ----------------------------------------------------------------------------

    def start_workflow(self, workflow: str, document: dict[str, Any], name: str | None = None) -> str:
        return self._start_execution(self.state_machines[workflow], json.dumps(document), name)

    def _start_execution(self, state_machine_arn: str, body: str, name: str | None = None) -> str:
        # Step Functions names an execution when the caller does not; moto leaves it unset, so name it here.
        arn: str = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, input=body, name=name or str(uuid.uuid4())
        )["executionArn"]
        return arn

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
        self.client("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event.get("resources", []),
                }
            ]
        )

    def function_name(self, handler: str) -> str:
        return self.functions[handler]


def _schedule_expression(logical: str, text: str, *, scheduler: bool) -> expressions.Expression:
    try:
        return expressions.parse(text, scheduler=scheduler)
    except expressions.InvalidScheduleExpression as exc:
        service = "EventBridge Scheduler" if scheduler else "EventBridge"
        raise limits.TemplateRefused(
            f"{logical}: {service} refuses the schedule expression ({exc}): "
            "ValidationException 'Parameter ScheduleExpression is not valid.'"
        ) from None


# A valid, empty zip archive: moto requires code, the bridge runs the handler from this checkout.
_EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18
