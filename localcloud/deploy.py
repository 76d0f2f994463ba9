"""Deploying the synthesized template into the local cloud: its resources, the functions (and the environment
their handlers read), the state machines, the rules and schedules (on the schedule clock), and a
CloudFormation stack carrying the template's outputs."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from localcloud import limits
from localcloud import schedule_expressions as expressions
from localcloud.schedules import ScheduleClock
from localcloud.template import ACCOUNT_ID, Template

WORKFLOW_BY_LOGICAL_PREFIX = {
    "Workflowsdrill": "drill",
    "Workflowsrecovery": "recovery",
    "Workflowsfailback": "failback",
    "Workflowsreturntonormal": "return_to_normal",
    "Workflowsapprovalgate": "approval_gate",
}

# A valid, empty zip archive: moto requires code, the bridge runs the handler from this checkout.
_EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18


def stack_name(template: Template) -> str:
    return template.path.name.removesuffix(".template.json")


class Deployment:
    """deploy() creates what the template declares and records it: state machines by workflow, functions
    by handler path, schedules by logical id. The handlers' environment (the functions' variables and
    `handler_env`) goes to set_env."""

    def __init__(
        self,
        template: Template,
        client: Callable[[str], Any],
        clock: ScheduleClock,
        set_env: Callable[[dict[str, str]], None],
        handler_env: dict[str, str],
    ) -> None:
        self.template = template
        self.client = client
        self.clock = clock
        self._set_env = set_env
        self._handler_env = handler_env
        self.state_machines: dict[str, str] = {}
        self.functions: dict[str, str] = {}  # handler path -> function name
        self.schedules: dict[str, dict[str, Any]] = {}

    def deploy(self) -> None:
        self._deploy_resources()
        self._deploy_functions()
        self._deploy_state_machines()
        self._deploy_rules()
        self._deploy_schedules()
        self._register_stack()

    def _deploy_resources(self) -> None:
        t = self.template
        region = t.region
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
            t.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{logical}"
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
            t.attributes[(logical, "Arn")] = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{logical}"
            t.attributes[(logical, "QueueName")] = logical
        for logical in t.of_type("AWS::IAM::Role"):
            arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{logical}"
            self.client("iam").create_role(RoleName=logical, AssumeRolePolicyDocument="{}")
            t.refs[logical] = logical
            t.attributes[(logical, "Arn")] = arn

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
            t.attributes[(logical, "Arn")] = f"arn:aws:lambda:{t.region}:{ACCOUNT_ID}:function:{logical}"
            self.functions[props["Handler"]] = logical
            # Every code asset carries the same plan catalog; any one serves as the task root.
            core_root = core_root or t.asset_dir(logical)
        assert core_root is not None
        # Lambda unpacks the code asset (handlers, dependencies, the plan catalog) at LAMBDA_TASK_ROOT.
        self._set_env({**env, "LAMBDA_TASK_ROOT": str(core_root), **self._handler_env})

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
                StackName=stack_name(self.template), TemplateBody=json.dumps(body)
            )


def _schedule_expression(logical: str, text: str, *, scheduler: bool) -> expressions.Expression:
    try:
        return expressions.parse(text, scheduler=scheduler)
    except expressions.InvalidScheduleExpression as exc:
        service = "EventBridge Scheduler" if scheduler else "EventBridge"
        raise limits.TemplateRefused(
            f"{logical}: {service} refuses the schedule expression ({exc}): "
            "ValidationException 'Parameter ScheduleExpression is not valid.'"
        ) from None
