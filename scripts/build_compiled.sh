#!/usr/bin/env bash
# Build pgpipe's compiled form (mypyc, setup.py's COMPILED modules) in a copy of
# the checkout: build/compiled/, where `python -m pytest` and the benchmarks
# import the compiled modules. The checkout's files are copied over every time;
# the modules are compiled again only when pgpipe/, setup.py or pyproject.toml
# changed. Prints the directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
target=build/compiled
stamp="$(git ls-files -co --exclude-standard -- pgpipe setup.py pyproject.toml | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [[ ! -f $target/.stamp || $(cat "$target/.stamp") != "$stamp" ]]; then
    rm -rf "$target"
fi
mkdir -p "$target/build"
git ls-files -co --exclude-standard | grep -v '^tests/pyodide/node_modules/' | tar -cf - -T - | tar -xf - -C "$target"
# What the Pyodide tier needs, made by scripts/setup_pyodide.sh: shared, not copied.
ln -sfn "$PWD/tests/pyodide/node_modules" "$target/tests/pyodide/node_modules"
ln -sfn "$PWD/build/pyodide-wheels" "$target/build/pyodide-wheels"
if [[ ! -f $target/.stamp ]]; then
    echo "build_compiled: compiling with mypyc (about 90 s)" >&2
    (cd "$target" && PGPIPE_COMPILE=1 "$PYTHON" setup.py -q build_ext --inplace >build.log 2>&1) || {
        tail -40 "$target/build.log" >&2
        echo "build_compiled: mypyc failed" >&2
        exit 1
    }
    echo "$stamp" >"$target/.stamp"
fi
(cd "$target" && "$PYTHON" -c 'import sys, pgpipe._compiled as c; sys.exit(not c.is_compiled())') || {
    echo "build_compiled: the build in $target does not import compiled modules" >&2
    exit 1
}
echo "$target"
