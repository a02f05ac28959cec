"""What the benchmarks share about the peer drivers they measure."""

from __future__ import annotations


def installed(module: str | None) -> bool:
    """Whether ``module`` imports (None: pgpipe's own runner, always there)."""
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True
