"""The receive buffer: bytes from the server in, framed backend messages out.

One bytearray with a read offset. Consumed bytes are dropped only when the
buffer is empty or the consumed prefix is large, so framing stays linear in
the number of bytes received.
"""

from __future__ import annotations

import struct
import types
from typing import Final

from pgpipe._compiled import i64
from pgpipe.errors import ProtocolError

_HEADER: Final = struct.Struct("!cI")
LENGTH: Final = struct.Struct("!I")
_COMPACT_AT: Final = 1 << 16
_DATA_ROW: Final = 0x44  # b"D"
_READY_FOR_QUERY: Final = 0x5A  # b"Z"

DEFAULT_MAX_MESSAGE_SIZE: Final = 1 << 30
"""PostgreSQL's own limit for one message (MaxAllocSize, 1 GiB)."""


class ReceiveBuffer:
    """Frames backend messages: a type byte, an int32 length that counts itself, a body."""

    __slots__ = ("_buf", "_known", "_pos", "max_message_size")

    def __init__(
        self, known_types: frozenset[bytes], max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        # Checked on the header, so garbage is refused before its "length" is awaited.
        self._known = known_types
        self.max_message_size = max_message_size

    def __len__(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def whole_answer(self, head: bytes, tail: bytes) -> bytes | None:
        """Everything buffered, copied, when it begins with ``head`` and ends with
        ``tail`` and one byte more (how a one-packet query's answer begins and
        ends, its last message a ReadyForQuery: see
        ``ProtocolConnection.next_answer``), and all of it is within
        ``max_message_size``; None otherwise. Nothing is consumed: ``clear``
        does that once the caller has read it."""
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if (
            # the shortest answer: BindComplete, NoData, EmptyQueryResponse, ReadyForQuery
            not 21 <= size - pos <= self.max_message_size  # and no message over the limit
            or buf[size - 6] != _READY_FOR_QUERY
        ):
            return None  # checked before the copy: a large answer is read as it arrives
        data = bytes(buf[pos:]) if pos else bytes(buf)
        if data.startswith(head) and data[-1 - len(tail) : -1] == tail:
            return data
        return None

    def rows_framed(self, head: bytes, tail: bytes) -> list[bytes] | None:
        """When everything buffered is ``head``, then DataRows only, then ``tail``
        (all within ``max_message_size``): the DataRows' bodies, none when there
        are none; None otherwise. Nothing is consumed (see ``clear``).

        How an answer shaped as the last one is read (see
        ``ProtocolConnection.next_answer``): only the rows need framing.
        """
        buf = self._buf
        size = len(buf)
        at = len(head)
        stop = size - len(tail)
        if self._pos or stop < at or size > self.max_message_size:
            return None
        data = bytes(buf)  # bytes' own methods: cheaper than bytearray's, compiled
        if not data.startswith(head) or not data.endswith(tail):
            return None
        return rows_between(data, at, stop)

    def clear(self) -> None:
        """Drop everything buffered."""
        self._buf.clear()
        self._pos = 0

    def data_rows(self) -> list[bytes]:
        """The bodies of the complete DataRows at the head of what is buffered,
        consumed, oldest first; an empty list when the head is anything else.

        What a large result's rows are read by: framed as ``messages`` frames
        them (one copy, one pass), without a ``(type, body)`` pair each. A
        DataRow declaring a length ``messages`` refuses is left for it to
        refuse.
        """
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < 5 or buf[pos] != _DATA_ROW:
            return []
        if pos + 1 + LENGTH.unpack_from(buf, pos + 1)[0] > size:
            return []  # still arriving: nothing to copy yet
        data = bytes(buf) if pos == 0 else bytes(buf[pos:])
        bodies, at = frame_rows(data, 0, self.max_message_size)
        self._consumed(pos + at)
        return bodies

    def messages(self) -> list[tuple[bytes, bytes]]:
        """Every complete message buffered, as ``(type byte, body)``, oldest first.

        What is buffered is copied out once and framed in one pass. A message
        still arriving at the head (a large one, in many pieces) is not
        copied until it is complete, so framing stays linear in the bytes
        received.
        """
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < 5:  # not even a header (as before every reply arrives)
            return []
        unpack = _HEADER.unpack_from
        kind, length = unpack(buf, pos)
        if pos + 1 + length > size and 4 <= length <= self.max_message_size:
            if kind not in self._known:
                raise ProtocolError(f"unknown backend message type {kind!r}")
            return []  # the head message is incomplete: nothing to copy yet
        data = bytes(buf) if pos == 0 else bytes(buf[pos:])
        size = len(data)
        known = self._known
        limit = self.max_message_size
        out: list[tuple[bytes, bytes]] = []
        append = out.append
        at = 0
        while size - at >= 5:
            kind, length = unpack(data, at)
            if kind not in known:
                raise ProtocolError(f"unknown backend message type {kind!r}")
            if not 4 <= length <= limit:
                if length < 4:
                    raise ProtocolError(
                        f"backend message {kind!r} declares an invalid length {length}"
                    )
                raise ProtocolError(
                    f"backend message {kind!r} declares {length} bytes, over the limit of {limit}"
                )
            end = at + 1 + length
            if end > size:
                break
            if kind == b"2" and length == 4 and data[end : end + 1] == b"C":
                # BindComplete + CommandComplete: executemany and pipelines answer
                # each row with the same pair; a run of them is framed once.
                count, step = _repeats(data, end, size)
                if count:
                    out += [(kind, b""), (b"C", data[end + 5 : at + step])] * count
                    at += step * count
                    continue
            append((kind, data[at + 5 : end]))
            at = end
        self._consumed(pos + at)
        return out

    def _consumed(self, pos: int) -> None:
        """Everything before ``pos`` is read: dropped when that is all, or when it
        is a large part of the buffer."""
        buf = self._buf
        if pos == len(buf):
            buf.clear()
            self._pos = 0
        elif pos > _COMPACT_AT and pos * 2 > len(buf):
            del buf[:pos]
            self._pos = 0
        else:
            self._pos = pos


def _rows_by_struct(data: bytes, at: int, limit: int) -> tuple[list[bytes], int]:
    """The bodies of the run of complete DataRows in ``data`` from ``at`` on (each
    at most ``limit`` long), and where the run ends: each header read by one
    struct call."""
    unpack = _HEADER.unpack_from
    size = len(data)
    bodies: list[bytes] = []
    while size - at >= 5:
        kind, length = unpack(data, at)
        end = at + 1 + length
        if kind != b"D" or length < 4 or length > limit or end > size:
            break
        bodies.append(data[at + 5 : end])
        at = end
    return bodies, at


def _rows_by_byte(data: bytes, at: i64, limit: i64) -> tuple[list[bytes], i64]:
    """``_rows_by_struct``, each header read byte by byte."""
    size: i64 = len(data)
    bodies: list[bytes] = []
    while size - at >= 5 and data[at] == _DATA_ROW:
        length = word_at(data, at + 1)
        end = at + 1 + length
        if length < 4 or length > limit or end > size:
            break
        bodies.append(data[at + 5 : end])
        at = end
    return bodies, at


def word_at(data: bytes, at: i64) -> i64:
    """The unsigned big-endian 32-bit word at ``at`` (its four bytes must be there):
    a message's length, a value's length (-1 reads as 0xFFFFFFFF), an oid."""
    return (
        i64(data[at]) << 24 | i64(data[at + 1]) << 16 | i64(data[at + 2]) << 8 | i64(data[at + 3])
    )


# Compiled (mypyc), a header read byte by byte is native arithmetic, several
# times cheaper than a struct call; interpreted, it is the struct call that is
# cheaper. A function compiled here is not a Python function object.
INTERPRETED: Final = isinstance(word_at, types.FunctionType)
frame_rows: Final = _rows_by_struct if INTERPRETED else _rows_by_byte


def rows_between(data: bytes, at: i64, stop: i64) -> list[bytes] | None:
    """The bodies of the DataRows that fill ``data[at:stop]`` exactly (none when it
    is empty), else None. One row, the commonest, is checked by its length alone."""
    if stop - at > 5 and data[at] == _DATA_ROW:
        length: i64 = LENGTH.unpack_from(data, at + 1)[0] if INTERPRETED else word_at(data, at + 1)
        if at + 1 + length == stop:
            return [data[at + 5 : stop]]
    bodies, end = frame_rows(data, at, stop)
    return bodies if end == stop else None


def _repeats(data: bytes, at: int, size: int) -> tuple[int, int]:
    """At ``at``, a CommandComplete after a BindComplete: how many times the pair
    occurs from the BindComplete on, all complete and alike, and the size of
    one pair (0 and 0 if the CommandComplete is not sound)."""
    if size - at < 5:
        return 0, 0
    (length,) = LENGTH.unpack_from(data, at + 1)
    unit = 1 + length
    if not 5 <= length <= 1024 or at + unit > size or data[at + unit - 1] != 0:
        return 0, 0
    pattern = data[at - 5 : at + unit]
    step = 5 + unit
    count = 1
    nxt = at + unit
    while nxt + step <= size and data.startswith(pattern, nxt):
        count += 1
        nxt += step
    return count, step
