"""Composite (row) types and hstore: codecs built once a connection knows the type.

A registered composite decodes to a named tuple of its attributes, in both
formats, and is sent as a row literal. hstore decodes to a ``dict`` of
``str`` to ``str | None``.
"""

from __future__ import annotations

import collections
import keyword
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pgpipe.errors import DataError
from pgpipe.types.binary import Decoder
from pgpipe.types.literals import split_fields

_I32 = struct.Struct("!i")
_FIELD_HEAD = struct.Struct("!Ii")


def row_type(name: str, attributes: Sequence[str]) -> type[tuple[Any, ...]]:
    """A named tuple class for a composite type (invalid names become _0, _1...)."""
    clean = name if name.isidentifier() and not keyword.iskeyword(name) else "row"
    return collections.namedtuple(clean, list(attributes), rename=True)


def binary_decoder(
    make: Callable[..., tuple[Any, ...]], field: Callable[[int], Decoder]
) -> Decoder:
    """Binary composite: a count, then (type OID, length, bytes) per attribute."""

    def decode(data: bytes) -> tuple[Any, ...]:
        (count,) = _I32.unpack_from(data, 0)
        pos = 4
        values: list[Any] = []
        for _ in range(count):
            oid, length = _FIELD_HEAD.unpack_from(data, pos)
            pos += 8
            if length == -1:
                values.append(None)
                continue
            if not 0 <= length <= len(data) - pos:
                raise DataError("invalid binary composite field length")
            values.append(field(oid)(data[pos : pos + length]))
            pos += length
        if pos != len(data):
            raise DataError("trailing bytes after a binary composite")
        return make(*values)

    return decode


def split_record(text: str) -> list[str | None]:
    """The fields of a row literal ``(a,"b c",)``: None for an empty (NULL) field."""
    if len(text) < 2 or text[0] != "(" or text[-1] != ")":
        raise DataError(f"malformed row literal {text!r}")
    return split_fields(text[1:-1])


def text_decoder(make: Callable[..., tuple[Any, ...]], fields: Sequence[Decoder]) -> Decoder:
    def decode(data: bytes) -> tuple[Any, ...]:
        parts = split_record(data.decode("utf-8"))
        if len(parts) != len(fields):
            raise DataError(f"expected {len(fields)} fields in {data!r}")
        return make(
            *(
                None if p is None else f(p.encode("utf-8"))
                for f, p in zip(fields, parts, strict=True)
            )
        )

    return decode


def to_text(value: Any, fields: Sequence[Callable[[Any], bytes]]) -> bytes:
    """A row literal from a sequence of Python values, one per attribute in order: a
    tuple, or the named tuple a registered composite decodes to (so a row read
    from the server goes back as it came)."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise DataError(f"a composite is sent from a tuple, not {type(value).__name__}")
    if len(value) != len(fields):
        raise DataError(f"the composite has {len(fields)} attributes, not {len(value)}")
    parts = []
    for item, encode in zip(value, fields, strict=True):
        if item is None:
            parts.append("")
        else:
            text = encode(item).decode("utf-8")
            parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return ("(" + ",".join(parts) + ")").encode("utf-8")


def hstore_decode(data: bytes) -> dict[str, str | None]:
    """``"a"=>"1", "b"=>NULL`` as written by hstore's output function."""
    text = data.decode("utf-8")
    out: dict[str, str | None] = {}
    pos = 0

    def quoted() -> str:
        nonlocal pos
        if text[pos : pos + 1] != '"':
            raise DataError(f"malformed hstore {text!r}")
        pos += 1
        chars = []
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\":
                pos += 1
            chars.append(text[pos : pos + 1])
            pos += 1
        pos += 1
        return "".join(chars)

    while pos < len(text):
        key = quoted()
        if text[pos : pos + 2] != "=>":
            raise DataError(f"malformed hstore {text!r}")
        pos += 2
        if text[pos : pos + 4] == "NULL":
            out[key] = None
            pos += 4
        else:
            out[key] = quoted()
        if text[pos : pos + 2] == ", ":
            pos += 2
    return out


def hstore_encode(value: Any) -> bytes:
    if not isinstance(value, Mapping):
        raise DataError(f"hstore is sent from a dict, not {type(value).__name__}")

    def quote(text: object) -> str:
        if not isinstance(text, str):
            raise DataError("hstore keys and values are str (or None values)")
        if "\x00" in text:
            raise DataError("PostgreSQL text cannot contain NUL (0x00) characters")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ", ".join(
        f"{quote(k)}=>{'NULL' if v is None else quote(v)}" for k, v in value.items()
    ).encode("utf-8")
