"""``dpgw submit --launcher glue`` through the real CLI against a moto *server*: a real ``start_job_run``,
the run executed on this machine by the local executor (moto's runs execute nothing), the request and
outcome documents in (moto) S3, and the gateway recording SUCCEEDED and the charge.

The job runs in a child process, so moto runs as a server that both processes reach through
``AWS_ENDPOINT_URL``. The data stays local (``file://``): pyspark's wheel has no s3a jars.
"""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from gateway.demo import REGIONS, generate_purchases
from tests.cli.support import run_json

pytestmark = pytest.mark.slow

BUCKET = "dpgw-e2e"
REGION = "us-east-1"  # the moto_server fixture's


def test_submit_on_glue_reaches_succeeded_and_charges(moto_server, tmp_path, monkeypatch, capsys) -> None:
    s3 = boto3.client("s3")
    glue = boto3.client("glue")
    s3.create_bucket(Bucket=BUCKET)
    for name, value in {
        "DPGW_AWS_BUCKET": BUCKET,
        "DPGW_AWS_PREFIX": "dp",
        "DPGW_AWS_REGION": REGION,
        "DPGW_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/dpgw-glue",
        "DPGW_GLUE_EXECUTOR": "local",
        "DPGW_LEDGER": str(tmp_path / "ledger"),
    }.items():
        monkeypatch.setenv(name, value)
    run_json(capsys, "package", "--no-wheel")  # the executor runs the Glue script from its S3 location

    data = tmp_path / "data"
    generate_purchases(data, days=3, users=200)
    run_json(capsys, "init", "--n", "1")
    run_json(capsys, "datasets", "add", "purchases", "--path", str(data), "--time-column", "day")
    run_json(capsys, "blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-03", "--epsilon", "1")
    spec = tmp_path / "count.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "dataset": "purchases",
                "analyst": "gina",
                "privacy_unit": "row",
                "engine": "pipelinedp",
                "blocks": {"last": 2},
                "budget": {"epsilon": 0.5},
                "aggregate": {"function": "count"},
                "group_by": {"column": "region", "keys": REGIONS},
            }
        )
    )

    claim = run_json(capsys, "submit", str(spec), "--launcher", "glue", "--wait")

    assert claim["state"] == "succeeded", claim
    assert claim["result"]["spent"] == {"epsilon": "0.5", "delta": "0"}
    assert claim["result"]["blocks"] == ["2026-10-02", "2026-10-03"]
    counts = {row["key"]: row["value"] for row in claim["result"]["values"]}
    assert set(counts) == set(REGIONS) and sum(counts.values()) > 1000  # a real (noisy) answer
    blocks = {b["day"]: b for b in run_json(capsys, "blocks", "list", "purchases")}
    assert blocks["2026-10-03"]["consumed"]["epsilon"] == "0.5"
    assert blocks["2026-10-01"]["consumed"]["epsilon"] == "0"

    runs = glue.get_job_runs(JobName="dpgw-query")["JobRuns"]
    assert [r["Arguments"]["--submission_id"] for r in runs] == [claim["id"]]
    assert (claim["launcher"], claim["run_id"]) == ("glue", runs[0]["Id"])
    outcome = json.loads(s3.get_object(Bucket=BUCKET, Key=f"dp/jobs/{claim['id']}/outcome.json")["Body"].read())
    assert outcome["status"] == "succeeded" and outcome["result"]["submission_id"] == claim["id"]
