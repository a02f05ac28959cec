#!/usr/bin/env bash
# Prepare a machine to test pgpipe: PostgreSQL server binaries, PgBouncer
# (for the transaction-pool test tier), pgpool-II (for the session-pool tier)
# and the package installed editable with its test extras.
#
# Meant for a fresh Debian 12 with Python 3.11, run as root; idempotent, and
# quick when everything is already in place. Environment:
#   PYTHON            interpreter to install into (default: python3, else python)
#   PGPIPE_PG_BIN     directory with initdb/pg_ctl/postgres/psql to use as is
#   PGPIPE_PGBOUNCER  the pgbouncer program to use as is
#   PGPIPE_PGPOOL     the pgpool program to use as is
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

log() { echo "setup: $*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# The same search order as pgpipe.testing, without importing pgpipe (its
# dependencies may not be installed yet).
have_postgres() {
    local dir
    for dir in "${PGPIPE_PG_BIN:-}" "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
        if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres && -x $dir/psql ]]; then
            return 0
        fi
    done
    "$PYTHON" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("pgserver") is None)' 2>/dev/null
}

# apt-get install with services kept from starting (a policy-rc.d refusing
# every start, unless the machine already has one); apt-get update once a run.
apt_updated=""
apt_install_held() {
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        added_policy=1
    fi
    local status=0
    {
        { [[ -n $apt_updated ]] || { as_root apt-get update -qq && apt_updated=1; }; } &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    } || status=$?
    if [[ -n $added_policy ]]; then as_root rm -f "$policy"; fi
    return "$status"
}

# Debian's packages create a "main" cluster on port 5432 and start it. The
# tests start their own servers, so ask for no cluster, keep services from
# starting during the install, and stop and disable whatever appeared anyway.
apt_install_postgres() {
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/pgpipe.conf >/dev/null
    local status=0
    apt_install_held postgresql || status=$?
    stop_system_clusters
    return "$status"
}

stop_system_clusters() {
    local version name _
    if command -v pg_lsclusters >/dev/null; then
        while read -r version name _; do
            as_root pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
            if [[ -d /etc/postgresql/$version/$name ]]; then
                echo manual | as_root tee "/etc/postgresql/$version/$name/start.conf" >/dev/null
            fi
        done < <(pg_lsclusters --no-header 2>/dev/null || true)
    fi
    if [[ -d /run/systemd/system ]]; then
        as_root systemctl disable --now postgresql >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null && [[ -e /etc/init.d/postgresql ]]; then
        as_root update-rc.d postgresql disable >/dev/null 2>&1 || true
    fi
}

# The program TemporaryPgBouncer runs: PGPIPE_PGBOUNCER, else pgbouncer on
# PATH, else Debian's /usr/sbin/pgbouncer.
have_pgbouncer() {
    if [[ -n ${PGPIPE_PGBOUNCER:-} ]]; then
        [[ -x $PGPIPE_PGBOUNCER ]]
        return
    fi
    command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]]
}

# Debian's pgbouncer package starts a service on port 6432. The tests start
# their own PgBouncer, so keep the service from starting during the install
# and stop and disable it if it started anyway.
apt_install_pgbouncer() {
    local status=0
    apt_install_held pgbouncer || status=$?
    if [[ -d /run/systemd/system ]]; then
        as_root systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    elif [[ -e /etc/init.d/pgbouncer ]]; then
        as_root /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null; then
            as_root update-rc.d pgbouncer disable >/dev/null 2>&1 || true
        fi
    fi
    return "$status"
}

# The program TemporaryPgpool runs: PGPIPE_PGPOOL, else pgpool on PATH,
# else Debian's /usr/sbin/pgpool.
have_pgpool() {
    if [[ -n ${PGPIPE_PGPOOL:-} ]]; then
        [[ -x $PGPIPE_PGPOOL ]]
        return
    fi
    command -v pgpool >/dev/null || [[ -x /usr/sbin/pgpool ]]
}

# Debian's pgpool2 package starts a service on port 5433. The tests start
# their own pgpool-II, so keep the service from starting during the install
# and stop and disable it if it started anyway.
apt_install_pgpool() {
    local status=0
    apt_install_held pgpool2 || status=$?
    if [[ -d /run/systemd/system ]]; then
        as_root systemctl disable --now pgpool2 >/dev/null 2>&1 || true
    elif [[ -e /etc/init.d/pgpool2 ]]; then
        as_root /etc/init.d/pgpool2 stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null; then
            as_root update-rc.d pgpool2 disable >/dev/null 2>&1 || true
        fi
    fi
    return "$status"
}

pip_install() {
    "$PYTHON" -m pip install -q "$@"
}

ensure_pip() {
    if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        log "installing pip"
        "$PYTHON" -m ensurepip --upgrade >/dev/null 2>&1 || {
            as_root apt-get update -qq &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
        }
    fi
    # Debian's own interpreter refuses pip installs outside a venv (PEP 668);
    # this is a throwaway test machine, so install anyway.
    local marker
    marker="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED"
    if [[ -e $marker ]]; then export PIP_BREAK_SYSTEM_PACKAGES=1; fi
}

ensure_pip

if have_postgres; then
    :
else
    log "no PostgreSQL server binaries found; installing Debian's postgresql package"
    if ! apt_install_postgres || ! have_postgres; then
        log "apt-get failed; installing the pgserver wheel (PostgreSQL 16) instead"
        pip_install pgserver
    fi
    have_postgres || { log "could not install PostgreSQL server binaries"; exit 1; }
fi

if ! have_pgbouncer; then
    log "no pgbouncer found; installing Debian's pgbouncer package"
    apt_install_pgbouncer || true
    have_pgbouncer || {
        log "could not install pgbouncer (apt-get install pgbouncer, or point PGPIPE_PGBOUNCER at the program)"
        exit 1
    }
fi

if ! have_pgpool; then
    log "no pgpool found; installing Debian's pgpool2 package"
    apt_install_pgpool || true
    have_pgpool || {
        log "could not install pgpool-II (apt-get install pgpool2, or point PGPIPE_PGPOOL at the program)"
        exit 1
    }
fi

# Reinstall only when pyproject.toml, the checkout or the interpreter changed,
# an installed piece went missing, or the installed pgpipe is another
# checkout's (an editable install made from a clone points there).
stamp_file=build/.setup-stamp
stamp="$(cat pyproject.toml <(pwd) <("$PYTHON" -c 'import sys; print(sys.prefix)') | sha256sum | cut -d' ' -f1)"
installed() {
    [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]] &&
        "$PYTHON" -c 'import importlib.metadata as m; [m.version(p) for p in ("pgpipe", "pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "mypy", "ruff", "trustme", "build", "dbapi-compliance", "sqlalchemy", "greenlet", "pandas", "alembic", "wsproto")]' 2>/dev/null &&
        # -I: not this folder's pgpipe/ from the working directory, the installed one.
        here="$(pwd -P)/pgpipe" &&
        (cd / && "$PYTHON" -I -c 'import os, sys, pgpipe; sys.exit(os.path.realpath(os.path.dirname(pgpipe.__file__)) != os.path.realpath(sys.argv[1]))' "$here") 2>/dev/null
}
if ! installed; then
    log "installing pgpipe (editable) with its test extras"
    pip_install -e '.[test]'
    mkdir -p build
    echo "$stamp" >"$stamp_file"
fi

# The Pyodide tier (tests/test_pyodide.py): the pyodide npm package and the
# wheels of pgpipe's dependencies, for an offline run in Node.
PYTHON="$PYTHON" bash scripts/setup_pyodide.sh
