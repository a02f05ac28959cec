"""pgpipe's build: pure Python by default, the same source compiled with mypyc on request.

    pip wheel .                                             # pure: the default wheel
    PGPIPE_COMPILE=1 pip wheel --no-build-isolation .       # compiled hot modules (needs mypy)

Everything else (metadata, packages) is in pyproject.toml. The compiled wheel
holds the .py files as well; Python imports the compiled module beside each.
"""

from __future__ import annotations

import os

from setuptools import setup

# The hot path: the protocol core, the session, result building and the codecs.
COMPILED = [
    "pgpipe/protocol/buffer.py",
    "pgpipe/protocol/backend.py",
    "pgpipe/protocol/events.py",
    "pgpipe/protocol/frontend.py",
    "pgpipe/protocol/connection.py",
    "pgpipe/protocol/auth.py",
    "pgpipe/_session.py",
    "pgpipe/_io_sync.py",
    "pgpipe/_run.py",
    "pgpipe/_operations.py",
    "pgpipe/_statement.py",
    "pgpipe/_scan.py",
    "pgpipe/_sql.py",
    "pgpipe/_stats.py",
    "pgpipe/_copy.py",
    "pgpipe/_pipeline.py",
    "pgpipe/result.py",
    "pgpipe/rows.py",
    "pgpipe/types/__init__.py",
    "pgpipe/types/binary.py",
    "pgpipe/types/text.py",
    "pgpipe/types/arrays.py",
    "pgpipe/types/oids.py",
]


def _extensions() -> list[object]:
    if os.environ.get("PGPIPE_COMPILE") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            "PGPIPE_COMPILE=1 needs mypy (mypyc) installed in the build environment: "
            "pip install mypy, then build with --no-build-isolation"
        ) from None
    return list(mypycify(COMPILED, opt_level="3", debug_level="0"))


setup(ext_modules=_extensions())
