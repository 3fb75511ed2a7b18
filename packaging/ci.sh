#!/usr/bin/env bash
# CI step for the installers (issue 5), run by .ci/run after the main test suite:
#   1. system packages + build (packaging/build.sh installs what it needs),
#   2. the acceptance test against the .deb it produced (pytest -m packaging).
# Uses the test venv .ci/run made (.venv) when present, else makes its own.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
# Build once here (timed on its own); the test then reuses dist/.
bash packaging/build.sh
build_s=$((SECONDS - started))

if [[ -x .venv/bin/python ]]; then
  PY=.venv/bin/python
else
  # Standalone use: a venv with the project and its test extras.
  python3 -m venv packaging/build/test-venv
  packaging/build/test-venv/bin/pip install -q -e '.[test]'
  PY=packaging/build/test-venv/bin/python
fi

GGEN_PACKAGING_REUSE_DIST=1 QT_QPA_PLATFORM=offscreen \
  "$PY" -m pytest -m packaging tests/packaging
echo "packaging step: build ${build_s} s, total $((SECONDS - started)) s"
