#!/usr/bin/env bash
# EMR bootstrap action: install Python 3.11, the pinned DP libraries and the dp-gateway wheel (with its
# [aws] extra: the job reads its s3:// request with boto3, which EMR's python3.11 does not have) on every node.
#
# Usage (bootstrap action argument): emr_bootstrap.sh s3://bucket/prefix/artifacts/VERSION/dp_gateway-VERSION-py3-none-any.whl
# Idempotent: installed packages are skipped and re-running changes nothing. Fails loudly: any error
# stops the bootstrap (and so the cluster) with the failing line on stderr, in the bootstrap log.
set -euo pipefail
trap 'echo "dpgw bootstrap: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

WHEEL_URI="${1:?usage: emr_bootstrap.sh s3://.../dp_gateway-VERSION-py3-none-any.whl}"
PYTHON="${DPGW_PYTHON:-python3.11}"
# Pinned like the gateway's [tumult] and [pipelinedp] extras; software_settings.json points Spark at $PYTHON.
DP_LIBRARIES=("tmlt.analytics==0.21.0" "pipeline-dp==0.3.1" "pyarrow>=14,<19")

case "$WHEEL_URI" in
  s3://*.whl) ;;
  *) echo "dpgw bootstrap: expected an s3://...whl argument, got '$WHEEL_URI'" >&2; exit 2 ;;
esac
if [ "$(uname -m)" != "x86_64" ]; then
  echo "dpgw bootstrap: tmlt.core and python-dp have no Linux ARM wheels; use x86_64 instances" >&2
  exit 3
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  sudo dnf install -y python3.11 python3.11-pip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
aws s3 cp --only-show-errors "$WHEEL_URI" "$work/"
wheel="$work/$(basename "$WHEEL_URI")"

# pip skips what is already installed at the pinned versions, which makes re-runs no-ops.
sudo "$PYTHON" -m pip install --quiet --disable-pip-version-check "${DP_LIBRARIES[@]}" "${wheel}[aws]"
# Import what the step imports: its entry module, boto3 for the s3:// documents, both engines.
"$PYTHON" -c "import boto3, tmlt.analytics, pipeline_dp, gateway.runtime.entrypoint"
echo "dpgw bootstrap: $(basename "$wheel") and the DP libraries are installed for $PYTHON"
