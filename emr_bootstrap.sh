#!/usr/bin/env bash
# EMR bootstrap action: install the pinned DP libraries and the gateway wheel for Python 3.11 on every
# node. Idempotent (pip skips what is installed) and loud (set -e: any failure fails the bootstrap).
# Usage: emr_bootstrap.sh s3://bucket/prefix/dp_gateway-<version>-py3-none-any.whl
set -euo pipefail

WHEEL_URI="${1:?usage: emr_bootstrap.sh s3://.../dp_gateway-VERSION-py3-none-any.whl}"
PYTHON="${DPGW_PYTHON:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  sudo dnf install -y python3.11 python3.11-pip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
aws s3 cp "$WHEEL_URI" "$work/"

sudo "$PYTHON" -m pip install --quiet \
  "tmlt.analytics==0.21.0" "pipeline-dp==0.3.1" "pyarrow>=14,<19" \
  "$work/$(basename "$WHEEL_URI")"
"$PYTHON" -c "import tmlt.analytics, pipeline_dp, gateway.runtime.entrypoint"
