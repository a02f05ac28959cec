"""Geometric types as small immutable value types: point, line, lseg, box, path, polygon, circle.

Both formats decode to the same values; the binary encoders take these
values (a ``Point`` may also be any pair of numbers). PostgreSQL stores a box
with its upper-right corner first and reorders the corners it is given.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from pgpipe.errors import DataError
from pgpipe.types.binary import Decoder, Encoder, shown
from pgpipe.types.oids import Type
from pgpipe.types.text import float_text


class Point(NamedTuple):
    x: float
    y: float


class Line(NamedTuple):
    """The line a*x + b*y + c = 0."""

    a: float
    b: float
    c: float


class LineSegment(NamedTuple):
    start: Point
    end: Point


class Box(NamedTuple):
    high: Point
    low: Point


class Path(NamedTuple):
    points: tuple[Point, ...]
    closed: bool


class Polygon(NamedTuple):
    points: tuple[Point, ...]


class Circle(NamedTuple):
    center: Point
    radius: float


_F2 = struct.Struct("!dd")
_F3 = struct.Struct("!ddd")
_F4 = struct.Struct("!dddd")
_PATH_HEAD = struct.Struct("!?i")
_I32 = struct.Struct("!i")
_NUMBER = re.compile(r"[-+]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _points(data: bytes, count: int, offset: int) -> tuple[Point, ...]:
    if count < 0 or len(data) != offset + 16 * count:
        raise DataError("invalid binary point list")
    values = struct.unpack_from(f"!{2 * count}d", data, offset)
    return tuple(Point(values[i], values[i + 1]) for i in range(0, len(values), 2))


def _point(data: bytes) -> Point:
    return Point(*_F2.unpack(data))


def _line(data: bytes) -> Line:
    return Line(*_F3.unpack(data))


def _lseg(data: bytes) -> LineSegment:
    x1, y1, x2, y2 = _F4.unpack(data)
    return LineSegment(Point(x1, y1), Point(x2, y2))


def _box(data: bytes) -> Box:
    x1, y1, x2, y2 = _F4.unpack(data)
    return Box(Point(x1, y1), Point(x2, y2))


def _path(data: bytes) -> Path:
    closed, count = _PATH_HEAD.unpack_from(data, 0)
    return Path(_points(data, count, 5), closed)


def _polygon(data: bytes) -> Polygon:
    (count,) = _I32.unpack_from(data, 0)
    return Polygon(_points(data, count, 4))


def _circle(data: bytes) -> Circle:
    x, y, radius = _F3.unpack(data)
    return Circle(Point(x, y), radius)


def _numbers(data: bytes, count: int | None = None) -> list[float]:
    numbers = [float(n) for n in _NUMBER.findall(data.decode("ascii"))]
    if count is not None and len(numbers) != count:
        raise DataError(f"expected {count} numbers in {data!r}")
    if len(numbers) % 2 and count is None:
        raise DataError(f"expected pairs of numbers in {data!r}")
    return numbers


def _pairs(numbers: list[float]) -> tuple[Point, ...]:
    return tuple(Point(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2))


def _point_text(data: bytes) -> Point:
    return Point(*_numbers(data, 2))


def _line_text(data: bytes) -> Line:
    return Line(*_numbers(data, 3))


def _lseg_text(data: bytes) -> LineSegment:
    return LineSegment(*_pairs(_numbers(data, 4)))


def _box_text(data: bytes) -> Box:
    return Box(*_pairs(_numbers(data, 4)))


def _path_text(data: bytes) -> Path:
    return Path(_pairs(_numbers(data)), not data.startswith(b"["))


def _polygon_text(data: bytes) -> Polygon:
    return Polygon(_pairs(_numbers(data)))


def _circle_text(data: bytes) -> Circle:
    x, y, radius = _numbers(data, 3)
    return Circle(Point(x, y), radius)


def _coords(value: Any, count: int, type_name: str) -> list[float]:
    """The numbers of a geometric value, flattened in PostgreSQL's order."""
    flat: list[float] = []

    def walk(item: Any) -> None:
        if isinstance(item, int | float) and not isinstance(item, bool):
            flat.append(float(item))
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes):
            for part in item:
                walk(part)
        else:
            raise DataError(f"cannot send {type(value).__name__} {shown(value)} as {type_name}")

    walk(value)
    if len(flat) != count:
        raise DataError(f"{type_name} needs {count} numbers, not {len(flat)}: {shown(value)}")
    return flat


def _fixed_encoder(fmt: struct.Struct, type_name: str) -> Encoder:
    count = fmt.size // 8

    def encode(value: Any) -> bytes:
        return fmt.pack(*_coords(value, count, type_name))

    return encode


def _path_enc(value: Any) -> bytes:
    if not isinstance(value, Path):
        raise DataError(f"cannot send {type(value).__name__} {shown(value)} as path; use Path")
    flat = _coords(value.points, 2 * len(value.points), "path")
    return _PATH_HEAD.pack(value.closed, len(value.points)) + struct.pack(f"!{len(flat)}d", *flat)


def _polygon_enc(value: Any) -> bytes:
    points = value.points if isinstance(value, Polygon) else value
    if not isinstance(points, Sequence):
        raise DataError(f"cannot send {type(value).__name__} {shown(value)} as polygon")
    flat = _coords(points, 2 * len(points), "polygon")
    return _I32.pack(len(points)) + struct.pack(f"!{len(flat)}d", *flat)


BINARY_DECODERS: Final[dict[int, Decoder]] = {
    Type.POINT: _point,
    Type.LINE: _line,
    Type.LSEG: _lseg,
    Type.BOX: _box,
    Type.PATH: _path,
    Type.POLYGON: _polygon,
    Type.CIRCLE: _circle,
}
TEXT_DECODERS: Final[dict[int, Decoder]] = {
    Type.POINT: _point_text,
    Type.LINE: _line_text,
    Type.LSEG: _lseg_text,
    Type.BOX: _box_text,
    Type.PATH: _path_text,
    Type.POLYGON: _polygon_text,
    Type.CIRCLE: _circle_text,
}
BINARY_ENCODERS: Final[dict[int, Encoder]] = {
    Type.POINT: _fixed_encoder(_F2, "point"),
    Type.LINE: _fixed_encoder(_F3, "line"),
    Type.LSEG: _fixed_encoder(_F4, "lseg"),
    Type.BOX: _fixed_encoder(_F4, "box"),
    Type.PATH: _path_enc,
    Type.POLYGON: _polygon_enc,
    Type.CIRCLE: _fixed_encoder(_F3, "circle"),
}
INFERRED: Final[dict[type, int]] = {
    Point: Type.POINT,
    Line: Type.LINE,
    LineSegment: Type.LSEG,
    Box: Type.BOX,
    Path: Type.PATH,
    Polygon: Type.POLYGON,
    Circle: Type.CIRCLE,
}


def _pair(point: Sequence[float]) -> str:
    return f"({float_text(float(point[0]))},{float_text(float(point[1]))})"


def to_text(value: object) -> bytes | None:
    """A geometric value as PostgreSQL writes it; None for anything else."""
    if isinstance(value, Point):
        text = _pair(value)
    elif isinstance(value, Line):
        text = "{" + ",".join(float_text(float(c)) for c in value) + "}"
    elif isinstance(value, LineSegment):
        text = f"[{_pair(value.start)},{_pair(value.end)}]"
    elif isinstance(value, Box):
        text = f"{_pair(value.high)},{_pair(value.low)}"
    elif isinstance(value, Path):
        inner = ",".join(_pair(p) for p in value.points)
        text = f"({inner})" if value.closed else f"[{inner}]"
    elif isinstance(value, Polygon):
        text = "(" + ",".join(_pair(p) for p in value.points) + ")"
    elif isinstance(value, Circle):
        text = f"<{_pair(value.center)},{float_text(float(value.radius))}>"
    else:
        return None
    return text.encode("ascii")
