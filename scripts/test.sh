#!/usr/bin/env bash
# The whole check: setup, the test suite, mypy --strict and ruff.
# Arguments go to pytest. Exits non-zero if any step fails; every step runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHON

bash scripts/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }

failed=()

"$PYTHON" -bb -m pytest -q "$@"
status=$?
if [[ $status -eq 5 ]]; then
    echo "test.sh: pytest collected no tests" >&2
    failed+=("pytest (no tests collected)")
elif [[ $status -ne 0 ]]; then
    failed+=("pytest (exit $status)")
fi

"$PYTHON" -m mypy --strict pgpipe || failed+=("mypy")
"$PYTHON" -m ruff check pgpipe tests || failed+=("ruff")

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all checks passed" >&2
