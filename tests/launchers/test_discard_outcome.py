"""A withheld result must not stay readable: every launcher can delete a job's outcome document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.launchers import LocalSparkLauncher
from gateway.launchers.emr import EmrStepLauncher
from gateway.launchers.glue import GlueLauncher
from gateway.launchers.settings import split_s3_uri


def test_the_local_launcher_deletes_the_outcome_file(tmp_path: Path) -> None:
    launcher = LocalSparkLauncher(tmp_path)
    outcome = Path(launcher.output_for("sub-w"))
    outcome.parent.mkdir(parents=True)
    outcome.write_text("{}")
    launcher.discard_outcome("sub-w")
    assert not outcome.exists()
    launcher.discard_outcome("sub-w")  # already gone: no error


def test_glue_and_emr_delete_the_outcome_object(aws: dict[str, Any], settings: Any, sleeps: Any) -> None:
    for launcher in (
        GlueLauncher(settings, glue=aws["glue"], s3=aws["s3"], sleep=sleeps),
        EmrStepLauncher(settings, emr=aws["emr"], s3=aws["s3"], sleep=sleeps),
    ):
        bucket, key = split_s3_uri(launcher.output_for("sub-w"))
        aws["s3"].put_object(Bucket=bucket, Key=key, Body=b"{}")
        launcher.discard_outcome("sub-w")
        assert aws["s3"].list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0
        launcher.discard_outcome("sub-w")  # already gone: no error
