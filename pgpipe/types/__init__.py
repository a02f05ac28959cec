"""Type OIDs and the codecs between PostgreSQL values and Python values.

Never imported by ``pgpipe.protocol``: the core hands raw column bytes up and
takes encoded parameters down. Four functions serve the session layer:

- ``result_decoder(oid, format)``: the function for one result column;
- ``has_binary_decoder(oid)``: whether binary results can be asked for;
- ``encode_typed(value, oid)``: a parameter whose type the caller named;
- ``encode_inferred(value)``: a parameter whose type follows from its Python type.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Final

from pgpipe.errors import DataError
from pgpipe.types import binary, text
from pgpipe.types.binary import Decoder
from pgpipe.types.oids import Type

__all__ = ["Type", "encode_inferred", "encode_typed", "has_binary_decoder", "result_decoder"]

_TEXT: Final = 0
_BINARY: Final = 1
_INT8_MIN: Final = -(2**63)
_INT8_MAX: Final = 2**63 - 1


def _raw(data: bytes) -> bytes:
    return data


def result_decoder(oid: int, fmt: int) -> Decoder:
    """The decoder for a column of type ``oid`` in format ``fmt`` (0 text, 1 binary).

    Types without a text decoder come back as ``str``; without a binary one, as
    the raw ``bytes`` (pgpipe only asks for binary when a decoder exists).
    """
    if fmt == _BINARY:
        return binary.DECODERS.get(oid, _raw)
    return text.DECODERS.get(oid, text.decode_str)


def has_binary_decoder(oid: int) -> bool:
    return oid in binary.DECODERS


def encode_typed(value: object, oid: int) -> tuple[int, bytes | None]:
    """``(format, bytes)`` for a parameter of type ``oid``; None is NULL.

    A ``str`` is always sent as text, so any type's literal syntax works
    (``("2024-01-01", Type.DATE)``); other values use the binary encoder of
    the type, or text for types without one.
    """
    if value is None:
        return _BINARY, None
    if isinstance(value, str):
        return _TEXT, binary.check_text(value)
    encoder = binary.ENCODERS.get(oid)
    if encoder is None:
        return _TEXT, text.to_text(value)
    return _BINARY, encoder(value)


# Python type -> parameter type for query(); str and None are sent untyped.
_INFERRED: Final[dict[type, int]] = {
    bool: Type.BOOL,
    float: Type.FLOAT8,
    Decimal: Type.NUMERIC,
    bytes: Type.BYTEA,
    bytearray: Type.BYTEA,
    memoryview: Type.BYTEA,
    dt.date: Type.DATE,
    dt.timedelta: Type.INTERVAL,
    uuid.UUID: Type.UUID,
    dict: Type.JSONB,
    list: Type.JSONB,
}


def _infer_oid(value: object) -> int:
    cls = type(value)
    oid = _INFERRED.get(cls)
    if oid is not None:
        return oid
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int):
        return Type.INT8 if _INT8_MIN <= value <= _INT8_MAX else Type.NUMERIC
    if isinstance(value, dt.datetime):
        return Type.TIMESTAMP if value.utcoffset() is None else Type.TIMESTAMPTZ
    if isinstance(value, dt.time):
        return Type.TIME if value.utcoffset() is None else Type.TIMETZ
    for base, base_oid in _INFERRED.items():
        if isinstance(value, base):
            return base_oid
    raise DataError(
        f"cannot adapt type {cls.__name__}; pass it with query_with_param_types or as str"
    )


def encode_inferred(value: object) -> tuple[int, int, bytes | None]:
    """``(oid, format, bytes)`` for a parameter of ``query()``.

    ``None`` and ``str`` go untyped (OID 0) as text, so the server infers the
    type from the statement, as it would for a quoted literal.
    """
    if value is None:
        return 0, _TEXT, None
    if isinstance(value, str):
        return 0, _TEXT, binary.check_text(value)
    oid = _infer_oid(value)
    return oid, _BINARY, binary.ENCODERS[oid](value)
