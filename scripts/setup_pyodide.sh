#!/usr/bin/env bash
# Prepare the Pyodide test tier (tests/test_pyodide.py), which runs pgpipe in
# CPython-in-WebAssembly under Node, offline:
#   - tests/pyodide/node_modules: the pinned `pyodide` npm package (npm ci);
#   - build/pyodide-wheels/*.whl: pgpipe's runtime dependencies (pyproject.toml's
#     [project] dependencies and theirs), pure-Python wheels unpacked into Pyodide;
#   - build/pyodide-wheels/build-backend/: the setuptools wheel pyproject.toml's
#     build-system asks for, so pgpipe's own wheel builds without the network.
#
# Idempotent, and quick when everything is in place (no network then). Needs
# Node >= 20.16 with npm. Environment:
#   PYTHON  interpreter whose pip downloads the wheels (default: python3, else python)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

log() { echo "setup_pyodide: $*" >&2; }

# -- Node and the pyodide npm package ------------------------------------------

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "node and npm are needed (Node >= 20.16: process.getBuiltinModule)"
    exit 1
fi
if ! node -e 'process.exit(typeof process.getBuiltinModule === "function" ? 0 : 1)'; then
    log "Node $(node --version) is too old: pgpipe._jssocket needs process.getBuiltinModule (Node >= 20.16)"
    exit 1
fi

pyodide_dir=tests/pyodide
wanted="$(node -p 'require("./'"$pyodide_dir"'/package.json").dependencies.pyodide')"
have="$(node -p 'try { require("./'"$pyodide_dir"'/node_modules/pyodide/package.json").version } catch { "" }')"
if [[ $have != "$wanted" || $pyodide_dir/package-lock.json -nt $pyodide_dir/node_modules/.package-lock.json ]]; then
    log "installing the pyodide npm package $wanted into $pyodide_dir/node_modules"
    if [[ -f $pyodide_dir/package-lock.json ]]; then
        (cd "$pyodide_dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
        (cd "$pyodide_dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
fi

# -- wheels ----------------------------------------------------------------------

wheel_dir=build/pyodide-wheels
backend_dir=$wheel_dir/build-backend
# What to fetch, read from pyproject.toml (tomllib: Python >= 3.11).
readarray -t runtime_deps < <("$PYTHON" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
')
readarray -t backend_reqs < <("$PYTHON" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
')

stamp_file=$wheel_dir/.stamp
stamp="$(printf '%s\n' "${runtime_deps[@]}" -- "${backend_reqs[@]}" | sha256sum | cut -d' ' -f1)"
if [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]] &&
    compgen -G "$wheel_dir/*.whl" >/dev/null && compgen -G "$backend_dir/*.whl" >/dev/null; then
    exit 0
fi

log "downloading pgpipe's dependency wheels into $wheel_dir"
rm -rf "$wheel_dir"
mkdir -p "$wheel_dir" "$backend_dir"
# Pure-Python wheels for Pyodide's CPython 3.14, with their own dependencies.
"$PYTHON" -m pip download -q --only-binary :all: --python-version 3.14 --implementation py \
    --platform any -d "$wheel_dir" "${runtime_deps[@]}"
# The build backend runs on this machine's Python when the test builds pgpipe's wheel.
"$PYTHON" -m pip download -q --only-binary :all: -d "$backend_dir" "${backend_reqs[@]}"
echo "$stamp" >"$stamp_file"
log "ready: $(cd "$wheel_dir" && ls -- *.whl | tr '\n' ' ')"
