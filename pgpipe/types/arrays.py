"""Arrays: nested Python lists, both ways, in both formats, for every built-in element type.

Lists in, lists out: an n-dimensional array is n levels of lists, NULL
elements are None, and an empty array is ``[]``. Lower bounds other than 1
(``'[0:2]={...}'``) are not kept: Python lists always start at 0.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import Enum
from typing import Any, Final

from pgpipe.errors import DataError
from pgpipe.types.binary import Decoder, Encoder, plain
from pgpipe.types.oids import Type

_HEADER = struct.Struct("!iiI")
_DIMENSION = struct.Struct("!ii")
_I32 = struct.Struct("!i")
_MAX_DIMENSIONS: Final = 6  # PostgreSQL's MAXDIM

ELEMENT: Final[dict[int, int]] = {
    member.value: Type[member.name.removesuffix("_ARRAY")].value
    for member in Type
    if member.name.endswith("_ARRAY") and member.name.removesuffix("_ARRAY") in Type.__members__
}
"""Array type OID -> element type OID, for the built-in types."""

ARRAY_OF: Final[dict[int, int]] = {element: array for array, element in ELEMENT.items()}


def _nest(items: list[Any], dims: list[int]) -> list[Any]:
    for size in reversed(dims[1:]):
        items = [items[i : i + size] for i in range(0, len(items), size)]
    return items


def binary_decoder(element: Decoder) -> Decoder:
    """The decoder of the binary array of elements that ``element`` decodes."""

    def decode(data: bytes) -> list[Any]:
        ndim, _flags, _oid = _HEADER.unpack_from(data, 0)
        if ndim == 0:
            return []
        if not 0 < ndim <= _MAX_DIMENSIONS:
            raise DataError(f"invalid array dimension count {ndim}")
        pos = 12
        dims = []
        total = 1
        for _ in range(ndim):
            size, _lower = _DIMENSION.unpack_from(data, pos)
            if size < 0:
                raise DataError("invalid array dimension size")
            dims.append(size)
            total *= size
            pos += 8
        items: list[Any] = []
        append = items.append
        unpack = _I32.unpack_from
        end = len(data)
        for _ in range(total):
            (length,) = unpack(data, pos)
            pos += 4
            if length == -1:
                append(None)
            elif 0 <= length <= end - pos:
                append(element(data[pos : pos + length]))
                pos += length
            else:
                raise DataError("invalid array element length")
        if pos != end:
            raise DataError("trailing bytes after the array elements")
        return _nest(items, dims)

    return decode


def shape(value: list[Any]) -> tuple[list[int], list[Any]]:
    """The dimensions of a rectangular nested list, and its elements flattened."""
    dims: list[int] = []
    level: Any = value
    while isinstance(level, list) and len(dims) <= _MAX_DIMENSIONS:  # (a list may hold itself)
        dims.append(len(level))
        if not level:
            break
        level = level[0]
    if len(dims) > _MAX_DIMENSIONS:
        raise DataError(f"arrays have at most {_MAX_DIMENSIONS} dimensions")
    flat: list[Any] = [value]
    for depth, size in enumerate(dims):
        following: list[Any] = []
        for item in flat:
            if not isinstance(item, list) or len(item) != size:
                raise DataError(
                    "a multidimensional array must be rectangular: every list at depth "
                    f"{depth} needs {size} items"
                )
            following.extend(item)
        flat = following
    if any(isinstance(item, list) for item in flat):
        raise DataError("a multidimensional array must be rectangular")
    return dims, flat


def binary_encoder(element_oid: int, element: Encoder) -> Encoder:
    """The encoder of a binary array of ``element_oid`` values from a nested list."""

    def encode(value: Any) -> bytes:
        if not isinstance(value, list):
            raise DataError(f"an array is sent from a list, not {type(value).__name__}")
        dims, flat = shape(value)
        if not flat:
            return _HEADER.pack(0, 0, element_oid)
        parts = [_HEADER.pack(len(dims), any(item is None for item in flat), element_oid)]
        parts.extend(_DIMENSION.pack(size, 1) for size in dims)
        for item in flat:
            if item is None:
                parts.append(b"\xff\xff\xff\xff")
            else:
                try:
                    data = element(item)
                except DataError:
                    if not isinstance(item, Enum):
                        raise
                    data = element(plain(item))  # sent as its value; rare, so tried second
                parts.append(_I32.pack(len(data)))
                parts.append(data)
        return b"".join(parts)

    return encode


class _TextArrayParser:
    """Reads PostgreSQL's array output: ``{1,2}``, ``{{"a b",NULL},...}``, ``[0:1]={...}``."""

    def __init__(self, text: str, element: Callable[[str], Any], delimiter: str) -> None:
        self.text = text
        self.pos = 0
        self.element = element
        self.delimiter = delimiter

    def parse(self) -> list[Any]:
        if self.text.startswith("["):
            self.pos = self.text.index("=") + 1
        value = self._array()
        if self.pos != len(self.text):
            raise DataError("trailing characters after an array")
        return value

    def _array(self) -> list[Any]:
        text = self.text
        if text[self.pos : self.pos + 1] != "{":
            raise DataError("an array starts with '{'")
        self.pos += 1
        items: list[Any] = []
        if text[self.pos : self.pos + 1] == "}":
            self.pos += 1
            return items
        while True:
            char = text[self.pos : self.pos + 1]
            if char == "{":
                items.append(self._array())
            elif char == '"':
                items.append(self.element(self._quoted()))
            else:
                items.append(self._unquoted())
            char = text[self.pos : self.pos + 1]
            self.pos += 1
            if char == "}":
                return items
            if char != self.delimiter:
                raise DataError("malformed array literal")

    def _quoted(self) -> str:
        text = self.text
        self.pos += 1
        out = []
        while True:
            char = text[self.pos : self.pos + 1]
            if not char:
                raise DataError("unterminated quoted array element")
            if char == "\\":
                out.append(text[self.pos + 1 : self.pos + 2])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(char)
                self.pos += 1

    def _unquoted(self) -> Any:
        text = self.text
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in (self.delimiter, "}"):
            self.pos += 1
        word = text[start : self.pos]
        if not word:
            raise DataError("empty unquoted array element")
        if word.upper() == "NULL":
            return None
        return self.element(word)


def text_decoder(element: Decoder, delimiter: str = ",") -> Decoder:
    """The decoder of the text array of elements that ``element`` decodes."""

    def decode_element(word: str) -> Any:
        return element(word.encode("utf-8"))

    def decode(data: bytes) -> list[Any]:
        return _TextArrayParser(data.decode("utf-8"), decode_element, delimiter).parse()

    return decode


def _quote(text: str) -> str:
    if text and text.upper() != "NULL" and not any(c in text for c in '{},"\\ \t\n\r\v\f'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text(value: list[Any], element: Callable[[Any], bytes]) -> bytes:
    """An array literal (``{...}``) from a nested list, each element written by ``element``."""
    shape(value)  # refuses ragged and too deep lists

    def write(item: Any) -> str:
        if isinstance(item, list):
            return "{" + ",".join(write(i) for i in item) + "}"
        if item is None:
            return "NULL"
        return _quote(element(item).decode("utf-8"))

    return write(value).encode("utf-8")
