#!/usr/bin/env bash
# EMR bootstrap action: install the dp-gateway wheel and the exact modules its EMR step needs into python3.11
# on every node, without pip ever installing (or building) pyspark: EMR's Spark provides pyspark and py4j
# under /usr/lib/spark/python, and spark-submit puts them on the step's path.
#
# Usage (bootstrap action argument): emr_bootstrap.sh s3://bucket/prefix/artifacts/VERSION/dp_gateway-VERSION-py3-none-any.whl
# Beside the wheel, `dpgw package` uploads emr_modules.txt: exact pins resolved for EMR 7.5's python3.11 with
# Spark's pyspark as a constraint (tmlt.analytics, pipeline-dp, the gateway's dependencies and its [aws]
# extra, boto3). They are installed with --no-deps --only-binary=:all:, so pip adds exactly that list, never
# resolves (no pyspark, no sdist builds) and leaves every other package on the node as it was.
# Idempotent: installed pins are skipped and re-running changes nothing. Fails loudly: any error stops the
# bootstrap (and so the cluster) with the failing line on stderr, in the bootstrap log.
set -euo pipefail
trap 'echo "dpgw bootstrap: failed at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

WHEEL_URI="${1:?usage: emr_bootstrap.sh s3://.../dp_gateway-VERSION-py3-none-any.whl}"
PYTHON="${DPGW_PYTHON:-python3.11}"  # software_settings.json points Spark at /usr/bin/python3.11

case "$WHEEL_URI" in
  s3://*.whl) ;;
  *) echo "dpgw bootstrap: expected an s3://...whl argument, got '$WHEEL_URI'" >&2; exit 2 ;;
esac
MODULES_URI="${WHEEL_URI%/*}/emr_modules.txt"
if [ "$(uname -m)" != "x86_64" ]; then
  echo "dpgw bootstrap: tmlt.core and python-dp have no Linux ARM wheels; use x86_64 instances" >&2
  exit 3
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  sudo dnf install -y python3.11 python3.11-pip
elif ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  sudo dnf install -y python3.11-pip
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
aws s3 cp --only-show-errors "$WHEEL_URI" "$work/"
aws s3 cp --only-show-errors "$MODULES_URI" "$work/"
wheel="$work/$(basename "$WHEEL_URI")"
if grep -qiE '^(pyspark|py4j)([^a-z0-9_.-]|$)' "$work/emr_modules.txt"; then
  echo "dpgw bootstrap: $MODULES_URI lists pyspark or py4j; EMR's Spark provides them" >&2
  exit 4
fi

# Exactly the list and the wheel: no dependency resolution (so never pyspark), wheels only (no builds).
sudo "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  -r "$work/emr_modules.txt" "$wheel"
# Spark (and so pyspark) is installed after bootstrap actions: import what does not need it, and check
# that the modules which import pyspark when loaded are installed; the step imports them under spark-submit.
"$PYTHON" -c "import boto3, pipeline_dp, gateway.core.jobs"
"$PYTHON" -c "import importlib.util as u, sys; sys.exit(0 if all(map(u.find_spec, sys.argv[1:])) else 5)" \
  gateway.runtime.entrypoint tmlt.analytics tmlt.core
echo "dpgw bootstrap: $(basename "$wheel") and $(grep -c '==' "$work/emr_modules.txt") pinned modules are installed for $PYTHON"
