"""Assertions on the synthesized template: what deploys."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from dr_constructs.task_functions import TASKS
from localcloud.synth import synthesize

pytestmark = pytest.mark.infra


def definition(machine: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine's ASL with the function ARNs replaced by the functions' logical ids."""
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else p.get("Fn::GetAtt", [p.get("Ref")])[0] for p in parts)
    return json.loads(text)


def all_states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(asl["States"])


def test_standard_state_machines_with_logging_and_tracing(cfn: Template) -> None:
    machines = cfn.find_resources("AWS::StepFunctions::StateMachine")
    assert {k.split("StateMachine")[0] for k in machines} == {
        "Workflowsdrill",
        "Workflowsrecovery",
        "Workflowsfailback",
        "Workflowsreturntonormal",
        "Workflowsapprovalgate",
    }
    cfn.all_resources_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )


def test_every_task_has_backoff_retry_with_jitter_and_a_catch(cfn: Template) -> None:
    for logical_id, machine in cfn.find_resources("AWS::StepFunctions::StateMachine").items():
        for name, state in all_states(definition(machine)).items():
            if state["Type"] != "Task":
                continue
            retryable = (
                "StepFunctions.SdkClientException"
                if "states:::states" in state["Resource"]
                else "TransientError"
            )
            transient = [r for r in state.get("Retry", []) if retryable in r["ErrorEquals"]]
            assert transient, f"{logical_id}/{name} has no retry on {retryable}"
            assert transient[0]["BackoffRate"] >= 2 and transient[0]["JitterStrategy"] == "FULL"
            catches = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
            assert catches, f"{logical_id}/{name} has no catch"


def test_task_results_are_tested_for_one_done_word(cfn: Template) -> None:
    """Every choice on a task's status asks only whether it is DONE (lambdas/progress.py)."""
    tested = 0
    for logical_id, machine in cfn.find_resources("AWS::StepFunctions::StateMachine").items():
        for name, state in all_states(definition(machine)).items():
            for rule in state.get("Choices", []) if state["Type"] == "Choice" else []:
                if rule.get("Variable", "").endswith(".status"):
                    assert set(rule) == {"Variable", "StringEquals", "Next"}, f"{logical_id}/{name}"
                    assert rule["StringEquals"] == "DONE", f"{logical_id}/{name}"
                    tested += 1
                assert "Or" not in rule and "Not" not in rule, f"{logical_id}/{name}"
    assert tested >= 10


def test_drill_terminates_instances_on_every_path_after_launch(cfn: Template) -> None:
    machines = cfn.find_resources("AWS::StepFunctions::StateMachine")
    drill = next(m for k, m in machines.items() if k.startswith("Workflowsdrill"))
    states = all_states(definition(drill))
    for name in ("Launch wave", "Check wave", "Validate instances", "Validate instances again"):
        assert states[name]["Catch"][0]["Next"] == "Terminate drill instances", name
    assert states["Validation passed?"]["Choices"][0]["Next"] == "Terminate drill instances"


def test_lambdas_run_python_313_with_bundled_dependencies(cfn: Template, synthesized: Path) -> None:
    cfn.resource_count_is("AWS::Lambda::Function", len(TASKS))
    cfn.all_resources_properties("AWS::Lambda::Function", {"Runtime": "python3.13"})
    for function in cfn.find_resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        asset = synthesized.parent / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
        assert (asset / "msgspec").is_dir() and (asset / "aws_lambda_powertools").is_dir()
        assert (asset / "lambdas" / "handlers").is_dir() and (asset / "plan_catalog.json").is_file()
        # The run report (finish_run) renders its page with Jinja2 from the template inside the bundle.
        assert (asset / "jinja2").is_dir() and (asset / "markupsafe").is_dir()
        assert (asset / "lambdas" / "domain" / "templates" / "report.html.j2").is_file()
        for value in props["Environment"]["Variables"].values():
            assert "secret" not in json.dumps(value).lower() or "AzureCredential" in json.dumps(value)


def test_only_azure_tasks_carry_the_azure_sdk(cfn: Template, synthesized: Path) -> None:
    azure_handlers = {t.handler for t in TASKS if t.flavour == "azure"}
    for function in cfn.find_resources("AWS::Lambda::Function").values():
        props = function["Properties"]
        asset = synthesized.parent / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
        assert (asset / "azure" / "mgmt" / "compute").is_dir() == (props["Handler"] in azure_handlers)


def rules_on(cfn: Template, source: str) -> dict[str, Mapping[str, Any]]:
    """The EventBridge rules whose pattern matches events of this source."""
    pattern = {"Properties": {"EventPattern": Match.object_like({"source": [source]})}}
    return dict(cfn.find_resources("AWS::Events::Rule", pattern))


def test_alarm_rule_starts_recovery_only_on_alarm(cfn: Template) -> None:
    assert len(rules_on(cfn, "aws.cloudwatch")) == 1
    cfn.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.cloudwatch"],
                    "detail": Match.exact(
                        {"alarmName": ["dr-DrOrchestrator-shop-azure-outage"], "state": {"value": ["ALARM"]}}
                    ),
                }
            ),
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": Match.string_like_regexp("^WorkflowsrecoveryStateMachine")},
                        # Not JSON until EventBridge fills the placeholders in: both parts, in any order.
                        "InputTransformer": Match.object_like(
                            {
                                "InputTemplate": Match.string_like_regexp(
                                    '(?=.*"trigger":"alarm")(?=.*"event_id":)'
                                )
                            }
                        ),
                    }
                )
            ],
        },
    )


def test_drs_events_resume_waiting_workflows(cfn: Template) -> None:
    assert len(rules_on(cfn, "aws.drs")) == 1
    cfn.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.drs"],
                    "detail-type": [
                        "DRS Source Server Launch Result",
                        "DRS Recovery Instance Failback State Change",
                    ],
                }
            ),
            "Targets": [
                Match.object_like(
                    {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("^Taskswaitseventhandler"), "Arn"]}}
                )
            ],
        },
    )
    grants = policy_statements(cfn, "waits.event_handler")
    targets: list[Any] = []
    for statement in grants:
        if "states:SendTaskSuccess" in statement["Action"]:
            resource = statement["Resource"]
            targets.extend(resource if isinstance(resource, list) else [resource])
    # The workflows that wait on DRS events, and not the approval gate.
    assert sorted(json.dumps(t).split("StateMachine")[0].strip('{"Ref: ') for t in targets) == [
        "Workflowsdrill",
        "Workflowsfailback",
        "Workflowsrecovery",
    ]
    assert not any(a.startswith("drs:") for a in actions_of(grants))


def test_monthly_drill_schedule(cfn: Template) -> None:
    cfn.resource_count_is("AWS::Scheduler::Schedule", 1)
    cfn.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 3 1 * ? *)",
            "Target": Match.object_like(
                {
                    "Arn": {"Ref": Match.string_like_regexp("^WorkflowsdrillStateMachine")},
                    "Input": Match.serialized_json(Match.object_like({"trigger": "schedule"})),
                }
            ),
        },
    )


def test_data_at_rest_is_encrypted_with_the_stack_key(cfn: Template) -> None:
    (key,) = cfn.find_resources("AWS::KMS::Key")
    key_arn = {"Fn::GetAtt": [key, "Arn"]}
    for resource_type in ("AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SecretsManager::Secret"):
        cfn.resource_count_is(resource_type, 1)
    cfn.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"SSESpecification": Match.object_like({"SSEType": "KMS", "KMSMasterKeyId": key_arn})},
    )
    cfn.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key_arn})
    cfn.has_resource_properties("AWS::SecretsManager::Secret", {"KmsKeyId": key_arn})
    cfn.all_resources_properties("AWS::Logs::LogGroup", {"KmsKeyId": key_arn})


def test_report_bucket_is_private_encrypted_and_logged(cfn: Template) -> None:
    (reports,) = [k for k in cfn.find_resources("AWS::S3::Bucket") if k.startswith("StateReports")]
    (key,) = cfn.find_resources("AWS::KMS::Key")
    private_encrypted_logged = {
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
                            }
                        }
                    )
                ]
            },
            "PublicAccessBlockConfiguration": Match.object_like({"RestrictPublicBuckets": True}),
            "LoggingConfiguration": Match.any_value(),
            "VersioningConfiguration": {"Status": "Enabled"},
        }
    }
    assert reports in cfn.find_resources("AWS::S3::Bucket", private_encrypted_logged)
    finish = policy_statements(cfn, "finish_run")
    put = next(s for s in finish if s["Action"] == "s3:PutObject")
    assert json.dumps(put["Resource"]).endswith('/reports/*"]]}')


def test_dashboard_and_replication_monitor(cfn: Template) -> None:
    (dashboard,) = cfn.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"])
    for name in ("MaxReplicationLagSeconds", "RunSucceeded", "RtoSeconds", "RpoSeconds"):
        assert name in body
    scheduled = {"Properties": {"ScheduleExpression": Match.any_value()}}
    assert len(cfn.find_resources("AWS::Events::Rule", scheduled)) == 1
    cfn.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "Targets": [
                Match.object_like(
                    {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("^Tasksreplicationmonitor"), "Arn"]}}
                )
            ],
        },
    )


def policy_statements(cfn: Template, function_key: str) -> list[dict[str, Any]]:
    functions = cfn.find_resources("AWS::Lambda::Function")
    function = next(
        f
        for k, f in functions.items()
        if k.startswith("Tasks" + function_key.replace("_", "").replace(".", ""))
    )
    return role_statements(cfn, function["Properties"]["Role"]["Fn::GetAtt"][0])


def role_statements(cfn: Template, role_id: str) -> list[dict[str, Any]]:
    """The statements of every inline policy attached to the role."""
    attached = {"Properties": {"Roles": Match.array_with([{"Ref": role_id}])}}
    return [s for p in cfn.find_resources("AWS::IAM::Policy", attached).values() for s in statements_of(p)]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def test_only_the_operator_role_can_answer_an_approval(cfn: Template) -> None:
    machines = cfn.find_resources("AWS::StepFunctions::StateMachine")
    gate = next(k for k in machines if "approvalgate" in k)
    answering_roles: set[str] = set()
    for policy in cfn.find_resources("AWS::IAM::Policy").values():
        for statement in statements_of(policy):
            actions = actions_of([statement])
            if actions & {"states:SendTaskSuccess", "states:*"} and gate in json.dumps(statement["Resource"]):
                answering_roles.update(r["Ref"] for r in policy["Properties"]["Roles"])
    assert answering_roles == {
        next(k for k in cfn.find_resources("AWS::IAM::Role") if k.startswith("OperatorRole"))
    }
    recovery = next(m for k, m in machines.items() if "recovery" in k)
    wait = all_states(definition(recovery))["Wait for approval"]
    assert wait["Resource"].endswith("states:startExecution.sync:2")


def test_iam_is_scoped_per_function(cfn: Template) -> None:
    begin = actions_of(policy_statements(cfn, "begin_run"))
    assert not any(a.startswith(("drs:", "ec2:", "secretsmanager:", "route53:")) for a in begin)
    assert not any(a.startswith("drs:") for a in actions_of(policy_statements(cfn, "fence_source")))
    assert "secretsmanager:GetSecretValue" in actions_of(policy_statements(cfn, "fence_source"))
    assert "secretsmanager:GetSecretValue" not in actions_of(policy_statements(cfn, "launch_wave"))
    launch = policy_statements(cfn, "launch_wave")
    start = next(s for s in launch if "drs:StartRecovery" in s["Action"])
    # Source servers tagged for this stack (tests/infra/test_scale_limits.py evaluates the grant).
    assert json.dumps(start["Resource"]).endswith(':source-server/*"]]}')
    assert start["Condition"] == {"StringEquals": {"aws:ResourceTag/dr-orchestrator:stack": "DrOrchestrator"}}
    route53 = next(
        s
        for s in policy_statements(cfn, "switch_traffic")
        if "route53:ChangeResourceRecordSets" in s["Action"]
    )
    assert route53["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":route53:::hostedzone/Z04SHOPEXAMPLE01"]]
    }
    assert "drs:TerminateRecoveryInstances" not in actions_of(policy_statements(cfn, "launch_wave"))


def test_job_logs_and_snapshots_are_read_on_scoped_resources_only(
    cfn: Template, template: dict[str, Any]
) -> None:
    """DescribeJobLogItems (JobResource) on this account's and region's jobs; DescribeRecoverySnapshots
    (SourceServerResource) on the stack's source servers; neither on "*" (Service Authorization Reference)."""
    from localcloud import limits
    from tests.infra.test_scale_limits import allowed

    for statement in [s for p in cfn.find_resources("AWS::IAM::Policy").values() for s in statements_of(p)]:
        if "*" in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        ):
            assert not {"drs:DescribeJobLogItems", "drs:DescribeRecoverySnapshots"} & actions_of([statement])
    check = limits.resolve(policy_statements(cfn, "check_wave"), "DrOrchestrator", template["Resources"])
    job = f"arn:aws:drs:{limits.REGION}:{limits.ACCOUNT_ID}:job/drsjob-0123456789abcdef0"
    assert allowed(check, "drs:DescribeJobLogItems", job, {})
    assert not allowed(check, "drs:DescribeJobLogItems", job.replace(limits.REGION, "eu-west-1"), {})
    assert not allowed(check, "drs:DescribeJobLogItems", job.replace(limits.ACCOUNT_ID, "210987654321"), {})
    assert not allowed(check, "drs:DescribeJobLogItems", job.replace(":job/", ":source-server/"), {})
    launch = next(
        s for s in policy_statements(cfn, "launch_wave") if "drs:DescribeRecoverySnapshots" in s["Action"]
    )
    assert json.dumps(launch["Resource"]).endswith(':source-server/*"]]}')
    assert launch["Condition"] == {
        "StringEquals": {"aws:ResourceTag/dr-orchestrator:stack": "DrOrchestrator"}
    }


def statements_of(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_sweep_reads_only_the_executions_of_this_stacks_workflows(
    cfn: Template, template: dict[str, Any]
) -> None:
    from localcloud import limits
    from localcloud.iam import allows

    statements = policy_statements(cfn, "replication_monitor")
    assert {a for a in actions_of(statements) if a.startswith("states:")} == {"states:DescribeExecution"}
    document = {"Statement": limits.resolve(statements, "DrOrchestrator", template["Resources"])}
    prefix = f"arn:aws:states:{limits.REGION}:{limits.ACCOUNT_ID}:execution"
    for machine in ("drill", "recovery", "failback", "return-to-normal"):
        assert allows([document], "states:DescribeExecution", f"{prefix}:DrOrchestrator-{machine}:run-1")
    for other in ("DrOrchestrator-approval-gate:run-1", "OtherStack-drill:run-1", "DrOrchestrator-x-drill:a"):
        assert not allows([document], "states:DescribeExecution", f"{prefix}:{other}")
    assert not allows([document], "states:StopExecution", f"{prefix}:DrOrchestrator-drill:run-1")
    # It tells on-call about the runs it closes, on the stack's topic only.
    publish = next(s for s in statements if "sns:Publish" in actions_of([s]))
    (topic,) = cfn.find_resources("AWS::SNS::Topic")
    assert publish["Resource"] == {"Ref": topic}


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(synthesized: Path) -> None:
    report = synthesized.parent / "AwsSolutions--DrOrchestrator-NagReport.csv"
    rows = list(csv.DictReader(report.open()))
    assert rows, "cdk-nag did not run"
    open_findings = [(r["Rule ID"], r["Resource ID"]) for r in rows if r["Compliance"] == "Non-Compliant"]
    assert open_findings == []
    suppressed = [r for r in rows if r["Compliance"] == "Suppressed"]
    assert all(r["Exception Reason"].strip() for r in suppressed)


def test_cfn_lint_is_clean(synthesized: Path) -> None:
    # W3005 is CDK's explicit DependsOn next to a GetAtt: harmless and not ours to change.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--", str(synthesized)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_invalid_plan_fails_synth_naming_the_field(
    tmp_path: Path, sample_plan_document: dict[str, Any]
) -> None:
    sample_plan_document["targets"]["rpo_minutes"] = "soon"
    plans_dir = Path(__file__).resolve().parents[2] / "build" / "test-plans"
    plans_dir.mkdir(parents=True, exist_ok=True)
    bad = plans_dir / f"bad-{tmp_path.name}.json"
    bad.write_text(json.dumps(sample_plan_document))
    try:
        with pytest.raises(RuntimeError) as error:
            synthesize(outdir=tmp_path / "out", plans=str(bad.relative_to(plans_dir.parents[1])))
    finally:
        bad.unlink()
    assert "targets.rpo_minutes" in str(error.value)
    assert not (tmp_path / "out" / "DrOrchestrator.template.json").exists()
