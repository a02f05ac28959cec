#!/usr/bin/env bash
# The whole check: setup, the test suite (pure Python, then compiled with
# mypyc), SQLAlchemy's dialect suite, mypy --strict and ruff.
# Arguments go to pytest. Exits non-zero if any step fails; every step runs.
# The suite runs on PGPIPE_TEST_WORKERS pytest-xdist workers (default 2; 1
# runs it in this process), each with its own throwaway servers
# (tests/conftest.py); the modules that must stay whole stay on one worker.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHON

bash scripts/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }

failed=()

workers="${PGPIPE_TEST_WORKERS:-2}"
parallel=()
if [[ $workers != 1 ]]; then
    parallel=(-n "$workers" --dist loadgroup)
fi

"$PYTHON" -bb -m pytest -q "${parallel[@]}" "$@"
status=$?
if [[ $status -eq 5 ]]; then
    echo "test.sh: pytest collected no tests" >&2
    failed+=("pytest (no tests collected)")
elif [[ $status -ne 0 ]]; then
    failed+=("pytest (exit $status)")
fi

# SQLAlchemy's dialect compliance suite against postgresql+pgpipe, blocking and
# asyncio: its own pytest processes and server (its plugin owns the process).
"$PYTHON" tests/sqlalchemy_suite/run.py -q || failed+=("sqlalchemy suite")

# The same suite on the compiled build (mypyc; scripts/build_compiled.sh), run
# from its own copy of the checkout so that the compiled modules are imported.
if compiled="$(bash scripts/build_compiled.sh)"; then
    (cd "$compiled" && PGPIPE_EXPECT_COMPILED=1 "$PYTHON" -bb -m pytest -q -p no:cacheprovider \
        "${parallel[@]}" "$@") || failed+=("pytest on the compiled build")
else
    failed+=("compiled build")
fi

"$PYTHON" -m mypy --strict pgpipe || failed+=("mypy")
"$PYTHON" -m ruff check pgpipe tests || failed+=("ruff")

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all checks passed" >&2
