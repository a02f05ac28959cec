"""Hypothesis strategies for property-testing PostgreSQL protocol code.

Three families, each named in PostgreSQL's own words:

- **Values** of the types pgpipe supports, with their OID: ``values(Type.INT4)``
  draws Python values valid for that type, ``typed_values()`` draws
  ``(value, oid)`` pairs across all of them (``SUPPORTED_TYPES``). Every value
  comes back from PostgreSQL as sent, in text and in binary results, as
  ``same_value`` compares them (NaN equals NaN, float4 at float4 precision).
- **Frontend messages** with their exact bytes: ``frontend_messages()`` draws
  ``(message, bytes)``, the message a frozen dataclass (``Parse``, ``Bind``,
  ``StartupMessage``...), the bytes written here by ``frontend_bytes`` from the
  protocol's message formats, independently of ``pgpipe.protocol``.
- **Backend messages** with their exact bytes: ``backend_messages()`` draws
  ``(message, bytes)`` (``RowDescription``, ``DataRow``, ``ErrorResponse``...);
  ``transcripts()`` draws whole answers to a one-packet query; ``chunked``
  cuts bytes at random boundaries and ``mutated`` damages them, as a network
  and a fuzzer would.

hypothesis is an optional extra: ``pip install pgpipe[hypothesis]``. ``import
pgpipe`` never imports this module.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypeVar

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("pgpipe.strategies needs hypothesis: pip install pgpipe[hypothesis]") from exc

from pgpipe.errors import InterfaceError
from pgpipe.types import Box, Circle, Interval, Line, LineSegment, Path, Point, Polygon, Range
from pgpipe.types.oids import Type

__all__ = [
    "BACKEND_MESSAGE_TYPES",
    "FRONTEND_MESSAGE_TYPES",
    "MUTATIONS",
    "SUPPORTED_TYPES",
    "AuthenticationCleartextPassword",
    "AuthenticationGSS",
    "AuthenticationGSSContinue",
    "AuthenticationKerberosV5",
    "AuthenticationMD5Password",
    "AuthenticationOk",
    "AuthenticationSASL",
    "AuthenticationSASLContinue",
    "AuthenticationSASLFinal",
    "AuthenticationSSPI",
    "BackendKeyData",
    "BackendMessage",
    "Bind",
    "BindComplete",
    "CancelRequest",
    "Close",
    "CloseComplete",
    "CommandComplete",
    "CopyBothResponse",
    "CopyData",
    "CopyDone",
    "CopyFail",
    "CopyInResponse",
    "CopyOutResponse",
    "DataRow",
    "Describe",
    "EmptyQueryResponse",
    "ErrorResponse",
    "Execute",
    "FieldDescription",
    "Flush",
    "FrontendMessage",
    "GSSENCRequest",
    "NegotiateProtocolVersion",
    "NoData",
    "NoticeResponse",
    "NotificationResponse",
    "ParameterDescription",
    "ParameterStatus",
    "Parse",
    "ParseComplete",
    "PasswordMessage",
    "PortalSuspended",
    "Query",
    "ReadyForQuery",
    "RowDescription",
    "SASLInitialResponse",
    "SASLResponse",
    "SSLRequest",
    "StartupMessage",
    "Sync",
    "Terminate",
    "arrays",
    "backend_bytes",
    "backend_messages",
    "chunked",
    "frontend_bytes",
    "frontend_messages",
    "mutated",
    "ranges",
    "same_value",
    "text_values",
    "transcripts",
    "typed_values",
    "values",
]

_T = TypeVar("_T")

# -- values of PostgreSQL types ------------------------------------------------------


def text_values(*, min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Strings PostgreSQL text and the protocol's C strings (SQL text, names) can
    carry: any Unicode but NUL and lone surrogates."""
    return st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"),
        min_size=min_size,
        max_size=max_size,
    )


def _product(dims: list[int]) -> int:
    total = 1
    for size in dims:
        total *= size
    return total


def _nest(flat: list[Any], dims: list[int]) -> list[Any]:
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def arrays(
    elements: st.SearchStrategy[Any], *, max_dimensions: int = 3, max_side: int = 3
) -> st.SearchStrategy[list[Any]]:
    """PostgreSQL arrays as pgpipe gives them: rectangular nested lists of 1 to
    ``max_dimensions`` levels with None for NULL elements, or ``[]``.

    ``elements`` must not draw lists (a list would be read as one more dimension).
    """
    items = st.one_of(st.none(), elements)
    grids = st.integers(1, max_dimensions).flatmap(
        lambda ndim: st.lists(st.integers(1, max_side), min_size=ndim, max_size=ndim).flatmap(
            lambda dims: st.lists(items, min_size=_product(dims), max_size=_product(dims)).map(
                lambda flat: _nest(flat, dims)
            )
        )
    )
    return st.just([]) | grids


_CONTINUOUS: Final = ("[)", "[]", "()", "(]")


def ranges(bound: st.SearchStrategy[Any], *, discrete: bool = False) -> st.SearchStrategy[Range]:
    """Non-empty ``Range`` values over ``bound`` (lower below upper, either side may be
    unbounded), and the empty range.

    Discrete ranges (int4range, int8range, daterange) are drawn as PostgreSQL
    writes them back, ``[)``: it canonicalises ``[1,5]`` to ``[1,6)``.
    """
    brackets = ("[)",) if discrete else _CONTINUOUS
    bounded = st.builds(
        lambda a, b, kind, no_lower, no_upper: Range(
            None if no_lower else min(a, b), None if no_upper else max(a, b), kind
        ),
        bound,
        bound,
        st.sampled_from(brackets),
        st.booleans(),
        st.booleans(),
    ).filter(lambda r: r.lower is None or r.upper is None or r.lower < r.upper)
    return bounded | st.just(Range(empty=True))


def _multiranges(low: int, high: int) -> st.SearchStrategy[list[Range]]:
    # Ranges that neither overlap nor touch, in order: PostgreSQL would merge them.
    return st.lists(st.integers(-(-low // 3), (high - 1) // 3), max_size=6, unique=True).map(
        lambda starts: [Range(3 * x, 3 * x + 1) for x in sorted(starts)]
    )


# Finite floats without negative zero: geometric types print -0 as 0.
_COORDINATES: Final = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f + 0.0)
_POINTS: Final = st.builds(Point, _COORDINATES, _COORDINATES)
_UTC_OFFSETS: Final = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-8)),
        dt.timezone(dt.timedelta(hours=14)),
    ]
)
# Timestamps whose instant stays within years 1 to 9999 in any session time zone.
_TIMESTAMPTZ: Final = st.datetimes(
    min_value=dt.datetime(1, 1, 3), max_value=dt.datetime(9999, 12, 29), timezones=_UTC_OFFSETS
)
_JSON_SCALARS: Final = (
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | text_values(max_size=20)
)
_JSON: Final = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(text_values(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
# A str parameter is sent as text, as the type's literal: a JSON string would
# have to be quoted. Every other JSON value goes through the json encoder.
_JSON_PARAMETERS: Final = _JSON.filter(lambda v: not isinstance(v, str))


def _numeric() -> st.SearchStrategy[Decimal]:
    # numeric holds NaN (unsigned, not signalling) and +-Infinity; finite values
    # are kept to 1000 digits either side of the point.
    return st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(
        lambda d: (
            (d.is_nan() and not d.is_snan())
            or d.is_infinite()
            or (d.is_finite() and -1000 < d.adjusted() < 1000)
        )
    )


def _inet() -> st.SearchStrategy[Any]:
    return (
        st.ip_addresses()
        | st.builds(
            lambda a, n: ipaddress.ip_interface((a.packed, n)),
            st.ip_addresses(v=4),
            st.integers(0, 31),
        )
        | st.builds(
            lambda a, n: ipaddress.ip_interface((a.packed, n)),
            st.ip_addresses(v=6),
            st.integers(0, 127),
        )
    )


def _cidr() -> st.SearchStrategy[Any]:
    return st.builds(
        lambda a, n: ipaddress.ip_network((a.packed, n % (8 * len(a.packed) + 1)), strict=False),
        st.ip_addresses(),
        st.integers(0, 128),
    )


def _mac(size: int) -> st.SearchStrategy[str]:
    return st.lists(st.integers(0, 255), min_size=size, max_size=size).map(
        lambda octets: ":".join(f"{x:02x}" for x in octets)
    )


def _interval() -> st.SearchStrategy[dt.timedelta | Interval]:
    # An interval with months is an Interval (timedelta has no months); one
    # without is a timedelta, as pgpipe decodes it.
    with_months = st.builds(
        Interval,
        st.integers(-120_000, 120_000).filter(bool),
        st.integers(-(10**6), 10**6),
        st.integers(-(10**6) * 86_400_000_000, 10**6 * 86_400_000_000),
    )
    deltas = st.timedeltas(
        min_value=dt.timedelta(days=-(10**6)), max_value=dt.timedelta(days=10**6)
    )
    return deltas | with_months


def _scalars() -> dict[Type, st.SearchStrategy[Any]]:
    return {
        Type.BOOL: st.booleans(),
        Type.INT2: st.integers(-(2**15), 2**15 - 1),
        Type.INT4: st.integers(-(2**31), 2**31 - 1),
        Type.INT8: st.integers(-(2**63), 2**63 - 1),
        Type.OID: st.integers(0, 2**32 - 1),
        Type.FLOAT4: st.floats(width=32),
        Type.FLOAT8: st.floats(),
        Type.NUMERIC: _numeric(),
        Type.TEXT: text_values(),
        Type.VARCHAR: text_values(),
        Type.CHAR: st.characters(min_codepoint=1, max_codepoint=127),
        Type.BYTEA: st.binary(),
        Type.DATE: st.dates(),
        Type.TIME: st.times(),
        Type.TIMETZ: st.times(timezones=_UTC_OFFSETS),
        Type.TIMESTAMP: st.datetimes(),
        Type.TIMESTAMPTZ: _TIMESTAMPTZ,
        Type.INTERVAL: _interval(),
        Type.UUID: st.uuids(),
        Type.JSON: _JSON_PARAMETERS,
        Type.JSONB: _JSON_PARAMETERS,
        Type.INET: _inet(),
        Type.CIDR: _cidr(),
        Type.MACADDR: _mac(6),
        Type.MACADDR8: _mac(8),
        Type.MONEY: st.integers(-(10**15), 10**15).map(lambda cents: Decimal(cents).scaleb(-2)),
        Type.PG_LSN: st.integers(0, 2**64 - 1).map(lambda n: f"{n >> 32:X}/{n & 0xFFFFFFFF:X}"),
        Type.VARBIT: st.text("01", max_size=40),
        Type.POINT: _POINTS,
        # PostgreSQL takes |A| below 1e-6 as zero, and A = B = 0 is no line.
        Type.LINE: st.builds(
            Line, _COORDINATES.filter(lambda a: abs(a) > 1e-3), _COORDINATES, _COORDINATES
        ),
        Type.LSEG: st.builds(LineSegment, _POINTS, _POINTS),
        # PostgreSQL stores a box by its upper right and lower left corners.
        Type.BOX: st.builds(
            lambda p, q: Box(
                Point(max(p.x, q.x), max(p.y, q.y)), Point(min(p.x, q.x), min(p.y, q.y))
            ),
            _POINTS,
            _POINTS,
        ),
        Type.PATH: st.builds(
            Path, st.lists(_POINTS, min_size=1, max_size=5).map(tuple), st.booleans()
        ),
        Type.POLYGON: st.builds(Polygon, st.lists(_POINTS, min_size=1, max_size=5).map(tuple)),
        Type.CIRCLE: st.builds(Circle, _POINTS, _COORDINATES.map(abs)),
        Type.INT4RANGE: ranges(st.integers(-(2**31), 2**31 - 2), discrete=True),
        Type.INT8RANGE: ranges(st.integers(-(2**63), 2**63 - 2), discrete=True),
        Type.NUMRANGE: ranges(st.decimals(allow_nan=False, allow_infinity=False, places=4)),
        Type.DATERANGE: ranges(st.dates(max_value=dt.date(9999, 12, 30)), discrete=True),
        Type.TSRANGE: ranges(st.datetimes()),
        Type.TSTZRANGE: ranges(_TIMESTAMPTZ),
        Type.INT4MULTIRANGE: _multiranges(-(2**31), 2**31 - 1),
        Type.INT8MULTIRANGE: _multiranges(-(2**63), 2**63 - 1),
    }


# Elements that cannot sit in an array: a multirange is a list, so it would be
# read as one more dimension; JSON elements are limited to objects for the same reason.
_NO_ARRAYS: Final = frozenset({Type.INT4MULTIRANGE, Type.INT8MULTIRANGE})
_ELEMENT_OVERRIDES: Final[dict[Type, st.SearchStrategy[Any]]] = {
    Type.JSON: st.dictionaries(text_values(max_size=10), _JSON, max_size=4),
    Type.JSONB: st.dictionaries(text_values(max_size=10), _JSON, max_size=4),
    # Built from ints: st.binary() inside lists trips -bb in hypothesis's own cache.
    Type.BYTEA: st.lists(st.integers(0, 255), max_size=20).map(bytes),
}


def _all_values() -> dict[Type, st.SearchStrategy[Any]]:
    table = _scalars()
    for element in list(table):
        if element in _NO_ARRAYS:
            continue
        array = Type[f"{element.name}_ARRAY"]
        table[array] = arrays(_ELEMENT_OVERRIDES.get(element, table[element]))
    return table


_VALUES: Final = _all_values()

SUPPORTED_TYPES: Final[tuple[Type, ...]] = tuple(_VALUES)
"""The types ``values`` draws for: scalars, ranges, multiranges and their arrays."""


def values(oid: int) -> st.SearchStrategy[Any]:
    """Python values of the PostgreSQL type ``oid`` (a ``Type``), as pgpipe sends and
    returns them; each one survives a round trip through PostgreSQL, text or binary.

    None (NULL) is not drawn; wrap with ``st.none() | values(...)`` for it.
    """
    try:
        return _VALUES[Type(oid)]
    except (KeyError, ValueError):
        raise InterfaceError(
            f"pgpipe.strategies has no values for type OID {oid}; see SUPPORTED_TYPES"
        ) from None


def typed_values(types: Sequence[int] = SUPPORTED_TYPES) -> st.SearchStrategy[tuple[Any, Type]]:
    """``(value, oid)`` pairs across ``types`` (default: every supported type), ready for
    ``query_with_param_types(sql, [(value, oid)])``."""
    return st.sampled_from([Type(oid) for oid in types]).flatmap(
        lambda oid: values(oid).map(lambda value: (value, oid))
    )


def _float4(value: float) -> bytes:
    return struct.pack("!f", value)


def same_value(oid: int, sent: Any, received: Any) -> bool:
    """Whether ``received`` is the value ``sent`` as type ``oid`` came back as.

    Equal and of the same Python type, with two equivalences: NaN equals NaN
    (float and Decimal; numeric's NaN has no sign), and float4 values are
    compared at float4 precision (text results print the shortest decimal
    that reads back as the same float4, which Python reads as a float8).
    Decimals compare as numbers (``1.50 == 1.5``), aware datetimes as instants
    (they come back in the session's time zone).
    """
    element = _element_of(oid)
    if isinstance(sent, list):
        return (
            isinstance(received, list)
            and len(sent) == len(received)
            and all(same_value(element, a, b) for a, b in zip(sent, received, strict=True))
        )
    if isinstance(sent, float) and math.isnan(sent):
        return isinstance(received, float) and math.isnan(received)
    if isinstance(sent, Decimal) and sent.is_nan():
        return isinstance(received, Decimal) and received.is_nan()
    if element == Type.FLOAT4 and isinstance(sent, float) and isinstance(received, float):
        return _float4(sent) == _float4(received)
    return type(sent) is type(received) and bool(sent == received)


def _element_of(oid: int) -> int:
    try:
        name = Type(oid).name
    except ValueError:
        return oid
    return Type[name.removesuffix("_ARRAY")] if name.endswith("_ARRAY") else oid


# -- frontend messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartupMessage:
    """Protocol version (3.0 is ``196608``) and ``(name, value)`` parameters, ``user`` first."""

    parameters: tuple[tuple[str, str], ...]
    protocol: int = 196608


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Sent on a new connection: the process ID and secret key from BackendKeyData."""

    process_id: int
    secret_key: bytes


@dataclass(frozen=True, slots=True)
class SSLRequest:
    """Asks the server to switch to TLS before the StartupMessage."""


@dataclass(frozen=True, slots=True)
class GSSENCRequest:
    """Asks the server to switch to GSSAPI encryption before the StartupMessage."""


@dataclass(frozen=True, slots=True)
class PasswordMessage:
    """A cleartext password or an md5 hash, without NUL."""

    password: bytes


@dataclass(frozen=True, slots=True)
class SASLInitialResponse:
    mechanism: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SASLResponse:
    data: bytes


@dataclass(frozen=True, slots=True)
class Query:
    """The simple protocol: SQL text, possibly several statements."""

    sql: str


@dataclass(frozen=True, slots=True)
class Parse:
    """Prepare ``sql`` as ``statement`` ("" is the unnamed one); OID 0 leaves a type open."""

    statement: str
    sql: str
    param_oids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Bind:
    """Format code lists hold none (all text), one (for all) or one code per value."""

    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Describe:
    """``kind`` is ``"S"`` (a prepared statement) or ``"P"`` (a portal)."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Execute:
    """``max_rows`` 0 means every row."""

    portal: str
    max_rows: int = 0


@dataclass(frozen=True, slots=True)
class Close:
    """``kind`` is ``"S"`` (a prepared statement) or ``"P"`` (a portal)."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Sync:
    pass


@dataclass(frozen=True, slots=True)
class Flush:
    pass


@dataclass(frozen=True, slots=True)
class Terminate:
    pass


@dataclass(frozen=True, slots=True)
class CopyData:
    """COPY data, in either direction."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CopyDone:
    """The end of COPY data, in either direction."""


@dataclass(frozen=True, slots=True)
class CopyFail:
    reason: str


FrontendMessage: TypeAlias = (
    StartupMessage
    | CancelRequest
    | SSLRequest
    | GSSENCRequest
    | PasswordMessage
    | SASLInitialResponse
    | SASLResponse
    | Query
    | Parse
    | Bind
    | Describe
    | Execute
    | Close
    | Sync
    | Flush
    | Terminate
    | CopyData
    | CopyDone
    | CopyFail
)

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_U32 = struct.Struct("!I")


def _cstring(text: str) -> bytes:
    return text.encode("utf-8") + b"\x00"


def _typed(kind: bytes, body: bytes = b"") -> bytes:
    # Byte1 type, Int32 length counting itself but not the type byte, the body.
    return kind + _I32.pack(len(body) + 4) + body


def _untyped(body: bytes) -> bytes:
    return _I32.pack(len(body) + 4) + body


def _codes(codes: Sequence[int]) -> bytes:
    return _I16.pack(len(codes)) + b"".join(_I16.pack(c) for c in codes)


def _parameter_value(value: bytes | None) -> bytes:
    return _I32.pack(-1) if value is None else _I32.pack(len(value)) + value


_FRONTEND_WRITERS: Final[dict[type, Callable[[Any], bytes]]] = {
    StartupMessage: lambda m: _untyped(
        _I32.pack(m.protocol)
        + b"".join(_cstring(name) + _cstring(value) for name, value in m.parameters)
        + b"\x00"
    ),
    CancelRequest: lambda m: _untyped(_I32.pack(80877102) + _I32.pack(m.process_id) + m.secret_key),
    SSLRequest: lambda m: _untyped(_I32.pack(80877103)),
    GSSENCRequest: lambda m: _untyped(_I32.pack(80877104)),
    PasswordMessage: lambda m: _typed(b"p", m.password + b"\x00"),
    SASLInitialResponse: lambda m: _typed(
        b"p", _cstring(m.mechanism) + _I32.pack(len(m.data)) + m.data
    ),
    SASLResponse: lambda m: _typed(b"p", m.data),
    Query: lambda m: _typed(b"Q", _cstring(m.sql)),
    Parse: lambda m: _typed(
        b"P",
        _cstring(m.statement)
        + _cstring(m.sql)
        + _I16.pack(len(m.param_oids))
        + b"".join(_U32.pack(oid) for oid in m.param_oids),
    ),
    Bind: lambda m: _typed(
        b"B",
        _cstring(m.portal)
        + _cstring(m.statement)
        + _codes(m.param_formats)
        + _I16.pack(len(m.params))
        + b"".join(_parameter_value(v) for v in m.params)
        + _codes(m.result_formats),
    ),
    Describe: lambda m: _typed(b"D", m.kind.encode("ascii") + _cstring(m.name)),
    Execute: lambda m: _typed(b"E", _cstring(m.portal) + _I32.pack(m.max_rows)),
    Close: lambda m: _typed(b"C", m.kind.encode("ascii") + _cstring(m.name)),
    Sync: lambda m: _typed(b"S"),
    Flush: lambda m: _typed(b"H"),
    Terminate: lambda m: _typed(b"X"),
    CopyData: lambda m: _typed(b"d", m.data),
    CopyDone: lambda m: _typed(b"c"),
    CopyFail: lambda m: _typed(b"f", _cstring(m.reason)),
}


def frontend_bytes(message: FrontendMessage) -> bytes:
    """The exact bytes of a frontend message, from the protocol's message formats."""
    return _FRONTEND_WRITERS[type(message)](message)


_NAMES: Final = text_values(max_size=20)
_SHORT_BYTES: Final = st.lists(st.integers(0, 255), max_size=64).map(bytes)
_NO_NUL_BYTES: Final = st.lists(st.integers(1, 255), max_size=64).map(bytes)
_FORMAT: Final = st.sampled_from([0, 1])


def _startup_parameters() -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    # Names are never empty: an empty name ends the list.
    names = text_values(min_size=1, max_size=20).filter(lambda n: n != "user")
    return st.tuples(_NAMES, st.dictionaries(names, text_values(max_size=20), max_size=5)).map(
        lambda drawn: (("user", drawn[0]), *drawn[1].items())
    )


@st.composite
def _binds(draw: st.DrawFn) -> Bind:
    params = tuple(draw(st.lists(st.none() | _SHORT_BYTES, max_size=8)))
    one_each = st.lists(_FORMAT, min_size=len(params), max_size=len(params)).map(tuple)
    param_formats = draw(st.just(()) | _FORMAT.map(lambda f: (f,)) | one_each)
    result_formats = tuple(draw(st.lists(_FORMAT, max_size=5)))
    return Bind(draw(_NAMES), draw(_NAMES), param_formats, params, result_formats)


_FRONTEND_STRATEGIES: Final[dict[type, st.SearchStrategy[Any]]] = {
    # Protocol 3.0, and 3.2 (PostgreSQL 18: longer cancel keys).
    StartupMessage: st.builds(
        StartupMessage, _startup_parameters(), st.sampled_from([196608, 196610])
    ),
    CancelRequest: st.builds(
        CancelRequest, st.integers(0, 2**31 - 1), st.binary(min_size=4, max_size=256)
    ),
    SSLRequest: st.just(SSLRequest()),
    GSSENCRequest: st.just(GSSENCRequest()),
    PasswordMessage: st.builds(PasswordMessage, _NO_NUL_BYTES),
    SASLInitialResponse: st.builds(
        SASLInitialResponse, st.sampled_from(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]), _SHORT_BYTES
    ),
    SASLResponse: st.builds(SASLResponse, _SHORT_BYTES),
    Query: st.builds(Query, text_values()),
    Parse: st.builds(
        Parse, _NAMES, text_values(), st.lists(st.integers(0, 2**32 - 1), max_size=10).map(tuple)
    ),
    Bind: _binds(),
    Describe: st.builds(Describe, st.sampled_from(["S", "P"]), _NAMES),
    Execute: st.builds(Execute, _NAMES, st.integers(0, 2**31 - 1)),
    Close: st.builds(Close, st.sampled_from(["S", "P"]), _NAMES),
    Sync: st.just(Sync()),
    Flush: st.just(Flush()),
    Terminate: st.just(Terminate()),
    CopyData: st.builds(CopyData, _SHORT_BYTES),
    CopyDone: st.just(CopyDone()),
    CopyFail: st.builds(CopyFail, text_values(max_size=40)),
}

FRONTEND_MESSAGE_TYPES: Final[tuple[type, ...]] = tuple(_FRONTEND_STRATEGIES)


def _with_bytes(
    table: dict[type, st.SearchStrategy[Any]],
    kinds: Sequence[type],
    encode: Callable[[Any], bytes],
) -> st.SearchStrategy[tuple[Any, bytes]]:
    chosen = kinds or tuple(table)
    unknown = [kind.__name__ for kind in chosen if kind not in table]
    if unknown:
        raise InterfaceError(f"pgpipe.strategies has no messages of type {', '.join(unknown)}")
    return st.one_of([table[kind] for kind in chosen]).map(lambda m: (m, encode(m)))


def frontend_messages(*kinds: type) -> st.SearchStrategy[tuple[FrontendMessage, bytes]]:
    """``(message, bytes)`` for frontend messages of the given classes (default: all).

    Every message is one a server accepts as well-formed: C strings without
    NUL, format codes 0 or 1, at most as many format codes as values.
    """
    return _with_bytes(_FRONTEND_STRATEGIES, kinds, frontend_bytes)


# -- backend messages ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthenticationOk:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationKerberosV5:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationCleartextPassword:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationMD5Password:
    salt: bytes


@dataclass(frozen=True, slots=True)
class AuthenticationGSS:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationGSSContinue:
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthenticationSSPI:
    pass


@dataclass(frozen=True, slots=True)
class AuthenticationSASL:
    mechanisms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthenticationSASLContinue:
    data: bytes


@dataclass(frozen=True, slots=True)
class AuthenticationSASLFinal:
    data: bytes


@dataclass(frozen=True, slots=True)
class ParameterStatus:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class BackendKeyData:
    """A 4-byte secret key before protocol 3.2, 4 to 256 bytes from 3.2 on."""

    process_id: int
    secret_key: bytes


@dataclass(frozen=True, slots=True)
class NegotiateProtocolVersion:
    """The newest minor version the server speaks and the options it did not recognise."""

    minor: int
    unrecognized: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadyForQuery:
    """``status``: ``"I"`` idle, ``"T"`` in a transaction block, ``"E"`` in a failed one."""

    status: str


@dataclass(frozen=True, slots=True)
class FieldDescription:
    """One column of a RowDescription."""

    name: str
    table_oid: int = 0
    column_number: int = 0
    type_oid: int = 25
    type_size: int = -1
    type_modifier: int = -1
    format: int = 0


@dataclass(frozen=True, slots=True)
class RowDescription:
    fields: tuple[FieldDescription, ...]


@dataclass(frozen=True, slots=True)
class DataRow:
    """Each column's bytes, or None for NULL."""

    values: tuple[bytes | None, ...]


@dataclass(frozen=True, slots=True)
class CommandComplete:
    tag: str


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """``(code, text)`` fields in order: ``S`` severity, ``V``, ``C`` SQLSTATE, ``M``..."""

    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class NoticeResponse:
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ParseComplete:
    pass


@dataclass(frozen=True, slots=True)
class BindComplete:
    pass


@dataclass(frozen=True, slots=True)
class CloseComplete:
    pass


@dataclass(frozen=True, slots=True)
class NoData:
    pass


@dataclass(frozen=True, slots=True)
class PortalSuspended:
    pass


@dataclass(frozen=True, slots=True)
class EmptyQueryResponse:
    pass


@dataclass(frozen=True, slots=True)
class ParameterDescription:
    type_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NotificationResponse:
    process_id: int
    channel: str
    payload: str


@dataclass(frozen=True, slots=True)
class CopyInResponse:
    """Overall format (0 text, 1 binary) and one format code per column."""

    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyOutResponse:
    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyBothResponse:
    format: int
    column_formats: tuple[int, ...]


BackendMessage: TypeAlias = (
    AuthenticationOk
    | AuthenticationKerberosV5
    | AuthenticationCleartextPassword
    | AuthenticationMD5Password
    | AuthenticationGSS
    | AuthenticationGSSContinue
    | AuthenticationSSPI
    | AuthenticationSASL
    | AuthenticationSASLContinue
    | AuthenticationSASLFinal
    | ParameterStatus
    | BackendKeyData
    | NegotiateProtocolVersion
    | ReadyForQuery
    | RowDescription
    | DataRow
    | CommandComplete
    | ErrorResponse
    | NoticeResponse
    | ParseComplete
    | BindComplete
    | CloseComplete
    | NoData
    | PortalSuspended
    | EmptyQueryResponse
    | ParameterDescription
    | NotificationResponse
    | CopyInResponse
    | CopyOutResponse
    | CopyBothResponse
    | CopyData
    | CopyDone
)

_FIELD_TAIL = struct.Struct("!IhIhih")


def _authentication(code: int, data: bytes = b"") -> bytes:
    return _typed(b"R", _I32.pack(code) + data)


def _fields(fields: Sequence[tuple[str, str]]) -> bytes:
    return b"".join(code.encode("ascii") + _cstring(text) for code, text in fields) + b"\x00"


def _copy_response(kind: bytes) -> Callable[[Any], bytes]:
    return lambda m: _typed(
        kind,
        struct.pack("!bh", m.format, len(m.column_formats))
        + b"".join(_I16.pack(c) for c in m.column_formats),
    )


def _field_description(f: FieldDescription) -> bytes:
    return _cstring(f.name) + _FIELD_TAIL.pack(
        f.table_oid, f.column_number, f.type_oid, f.type_size, f.type_modifier, f.format
    )


_BACKEND_WRITERS: Final[dict[type, Callable[[Any], bytes]]] = {
    AuthenticationOk: lambda m: _authentication(0),
    AuthenticationKerberosV5: lambda m: _authentication(2),
    AuthenticationCleartextPassword: lambda m: _authentication(3),
    AuthenticationMD5Password: lambda m: _authentication(5, m.salt),
    AuthenticationGSS: lambda m: _authentication(7),
    AuthenticationGSSContinue: lambda m: _authentication(8, m.data),
    AuthenticationSSPI: lambda m: _authentication(9),
    AuthenticationSASL: lambda m: _authentication(
        10, b"".join(_cstring(name) for name in m.mechanisms) + b"\x00"
    ),
    AuthenticationSASLContinue: lambda m: _authentication(11, m.data),
    AuthenticationSASLFinal: lambda m: _authentication(12, m.data),
    ParameterStatus: lambda m: _typed(b"S", _cstring(m.name) + _cstring(m.value)),
    BackendKeyData: lambda m: _typed(b"K", _I32.pack(m.process_id) + m.secret_key),
    NegotiateProtocolVersion: lambda m: _typed(
        b"v",
        _I32.pack(m.minor)
        + _I32.pack(len(m.unrecognized))
        + b"".join(_cstring(option) for option in m.unrecognized),
    ),
    ReadyForQuery: lambda m: _typed(b"Z", m.status.encode("ascii")),
    RowDescription: lambda m: _typed(
        b"T", _I16.pack(len(m.fields)) + b"".join(_field_description(f) for f in m.fields)
    ),
    DataRow: lambda m: _typed(
        b"D", _I16.pack(len(m.values)) + b"".join(_parameter_value(v) for v in m.values)
    ),
    CommandComplete: lambda m: _typed(b"C", _cstring(m.tag)),
    ErrorResponse: lambda m: _typed(b"E", _fields(m.fields)),
    NoticeResponse: lambda m: _typed(b"N", _fields(m.fields)),
    ParseComplete: lambda m: _typed(b"1"),
    BindComplete: lambda m: _typed(b"2"),
    CloseComplete: lambda m: _typed(b"3"),
    NoData: lambda m: _typed(b"n"),
    PortalSuspended: lambda m: _typed(b"s"),
    EmptyQueryResponse: lambda m: _typed(b"I"),
    ParameterDescription: lambda m: _typed(
        b"t", _I16.pack(len(m.type_oids)) + b"".join(_U32.pack(oid) for oid in m.type_oids)
    ),
    NotificationResponse: lambda m: _typed(
        b"A", _I32.pack(m.process_id) + _cstring(m.channel) + _cstring(m.payload)
    ),
    CopyInResponse: _copy_response(b"G"),
    CopyOutResponse: _copy_response(b"H"),
    CopyBothResponse: _copy_response(b"W"),
    CopyData: lambda m: _typed(b"d", m.data),
    CopyDone: lambda m: _typed(b"c"),
}


def backend_bytes(message: BackendMessage) -> bytes:
    """The exact bytes of a backend message, from the protocol's message formats."""
    return _BACKEND_WRITERS[type(message)](message)


_PROCESS_IDS: Final = st.integers(1, 2**31 - 1)
_SQLSTATES: Final = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=5)
# The field codes of ErrorResponse and NoticeResponse that PostgreSQL sends.
_FIELD_CODES: Final = "DHPpqWstcdnFLR"


@st.composite
def _error_fields(draw: st.DrawFn, severities: Sequence[str]) -> tuple[tuple[str, str], ...]:
    severity = draw(st.sampled_from(severities))
    fields = [("S", severity), ("V", severity), ("C", draw(_SQLSTATES)), ("M", draw(_NAMES))]
    extra = draw(st.lists(st.sampled_from(_FIELD_CODES), unique=True, max_size=4))
    fields += [(code, draw(text_values(max_size=20))) for code in extra]
    return tuple(fields)


_ERROR_SEVERITIES: Final = ("ERROR",)
_NOTICE_SEVERITIES: Final = ("WARNING", "NOTICE", "DEBUG", "INFO", "LOG")
_VALUE_BYTES: Final = st.none() | _SHORT_BYTES
_COMMAND_TAGS: Final = st.one_of(
    st.integers(0, 2**31).map(lambda n: f"SELECT {n}"),
    st.integers(0, 2**31).map(lambda n: f"INSERT 0 {n}"),
    st.integers(0, 2**31).map(lambda n: f"UPDATE {n}"),
    st.integers(0, 2**31).map(lambda n: f"DELETE {n}"),
    st.sampled_from(["BEGIN", "COMMIT", "ROLLBACK", "SET", "CREATE TABLE", "DO"]),
)
# Settings a server reports, with values a client must take in its stride.
# pgpipe, like most drivers, holds client_encoding to UTF8: it is left out.
_PARAMETER_STATUSES: Final = st.one_of(
    st.builds(ParameterStatus, st.just("application_name"), text_values(max_size=20)),
    st.builds(
        ParameterStatus,
        st.just("TimeZone"),
        st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]),
    ),
    st.builds(ParameterStatus, st.just("is_superuser"), st.sampled_from(["on", "off"])),
    st.builds(ParameterStatus, st.just("in_hot_standby"), st.sampled_from(["on", "off"])),
)


def _field_descriptions() -> st.SearchStrategy[FieldDescription]:
    return st.builds(
        FieldDescription,
        _NAMES,
        st.integers(0, 2**32 - 1),
        st.integers(-(2**15), 2**15 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(-(2**15), 2**15 - 1),
        st.integers(-(2**31), 2**31 - 1),
        _FORMAT,
    )


def _copy_responses(cls: type[_T]) -> st.SearchStrategy[_T]:
    return st.builds(cls, _FORMAT, st.lists(_FORMAT, max_size=8).map(tuple))


_BACKEND_STRATEGIES: Final[dict[type, st.SearchStrategy[Any]]] = {
    AuthenticationOk: st.just(AuthenticationOk()),
    AuthenticationKerberosV5: st.just(AuthenticationKerberosV5()),
    AuthenticationCleartextPassword: st.just(AuthenticationCleartextPassword()),
    AuthenticationMD5Password: st.builds(
        AuthenticationMD5Password, st.binary(min_size=4, max_size=4)
    ),
    AuthenticationGSS: st.just(AuthenticationGSS()),
    AuthenticationGSSContinue: st.builds(AuthenticationGSSContinue, _SHORT_BYTES),
    AuthenticationSSPI: st.just(AuthenticationSSPI()),
    AuthenticationSASL: st.builds(
        AuthenticationSASL,
        st.lists(
            st.sampled_from(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]),
            min_size=1,
            max_size=2,
            unique=True,
        ).map(tuple),
    ),
    AuthenticationSASLContinue: st.builds(AuthenticationSASLContinue, _SHORT_BYTES),
    AuthenticationSASLFinal: st.builds(AuthenticationSASLFinal, _SHORT_BYTES),
    ParameterStatus: _PARAMETER_STATUSES,
    BackendKeyData: st.builds(BackendKeyData, _PROCESS_IDS, st.binary(min_size=4, max_size=256)),
    NegotiateProtocolVersion: st.builds(
        NegotiateProtocolVersion,
        st.integers(0, 2),
        st.lists(_NAMES.map(lambda n: f"_pq_.{n}"), max_size=3).map(tuple),
    ),
    ReadyForQuery: st.builds(ReadyForQuery, st.sampled_from(["I", "T", "E"])),
    RowDescription: st.builds(
        RowDescription, st.lists(_field_descriptions(), max_size=6).map(tuple)
    ),
    DataRow: st.builds(DataRow, st.lists(_VALUE_BYTES, max_size=8).map(tuple)),
    CommandComplete: st.builds(CommandComplete, _COMMAND_TAGS),
    ErrorResponse: st.builds(ErrorResponse, _error_fields(_ERROR_SEVERITIES)),
    NoticeResponse: st.builds(NoticeResponse, _error_fields(_NOTICE_SEVERITIES)),
    ParseComplete: st.just(ParseComplete()),
    BindComplete: st.just(BindComplete()),
    CloseComplete: st.just(CloseComplete()),
    NoData: st.just(NoData()),
    PortalSuspended: st.just(PortalSuspended()),
    EmptyQueryResponse: st.just(EmptyQueryResponse()),
    ParameterDescription: st.builds(
        ParameterDescription, st.lists(st.integers(0, 2**32 - 1), max_size=10).map(tuple)
    ),
    NotificationResponse: st.builds(NotificationResponse, _PROCESS_IDS, _NAMES, _NAMES),
    CopyInResponse: _copy_responses(CopyInResponse),
    CopyOutResponse: _copy_responses(CopyOutResponse),
    CopyBothResponse: _copy_responses(CopyBothResponse),
    CopyData: st.builds(CopyData, _SHORT_BYTES),
    CopyDone: st.just(CopyDone()),
}

BACKEND_MESSAGE_TYPES: Final[tuple[type, ...]] = tuple(_BACKEND_STRATEGIES)


def backend_messages(*kinds: type) -> st.SearchStrategy[tuple[BackendMessage, bytes]]:
    """``(message, bytes)`` for backend messages of the given classes (default: all)."""
    return _with_bytes(_BACKEND_STRATEGIES, kinds, backend_bytes)


_ASYNCHRONOUS: Final = st.one_of(
    _BACKEND_STRATEGIES[NoticeResponse],
    _BACKEND_STRATEGIES[NotificationResponse],
    _BACKEND_STRATEGIES[ParameterStatus],
)


@st.composite
def _one_packet_answer(draw: st.DrawFn) -> list[BackendMessage]:
    answer: list[BackendMessage] = [ParseComplete(), BindComplete()]
    columns = draw(st.lists(_field_descriptions(), max_size=5).map(tuple))
    if draw(st.booleans()):
        answer.append(RowDescription(columns))
        rows = draw(
            st.lists(
                st.lists(_VALUE_BYTES, min_size=len(columns), max_size=len(columns)),
                max_size=10,
            )
        )
        answer += [DataRow(tuple(row)) for row in rows]
        answer.append(CommandComplete(f"SELECT {len(rows)}"))
    else:
        answer.append(NoData())
        answer.append(
            draw(st.just(EmptyQueryResponse()) | st.builds(CommandComplete, _COMMAND_TAGS))
        )
    answer.append(CloseComplete())
    if draw(st.booleans()):
        # The server reports an error at any step and skips to the Sync.
        cut = draw(st.integers(0, len(answer) - 1))
        error = draw(_BACKEND_STRATEGIES[ErrorResponse])
        answer = [*answer[:cut], error]
    answer.append(ReadyForQuery(draw(st.sampled_from(["I", "T", "E"]))))
    return answer


@st.composite
def _with_asynchronous(draw: st.DrawFn, answer: list[BackendMessage]) -> list[BackendMessage]:
    # NoticeResponse, NotificationResponse and ParameterStatus may come at any time.
    for _ in range(draw(st.integers(0, 3))):
        answer.insert(draw(st.integers(0, len(answer))), draw(_ASYNCHRONOUS))
    return answer


def transcripts(
    *, asynchronous: bool = True
) -> st.SearchStrategy[tuple[tuple[BackendMessage, ...], bytes]]:
    """``(messages, bytes)``: the server's whole answer to a one-packet query
    (Parse, Bind, Describe portal, Execute, Close statement, Sync).

    ParseComplete, BindComplete, RowDescription and as many DataRows as it
    has columns' worth, or NoData and a CommandComplete or EmptyQueryResponse;
    CloseComplete; ReadyForQuery. Sometimes an ErrorResponse cuts it short
    at any step (the server skips to the ReadyForQuery). With
    ``asynchronous``, NoticeResponse, NotificationResponse and harmless
    ParameterStatus messages are slipped in anywhere, as servers may.
    """
    answers = _one_packet_answer()
    if asynchronous:
        answers = answers.flatmap(_with_asynchronous)
    return answers.map(lambda answer: (tuple(answer), b"".join(backend_bytes(m) for m in answer)))


# -- splitting and damaging byte streams ---------------------------------------------


def chunked(data: bytes, *, max_pieces: int = 40) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at random boundaries into at most ``max_pieces`` non-empty pieces,
    as a network delivers it; the pieces join back to ``data``."""
    if len(data) <= 1:
        return st.just([data] if data else [])
    cuts = st.sets(st.integers(1, len(data) - 1), max_size=max(max_pieces - 1, 0))
    return cuts.map(
        lambda points: [
            data[start:end]
            for start, end in zip([0, *sorted(points)], [*sorted(points), len(data)], strict=True)
        ]
    )


MUTATIONS: Final = ("flip", "insert", "delete", "dup", "length", "cut")
"""What ``mutated`` may do: set a byte, insert random bytes, delete bytes,
duplicate a run, overwrite four bytes with a random Int32 (a length), cut the rest."""


@st.composite
def mutated(
    draw: st.DrawFn,
    data: bytes,
    *,
    mutations: Sequence[str] = MUTATIONS,
    max_mutations: int = 6,
) -> bytes:
    """``data`` damaged 1 to ``max_mutations`` times by the chosen ``MUTATIONS``."""
    stream = bytearray(data)
    for _ in range(draw(st.integers(1, max_mutations))):
        if not stream:
            break
        i = draw(st.integers(0, len(stream) - 1))
        how = draw(st.sampled_from(list(mutations)))
        if how == "flip":
            stream[i] = draw(st.integers(0, 255))
        elif how == "insert":
            stream[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif how == "delete":
            del stream[i : i + draw(st.integers(1, 16))]
        elif how == "dup":
            stream[i:i] = stream[i : i + draw(st.integers(1, 64))]
        elif how == "length" and i + 4 <= len(stream):
            stream[i : i + 4] = _I32.pack(draw(st.integers(-(2**31), 2**31 - 1)))
        elif how == "cut":
            del stream[i:]
    return bytes(stream)
