#!/usr/bin/env bash
# pgpipe's main job on a fresh machine: set up, start a throwaway PostgreSQL,
# and show a query reached ordinarily and with pipelined connect through a
# proxy adding 20 ms each way. Arguments replace the defaults, e.g.
#   bash scripts/demo.sh --auth md5 "SELECT 1"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHON

bash scripts/setup.sh
if [[ $# -eq 0 ]]; then
    set -- --latency 20 --compare
fi
exec "$PYTHON" -m pgpipe "$@"
