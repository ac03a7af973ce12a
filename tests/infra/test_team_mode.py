"""Team mode's IAM split, read from the templates: analysts may only call the API, only the job roles read
the data, the gateway function holds exactly what its code calls, and every PassRole names its service.

The templates are also deployed into moto (``test_the_api_stack_deploys_into_moto``): moto creates the
function, the API with its IAM-authorized methods, the rules and the policies, but enforces none of them,
so who-may-do-what is asserted here by reading the policy documents.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.launchers.glue import job_definition
from gateway.launchers.settings import load_settings
from tests.infra.templates import INFRA, as_list, load, policies, resolve

ROOT = INFRA.parent
REGION = "us-east-1"


@pytest.fixture(scope="module")
def statements() -> dict[str, list[dict[str, Any]]]:
    """Logical id -> statements, over the core and API templates (ids are unique across both)."""
    core, api = policies(load("dpgw-core.yaml")), policies(load("dpgw-api.yaml"))
    assert not set(core) & set(api)
    return core | api


def _allows(statement: dict[str, Any], action: str) -> bool:
    return statement["Effect"] == "Allow" and any(
        re.fullmatch(a.replace("*", ".*"), action) for a in as_list(statement["Action"])
    )


def _text(statement: dict[str, Any]) -> str:
    return json.dumps(statement.get("Resource"))


def _grants(statements: dict[str, list[dict[str, Any]]], action: str, key_part: str) -> set[str]:
    """The policies/roles allowing ``action`` on a resource whose text contains ``key_part``."""
    return {name for name, found in statements.items() for s in found if _allows(s, action) and key_part in _text(s)}


def test_the_analyst_policy_allows_only_calling_the_api(statements: dict[str, list[dict[str, Any]]]) -> None:
    analyst = [name for name in statements if "Analyst" in name]
    assert analyst == ["AnalystApiPolicy"]
    found = statements["AnalystApiPolicy"]
    assert {a for s in found for a in as_list(s["Action"])} == {"execute-api:Invoke"}
    allowed = [s for s in found if s["Effect"] == "Allow"]
    assert len(allowed) == 1 and "${Api}/${StageName}/*" in _text(allowed[0])
    denied = [s for s in found if s["Effect"] == "Deny"]
    assert len(denied) == 1 and "/v1/admin/*" in _text(denied[0])  # admin routes: operator only


def test_only_the_job_roles_read_the_data(statements: dict[str, list[dict[str, Any]]]) -> None:
    assert _grants(statements, "s3:GetObject", "/data/") == {"JobDataPolicy"}
    attached = {
        name
        for name, r in load("dpgw-core.yaml")["Resources"].items()
        if {"Ref": "JobDataPolicy"} in r.get("Properties", {}).get("ManagedPolicyArns", [])
    }
    assert attached == {"GlueJobRole", "EmrInstanceRole"}
    api = load("dpgw-api.yaml")["Resources"]
    assert not any("ManagedPolicyArns" in r.get("Properties", {}) for r in api.values())


def test_no_human_policy_reads_data_or_job_documents(statements: dict[str, list[dict[str, Any]]]) -> None:
    humans = ("AnalystApiPolicy", "OperatorPolicy")
    for name in humans:
        for s in statements[name]:
            if s["Effect"] != "Allow":
                continue
            for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"):
                if _allows(s, action):
                    assert "/data/" not in _text(s) and "/jobs/" not in _text(s), (name, s)
            for service in ("dynamodb:", "glue:StartJobRun", "elasticmapreduce:", "iam:"):
                assert not any(a.startswith(service) for a in as_list(s["Action"])), (name, s)
    # The operator uploads data (write-only) and reads logs.
    operator = statements["OperatorPolicy"]
    assert any(_allows(s, "s3:PutObject") and "/data/*" in _text(s) for s in operator)
    assert any(_allows(s, "logs:FilterLogEvents") and "/aws-glue/jobs/" in _text(s) for s in operator)


def _dynamodb_actions_the_store_calls() -> set[str]:
    """IAM actions for the DynamoDB calls in the store's source (a deployed table is never created)."""
    source = (ROOT / "gateway" / "ledger" / "dynamodb.py").read_text()
    calls = set(re.findall(r"self\.client\.(\w+)\(", source)) | set(re.findall(r'get_paginator\("(\w+)"\)', source))
    calls -= {"create_table", "get_waiter", "get_paginator"}  # no table: only `dpgw init`, the stack deploys it
    transact = set(re.findall(r'"(Put|Update|Delete|ConditionCheck)": \{', source))
    assert "transact_write_items" in calls
    calls.discard("transact_write_items")  # authorized per contained action
    iam = {
        "put_item": "PutItem",
        "query": "Query",
        "get_item": "GetItem",
        "update_item": "UpdateItem",
        "delete_item": "DeleteItem",
        "batch_get_item": "BatchGetItem",
        "scan": "Scan",
    }
    per_action = {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
    }
    assert calls <= set(iam), f"map the store's new DynamoDB calls to IAM actions: {calls - set(iam)}"
    return {f"dynamodb:{iam[c]}" for c in calls} | {f"dynamodb:{per_action[t]}" for t in transact}


def test_the_gateway_function_has_exactly_what_it_calls(statements: dict[str, list[dict[str, Any]]]) -> None:
    role = {s["Sid"]: s for s in statements["GatewayFunctionRole"]}
    assert set(as_list(role["Ledger"]["Action"])) == _dynamodb_actions_the_store_calls()
    documents = {
        "WriteRequests": ({"s3:PutObject"}, "jobs/*/request.json"),
        "ReadAndWithholdOutcomes": ({"s3:GetObject", "s3:DeleteObject"}, "jobs/*/outcome.json"),
        "ReadClaims": ({"s3:GetObject"}, "jobs/*/claimed.json"),
    }
    for sid, (actions, key) in documents.items():
        assert set(as_list(role[sid]["Action"])) == actions and f'/{key}"' in _text(role[sid]), sid
    s3_objects = [
        s for s in role.values() if any(a.startswith("s3:") and a != "s3:ListBucket" for a in as_list(s["Action"]))
    ]
    assert all("/jobs/" in _text(s) or "software_settings.json" in _text(s) for s in s3_objects)
    assert "GatewayFunctionRole" not in _grants(statements, "s3:GetObject", "/data/")
    assert set(as_list(role["GlueJobRuns"]["Action"])) == {
        "glue:GetJob",
        "glue:StartJobRun",
        "glue:GetJobRun",
        "glue:GetJobRuns",
        "glue:BatchStopJobRun",
    }
    assert "job/${Job}" in _text(role["GlueJobRuns"])
    assert set(as_list(role["EmrSteps"]["Action"])) == {
        "elasticmapreduce:AddJobFlowSteps",
        "elasticmapreduce:DescribeStep",
        "elasticmapreduce:ListSteps",
        "elasticmapreduce:CancelSteps",
    }
    assert "cluster/${EmrClusterId}" in _text(role["EmrSteps"])
    # Transient clusters only when enabled, and then only the gateway's own (by tag).
    template = load("dpgw-api.yaml")
    raw = template["Resources"]["GatewayFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = {s["Fn::If"][1]["Sid"]: s["Fn::If"][0] for s in raw if "Fn::If" in s}
    assert conditional == {
        "EmrSteps": "HasCluster",
        "EmrTransientClusterSteps": "TransientClusters",
        "EmrTransientClusterStart": "TransientClusters",
        "ReadClusterSettings": "TransientClusters",
        "PassEmrRoles": "TransientClusters",
    }
    assert "elasticmapreduce:ResourceTag/dpgw-gateway" in json.dumps(role["EmrTransientClusterSteps"]["Condition"])


def test_every_pass_role_names_its_service(statements: dict[str, list[dict[str, Any]]]) -> None:
    passing = [(name, s) for name, found in statements.items() for s in found if _allows(s, "iam:PassRole")]
    assert {name for name, _ in passing} == {"EmrServiceRole", "GatewayFunctionRole"}
    for name, s in passing:
        assert as_list(s["Action"]) == ["iam:PassRole"], name
        assert set(s["Condition"]["StringEquals"]) == {"iam:PassedToService"}, name
        assert "*" not in _text(s), name
    gateway = {
        json.dumps(s["Resource"]): s["Condition"]["StringEquals"]["iam:PassedToService"]
        for name, s in passing
        if name == "GatewayFunctionRole"
    }
    assert gateway['{"Fn::ImportValue": {"Fn::Sub": "${CoreStackName}-GlueJobRoleArn"}}'] == "glue.amazonaws.com"


def test_the_old_operator_policy_is_gone() -> None:
    """It let whoever ran dpgw read raw data, write ledger items, rewrite requests and pass roles."""
    assert "GatewayOperatorPolicy" not in load("dpgw-core.yaml")["Resources"]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        services = ("cloudformation", "s3", "lambda", "events", "apigateway", "iam")
        yield {n: boto3.client(n, region_name=REGION) for n in services}


def _deploy(cfn: Any, name: str, template: str, parameters: dict[str, str]) -> dict[str, str]:
    cfn.create_stack(
        StackName=name,
        TemplateBody=(INFRA / template).read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # Glue job and bucket policy: see test_templates
def test_the_api_stack_deploys_into_moto(cloud: dict[str, Any], tmp_path: Path) -> None:
    _deploy(cloud["cloudformation"], "dpgw-core", "dpgw-core.yaml", {"BucketName": "team-dp-data", "Prefix": "dp"})
    cloud["s3"].put_object(Bucket="team-dp-data", Key="dp/artifacts/0.1.0/lambda.zip", Body=b"PK\x05\x06" + bytes(18))
    outputs = _deploy(cloud["cloudformation"], "dpgw-api", "dpgw-api.yaml", {"EmrClusterId": "j-2AXXXXXXGAPLF"})

    function = cloud["lambda"].get_function(FunctionName=outputs["GatewayFunctionName"])["Configuration"]
    assert function["Handler"] == "gateway.api.aws_lambda.handler"
    assert function["Runtime"] == "python3.12" and function["Architectures"] == ["x86_64"]
    env = function["Environment"]["Variables"]
    assert env["DPGW_LEDGER"] == "dynamodb://dpgw-ledger"
    assert (env["DPGW_AWS_BUCKET"], env["DPGW_AWS_PREFIX"], env["DPGW_GLUE_JOB_NAME"]) == (
        "team-dp-data",
        "dp",
        "dpgw-query",
    )
    assert env["DPGW_EMR_CLUSTER_ID"] == "j-2AXXXXXXGAPLF" and "DPGW_EMR_JOB_FLOW_ROLE" not in env
    assert function["Role"] == outputs["GatewayFunctionRoleArn"]
    # The function's launcher settings describe the core stack's Glue job exactly, so it never needs to
    # (and may not) update the job.
    settings = load_settings(environ={k: str(v) for k, v in env.items()})
    refs = {"DataBucket": "team-dp-data", "Prefix": "dp", "GatewayVersion": "0.1.0", "GlueJobName": "dpgw-query",
            "GlueJobRole.Arn": env["DPGW_GLUE_ROLE_ARN"], "GlueWorkerType": "G.1X", "GlueNumberOfWorkers": 2,
            "GlueTimeoutMinutes": 60, "GlueMaxConcurrentRuns": 10}  # fmt: skip
    job = resolve(load("dpgw-core.yaml")["Resources"]["GlueJob"]["Properties"], refs)
    assert {k: v for k, v in job.items() if k != "Name"} == job_definition(settings)

    api = outputs["ApiId"]
    methods = {r["path"]: r["resourceMethods"] for r in cloud["apigateway"].get_resources(restApiId=api)["items"]}
    assert set(methods) == {"/", "/{proxy+}"}
    for by_verb in methods.values():
        assert by_verb["ANY"]["authorizationType"] == "AWS_IAM"
        integration = by_verb["ANY"]["methodIntegration"]
        assert integration["type"] == "AWS_PROXY" and integration["httpMethod"] == "POST"
        assert f":function:{outputs['GatewayFunctionName']}/invocations" in integration["uri"]
    assert outputs["ApiUrl"] == f"https://{api}.execute-api.{REGION}.amazonaws.com/api"

    rules = {r["Name"].split("-")[2]: r for r in cloud["events"].list_rules()["Rules"]}
    assert rules["SchedulePass"]["ScheduleExpression"] == "rate(1 minute)"
    assert json.loads(rules["GlueRunChanged"]["EventPattern"]) == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": ["dpgw-query"]},
    }
    assert json.loads(rules["EmrStepChanged"]["EventPattern"])["detail-type"] == ["EMR Step Status Change"]
    for rule in rules.values():
        targets = cloud["events"].list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert [t["Arn"] for t in targets] == [function["FunctionArn"]]

    analyst = cloud["iam"].get_policy(PolicyArn=outputs["AnalystPolicyArn"])["Policy"]
    document = cloud["iam"].get_policy_version(PolicyArn=analyst["Arn"], VersionId=analyst["DefaultVersionId"])
    granted = {s["Action"] for s in document["PolicyVersion"]["Document"]["Statement"]}
    assert granted == {"execute-api:Invoke"}
    assert f":{api}/api/*" in json.dumps(document["PolicyVersion"]["Document"])


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")
def test_transient_clusters_are_granted_only_when_enabled(cloud: dict[str, Any]) -> None:
    _deploy(cloud["cloudformation"], "dpgw-core", "dpgw-core.yaml", {"BucketName": "team-dp-data", "Prefix": "dp"})
    cloud["s3"].put_object(Bucket="team-dp-data", Key="dp/artifacts/0.1.0/lambda.zip", Body=b"PK\x05\x06" + bytes(18))
    for name, enabled in (("dpgw-steps", "false"), ("dpgw-transient", "true")):
        outputs = _deploy(
            cloud["cloudformation"], name, "dpgw-api.yaml",
            {"EnableTransientClusters": enabled, "TransientSubnetId": "subnet-0abc"},
        )  # fmt: skip
        role = outputs["GatewayFunctionRoleArn"].rsplit("/", 1)[1]
        document = cloud["iam"].get_role_policy(RoleName=role, PolicyName="dpgw-gateway")["PolicyDocument"]
        if isinstance(document, str):  # moto's CloudFormation keeps an inline policy as the dict's repr
            document = ast.literal_eval(document)
        sids = {s["Sid"] for s in document["Statement"] if s}  # moto leaves AWS::NoValue as None
        env = cloud["lambda"].get_function(FunctionName=outputs["GatewayFunctionName"])["Configuration"]
        variables = env["Environment"]["Variables"]
        if enabled == "true":
            assert {"EmrTransientClusterStart", "PassEmrRoles", "EmrTransientClusterSteps"} <= sids
            assert variables["DPGW_EMR_SUBNET_ID"] == "subnet-0abc" and "DPGW_EMR_JOB_FLOW_ROLE" in variables
        else:
            assert not {s for s in sids if s.startswith(("EmrTransient", "PassEmr", "EmrSteps"))}
            assert not {v for v in variables if v.startswith("DPGW_EMR_")} - {"DPGW_EMR_SUBNET_ID"}
