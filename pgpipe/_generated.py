"""Functions pgpipe writes as Python source at run time, compiled once per source.

The row decoders (``_statement``) and COPY's row writers (``_copy``) are
written for a column layout: the source defines ``build``, which takes the
values' decoders, encoders and structs as arguments (none is ever written
into the source) and returns the function. A layout met again, on this
connection or another, reuses the compiled ``build``: compiling its source
costs more than a small query's whole client work, and a connection made
per request would otherwise pay it for its every statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

_SOURCES_KEPT: Final = 256


@functools.lru_cache(maxsize=_SOURCES_KEPT)
def builder(source: str, **constants: object) -> Callable[..., Any]:
    """The ``build`` that ``source`` defines, with ``constants`` as its globals;
    compiled the first time these are asked for."""
    namespace: dict[str, Any] = dict(constants)
    exec(source, namespace)
    build: Callable[..., Any] = namespace["build"]
    return build
