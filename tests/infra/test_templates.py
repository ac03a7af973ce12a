"""The CloudFormation templates lint clean, deploy into moto where moto can, and say what the launchers do.

moto skips AWS::Glue::* and AWS::S3::BucketPolicy (the stack still reads CREATE_COMPLETE), so the Glue
job and the bucket policy are checked by reading the template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint
from moto import mock_aws

from gateway.launchers.glue import job_definition
from gateway.launchers.settings import AwsSettings, GlueSettings
from tests.infra.templates import INFRA, load, policies, resolve

ROOT = INFRA.parent
REGION = "us-east-1"
TEMPLATES = ["dpgw-core.yaml", "dpgw-emr.yaml", "dpgw-api.yaml"]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        services = ("cloudformation", "s3", "dynamodb", "iam", "emr", "ec2")
        yield {n: boto3.client(n, region_name=REGION) for n in services}


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_lint_clean(name: str) -> None:
    # Every rule incl. informational and experimental ones (as lint_all), in two regions rather than all
    # of them: all regions takes minutes on the API template's conditions.
    config = ManualArgs(include_checks=["I"], include_experimental=True, regions=["us-east-1", "eu-west-1"])
    matches = lint((INFRA / name).read_text(), config=config)
    assert [str(m) for m in matches] == []


def _deploy(cloud: dict[str, Any], name: str, parameters: dict[str, str]) -> dict[str, str]:
    cfn = cloud["cloudformation"]
    cfn.create_stack(
        StackName=name.removesuffix(".yaml"),
        TemplateBody=(INFRA / name).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=name.removesuffix(".yaml"))["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_the_core_stack_deploys_into_moto(cloud: dict[str, Any]) -> None:
    with pytest.warns(UserWarning) as caught:
        outputs = _deploy(cloud, "dpgw-core.yaml", {"BucketName": "team-dp-data", "Prefix": "dp"})
    skipped = {str(w.message).split()[3] for w in caught if "not supported by moto" in str(w.message)}
    assert skipped == {"AWS::S3::BucketPolicy", "AWS::Glue::Job"}  # checked by reading the template below
    assert outputs["BucketName"] == "team-dp-data"
    cloud["s3"].head_bucket(Bucket="team-dp-data")
    table = cloud["dynamodb"].describe_table(TableName="dpgw-ledger")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    role = outputs["GlueJobRoleArn"].rsplit("/", 1)[1]
    trust = cloud["iam"].get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}
    assert cloud["iam"].list_role_policies(RoleName=role)["PolicyNames"] == ["glue-logs-and-metrics"]
    exports = {e["Name"]: e["Value"] for e in cloud["cloudformation"].list_exports()["Exports"]}
    assert exports["dpgw-core-BucketName"] == "team-dp-data" and exports["dpgw-core-Prefix"] == "dp"
    assert exports["dpgw-core-GlueJobRoleArn"] == outputs["GlueJobRoleArn"]


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # the two types moto skips, checked above
def test_the_emr_stack_deploys_into_moto(cloud: dict[str, Any]) -> None:
    core = _deploy(cloud, "dpgw-core.yaml", {"BucketName": "team-dp-data", "Prefix": "dp"})
    vpc = cloud["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = cloud["ec2"].create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    outputs = _deploy(
        cloud,
        "dpgw-emr.yaml",
        {
            "BucketName": core["BucketName"],
            "Prefix": "dp",
            "SubnetId": subnet,
            "JobFlowRole": core["EmrInstanceProfileName"],
            "ServiceRole": core["EmrServiceRoleName"],
        },
    )
    cluster = cloud["emr"].describe_cluster(ClusterId=outputs["ClusterId"])["Cluster"]
    assert cluster["ReleaseLabel"] == "emr-7.5.0"
    assert cluster["LogUri"] == "s3://team-dp-data/dp/logs/emr/"
    assert cluster["Ec2InstanceAttributes"]["Ec2SubnetId"] == subnet
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == core["EmrInstanceProfileName"]
    assert cluster["ServiceRole"] == core["EmrServiceRoleName"]
    # AmazonEMRServicePolicy_v2 acts only on clusters (and subnets, security groups) carrying this tag.
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in cluster["Tags"]
    # moto's CloudFormation drops applications, bootstrap actions and configurations: read the template.
    spec = resolve(
        load("dpgw-emr.yaml")["Resources"]["Cluster"]["Properties"],
        {"BucketName": "b", "Prefix": "dp", "GatewayVersion": "0.1.0"}
        | {
            k: k
            for k in (
                "ReleaseLabel",
                "JobFlowRole",
                "ServiceRole",
                "IdleTimeoutSeconds",
                "InstanceType",
                "CoreInstanceCount",
                "SubnetId",
            )
        },
    )
    assert spec["Applications"] == [{"Name": "Spark"}]
    assert spec["BootstrapActions"] == [
        {
            "Name": "dpgw-install-runtime",
            "ScriptBootstrapAction": {
                "Path": "s3://b/dp/artifacts/0.1.0/emr_bootstrap.sh",
                "Args": ["s3://b/dp/artifacts/0.1.0/dp_gateway-0.1.0-py3-none-any.whl"],
            },
        }
    ]


def test_the_template_glue_job_is_the_launchers_job() -> None:
    """The launcher finds the stack's job unchanged, so it never fights CloudFormation."""
    template = load("dpgw-core.yaml")
    refs = {
        "DataBucket": "b",
        "Prefix": "dp",
        "GatewayVersion": "0.1.0",
        "GlueJobName": "dpgw-query",
        "GlueJobRole.Arn": "arn:aws:iam::1:role/glue",
        "GlueWorkerType": "G.1X",
        "GlueNumberOfWorkers": 2,
        "GlueTimeoutMinutes": 60,
        "GlueMaxConcurrentRuns": 10,
    }
    job = resolve(template["Resources"]["GlueJob"]["Properties"], refs)
    settings = AwsSettings(bucket="b", prefix="dp", glue=GlueSettings(role_arn="arn:aws:iam::1:role/glue"))
    assert {k: v for k, v in job.items() if k != "Name"} == job_definition(settings)
    assert job["Name"] == settings.glue.job_name


def test_template_versions_follow_the_gateway() -> None:
    from gateway import __version__

    for name in TEMPLATES:
        assert load(name)["Parameters"]["GatewayVersion"]["Default"] == __version__


@pytest.mark.parametrize("name", ["dpgw-core.yaml", "dpgw-api.yaml"])
def test_roles_are_least_privilege(name: str) -> None:
    template = load(name)
    for resource in template["Resources"].values():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            assert "FullAccess" not in json.dumps(arn)
    for statement in [s for found in policies(template).values() for s in found]:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            text = json.dumps(resource)
            if "DataBucket.Arn}/" in text:  # objects: only under the gateway's prefix
                assert "DataBucket.Arn}/${Prefix}/" in text, statement
            if ":s3:::${Bucket}/" in text:  # the same in the API stack, which imports bucket and prefix
                assert ":s3:::${Bucket}/${Prefix}/" in text, statement
            if resource == "*":  # only actions that cannot be scoped to a resource
                assert set(actions) <= {
                    "cloudwatch:PutMetricData",
                    "elasticmapreduce:RunJobFlow",
                    "elasticmapreduce:ListClusters",
                    "elasticmapreduce:AddTags",
                    "elasticmapreduce:PutAutoTerminationPolicy",
                }, statement


def test_the_bucket_policy_refuses_plain_http() -> None:
    policy = load("dpgw-core.yaml")["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": ["DataBucket", "Arn"]}, {"Fn::Sub": "${DataBucket.Arn}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_the_emr_template_uses_the_software_settings_file() -> None:
    def as_cfn(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            converted: dict[str, Any] = {"Classification": item["Classification"]}
            if item.get("Configurations"):
                converted["Configurations"] = as_cfn(item["Configurations"])
            if item.get("Properties"):
                converted["ConfigurationProperties"] = item["Properties"]
            out.append(converted)
        return out

    cluster = load("dpgw-emr.yaml")["Resources"]["Cluster"]["Properties"]
    settings = json.loads((ROOT / "software_settings.json").read_text())
    assert cluster["Configurations"] == as_cfn(settings)
    assert cluster["AutoTerminationPolicy"] == {"IdleTimeout": {"Ref": "IdleTimeoutSeconds"}}


def test_infra_readme_names_every_template() -> None:
    readme = (INFRA / "README.md").read_text()
    for name in TEMPLATES:
        assert f"infra/{name}" in readme
    assert Path(ROOT / "infra").is_dir()
