#!/usr/bin/env bash
# Set up, then run the quickstart example against a throwaway server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHON

bash scripts/setup.sh
exec "$PYTHON" examples/quickstart.py "$@"
