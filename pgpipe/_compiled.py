"""What the compiled build (mypyc) is told about classes, and whether it is running.

pgpipe's hot modules can be compiled with mypyc into an optional platform
wheel (see setup.py and docs/benchmarks.md); the pure-Python package is the
same source. A compiled class can be subclassed by interpreted code only where
it says so, with ``@mypyc_attr(allow_interpreted_subclasses=True)``: in the
pure build that decorator does nothing, and mypy_extensions is not needed.
Where a hot loop annotates an integer ``i64``, the compiled build keeps it as
a machine integer; everywhere else it is ``int``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mypy_extensions import i64, mypyc_attr
else:
    # A 64-bit integer the compiled build keeps unboxed (native arithmetic);
    # in the pure build, and to anything that is not compiled, an int.
    i64 = int
    try:
        from mypy_extensions import mypyc_attr
    except ImportError:  # the pure-Python build

        def mypyc_attr(*attrs: Any, **kwattrs: Any) -> Any:
            return lambda cls: cls


__all__ = ["caused", "i64", "is_compiled", "mypyc_attr"]


def is_compiled() -> bool:
    """Whether the protocol core runs compiled (the mypyc build) here."""
    from pgpipe.protocol import connection

    return not (connection.__file__ or "").endswith(".py")


_E = TypeVar("_E", bound=BaseException)


def caused(error: _E, cause: BaseException) -> _E:
    """``error`` with ``cause`` as its ``__cause__``: ``raise caused(DataError(...), exc)``
    is ``raise DataError(...) from exc``, which the compiled build gets wrong (mypyc
    drops the cause)."""
    error.__cause__ = cause
    return error
