"""Range and multirange types: ``Range`` values, and lists of them, in both formats.

A ``Range`` has a lower and an upper bound (None: unbounded), ``bounds``
saying which are inclusive (``"[)"`` by default, as PostgreSQL writes discrete
ranges) and ``empty``. PostgreSQL canonicalises discrete ranges: ``[1,5]``
of int4range comes back as ``[1,6)``. A multirange is a list of ranges.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pgpipe.errors import DataError
from pgpipe.types.binary import Decoder, Encoder
from pgpipe.types.literals import split_fields
from pgpipe.types.oids import Type

_EMPTY: Final = 0x01
_LOWER_INCLUSIVE: Final = 0x02
_UPPER_INCLUSIVE: Final = 0x04
_LOWER_INFINITE: Final = 0x08
_UPPER_INFINITE: Final = 0x10
_I32 = struct.Struct("!i")


@dataclass(frozen=True, slots=True)
class Range:
    """A range of values; None for an unbounded side.

    >>> Range(1, 10)           # [1,10)
    Range(lower=1, upper=10, bounds='[)', empty=False)
    """

    lower: Any = None
    upper: Any = None
    bounds: str = "[)"
    empty: bool = False

    def __post_init__(self) -> None:
        if self.bounds not in ("[)", "[]", "()", "(]"):
            raise ValueError(f"bounds must be one of [) [] () (], not {self.bounds!r}")
        if self.empty:
            normal = (None, None, "()")
        else:
            # An unbounded side is never inclusive, as PostgreSQL writes it.
            normal = (
                self.lower,
                self.upper,
                ("(" if self.lower is None else self.bounds[0])
                + (")" if self.upper is None else self.bounds[1]),
            )
        object.__setattr__(self, "lower", normal[0])
        object.__setattr__(self, "upper", normal[1])
        object.__setattr__(self, "bounds", normal[2])

    @property
    def lower_inc(self) -> bool:
        return self.bounds[0] == "["

    @property
    def upper_inc(self) -> bool:
        return self.bounds[1] == "]"


EMPTY: Final = Range(empty=True)

SUBTYPE: Final[dict[int, int]] = {
    Type.INT4RANGE: Type.INT4,
    Type.INT8RANGE: Type.INT8,
    Type.NUMRANGE: Type.NUMERIC,
    Type.DATERANGE: Type.DATE,
    Type.TSRANGE: Type.TIMESTAMP,
    Type.TSTZRANGE: Type.TIMESTAMPTZ,
}
MULTIRANGE: Final[dict[int, int]] = {
    Type.INT4MULTIRANGE: Type.INT4RANGE,
    Type.INT8MULTIRANGE: Type.INT8RANGE,
    Type.NUMMULTIRANGE: Type.NUMRANGE,
    Type.DATEMULTIRANGE: Type.DATERANGE,
    Type.TSMULTIRANGE: Type.TSRANGE,
    Type.TSTZMULTIRANGE: Type.TSTZRANGE,
}
RANGE_OF: Final[dict[int, int]] = {subtype: range_ for range_, subtype in SUBTYPE.items()}


def binary_decoder(element: Decoder) -> Decoder:
    def decode(data: bytes) -> Range:
        flags = data[0]
        if flags & _EMPTY:
            if len(data) != 1:
                raise DataError("invalid binary empty range")
            return EMPTY
        pos = 1
        bounds: list[Any] = []
        for infinite in (flags & _LOWER_INFINITE, flags & _UPPER_INFINITE):
            if infinite:
                bounds.append(None)
                continue
            (length,) = _I32.unpack_from(data, pos)
            if not 0 <= length <= len(data) - pos - 4:
                raise DataError("invalid binary range bound")
            bounds.append(element(data[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        if pos != len(data):
            raise DataError("trailing bytes after a binary range")
        brackets = ("[" if flags & _LOWER_INCLUSIVE else "(") + (
            "]" if flags & _UPPER_INCLUSIVE else ")"
        )
        return Range(bounds[0], bounds[1], brackets)

    return decode


def binary_encoder(element: Encoder) -> Encoder:
    def encode(value: Any) -> bytes:
        if not isinstance(value, Range):
            raise DataError(f"a range is sent from a Range, not {type(value).__name__}")
        if value.empty:
            return bytes([_EMPTY])
        flags = (_LOWER_INCLUSIVE if value.lower_inc else 0) | (
            _UPPER_INCLUSIVE if value.upper_inc else 0
        )
        parts = [b""]
        for bound, infinite in ((value.lower, _LOWER_INFINITE), (value.upper, _UPPER_INFINITE)):
            if bound is None:
                flags |= infinite
            else:
                data = element(bound)
                parts += [_I32.pack(len(data)), data]
        parts[0] = bytes([flags])
        return b"".join(parts)

    return encode


def _split_bounds(text: str) -> tuple[str | None, str | None]:
    """The two bound texts of ``[a,b)`` (None when unbounded), unquoted."""
    bounds = split_fields(text[1:-1])
    if len(bounds) != 2:
        raise DataError(f"malformed range {text!r}")
    return bounds[0], bounds[1]


def text_decoder(element: Decoder) -> Decoder:
    def bound(text: str | None) -> Any:
        return None if text is None else element(text.encode("utf-8"))

    def decode(data: bytes) -> Range:
        text = data.decode("utf-8")
        if text == "empty":
            return EMPTY
        if len(text) < 3 or text[0] not in "[(" or text[-1] not in "])":
            raise DataError(f"malformed range {text!r}")
        lower, upper = _split_bounds(text)
        return Range(bound(lower), bound(upper), text[0] + text[-1])

    return decode


def multirange_binary_decoder(range_decoder: Decoder) -> Decoder:
    def decode(data: bytes) -> list[Range]:
        (count,) = _I32.unpack_from(data, 0)
        pos = 4
        out = []
        for _ in range(count):
            (length,) = _I32.unpack_from(data, pos)
            if not 0 <= length <= len(data) - pos - 4:
                raise DataError("invalid binary multirange")
            out.append(range_decoder(data[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        if pos != len(data):
            raise DataError("trailing bytes after a binary multirange")
        return out

    return decode


def multirange_text_decoder(range_decoder: Decoder) -> Decoder:
    def decode(data: bytes) -> list[Range]:
        text = data.decode("utf-8")
        if len(text) < 2 or text[0] != "{" or text[-1] != "}":
            raise DataError(f"malformed multirange {text!r}")
        out = []
        pos, depth, quoted, start = 1, 0, False, 1
        while pos < len(text) - 1:
            char = text[pos]
            if char == "\\":
                pos += 1
            elif char == '"':
                quoted = not quoted
            elif not quoted and char in "[(":
                depth, start = depth + 1, pos
            elif not quoted and char in "])":
                out.append(range_decoder(text[start : pos + 1].encode("utf-8")))
                depth -= 1
            pos += 1
        return out

    return decode


def multirange_binary_encoder(range_encoder: Encoder) -> Encoder:
    def encode(value: Any) -> bytes:
        if not isinstance(value, list):
            raise DataError(
                f"a multirange is sent from a list of Range, not {type(value).__name__}"
            )
        parts = [_I32.pack(len(value))]
        for item in value:
            data = range_encoder(item)
            parts += [_I32.pack(len(data)), data]
        return b"".join(parts)

    return encode


def tables(
    binary_decoders: dict[int, Decoder],
    text_decoders: dict[int, Decoder],
    binary_encoders: dict[int, Encoder],
) -> tuple[dict[int, Decoder], dict[int, Decoder], dict[int, Encoder]]:
    """The range and multirange codecs, built on the codecs of their subtypes."""
    bin_dec: dict[int, Decoder] = {}
    text_dec: dict[int, Decoder] = {}
    bin_enc: dict[int, Encoder] = {}
    for range_, sub in SUBTYPE.items():
        bin_dec[range_] = binary_decoder(binary_decoders[sub])
        text_dec[range_] = text_decoder(text_decoders[sub])
        bin_enc[range_] = binary_encoder(binary_encoders[sub])
    for multi, range_ in MULTIRANGE.items():
        bin_dec[multi] = multirange_binary_decoder(bin_dec[range_])
        text_dec[multi] = multirange_text_decoder(text_dec[range_])
        bin_enc[multi] = multirange_binary_encoder(bin_enc[range_])
    return bin_dec, text_dec, bin_enc


_BOUND_SPECIAL: Final = frozenset('"\\(),[] \t\n\r\v\f')


def _bound_text(text: str) -> str:
    """A bound as range_out writes it: quoted when empty or holding a special character."""
    if text and not any(char in _BOUND_SPECIAL for char in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'


def to_text(value: Range, element: Callable[[Any], bytes]) -> bytes:
    """A range as PostgreSQL writes it, each bound written by ``element``."""
    if value.empty:
        return b"empty"
    lower = "" if value.lower is None else _bound_text(element(value.lower).decode("utf-8"))
    upper = "" if value.upper is None else _bound_text(element(value.upper).decode("utf-8"))
    return f"{value.bounds[0]}{lower},{upper}{value.bounds[1]}".encode()


def multirange_to_text(value: list[Range], element: Callable[[Any], bytes]) -> bytes:
    return b"{" + b",".join(to_text(item, element) for item in value) + b"}"
