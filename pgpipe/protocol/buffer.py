"""The receive buffer: bytes from the server in, framed backend messages out.

One bytearray with a read offset. Consumed bytes are dropped only when the
buffer is empty or the consumed prefix is large, so framing stays linear in
the number of bytes received.
"""

from __future__ import annotations

import struct

from pgpipe.errors import ProtocolError

_HEADER = struct.Struct("!cI")
_LENGTH = struct.Struct("!I")
_COMPACT_AT = 1 << 16

DEFAULT_MAX_MESSAGE_SIZE = 1 << 30
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

    def _repeats(self, buf: bytearray, pos: int, size: int) -> int:
        """How many times the BindComplete + CommandComplete pair at ``pos`` repeats
        right after itself, all complete (0 if the next message is not a sound
        CommandComplete)."""
        if buf[pos + 5 : pos + 6] != b"C":
            return 0
        (length,) = _LENGTH.unpack_from(buf, pos + 6)
        if not 5 <= length <= 1024 or pos + 6 + length > size:
            return 0
        unit = 6 + length
        pattern = bytes(buf[pos : pos + unit])
        if pattern[-1] != 0:
            return 0
        count = 0
        at = pos + unit
        while at + unit <= size and buf.startswith(pattern, at):
            count += 1
            at += unit
        return count

    def messages(self) -> list[tuple[bytes, bytes]]:
        """Every complete message buffered, as ``(type byte, body)``, oldest first.

        The headers are walked in place; the complete messages are copied out
        once, so a large message arriving in many pieces is not copied per piece.
        """
        buf = self._buf
        start = pos = self._pos
        size = len(buf)
        if size - pos < 5:  # not even a header (as before every reply arrives)
            return []
        begins: list[int] = []
        ends: list[int] = []
        begin_at = begins.append
        append = ends.append
        known = self._known
        unpack = _HEADER.unpack_from
        limit = self.max_message_size
        repeats: list[tuple[int, int, int]] = []  # (index in ends, unit size, count)
        while size - pos >= 5:
            kind, length = unpack(buf, pos)
            if kind == b"2" and length == 4 and size - pos >= 10:
                # BindComplete: executemany and pipelines answer each row with the
                # same BindComplete + CommandComplete; a run of them is framed once.
                count = self._repeats(buf, pos, size)
                if count:
                    unit = 5 + 1 + unpack(buf, pos + 5)[1]
                    begin_at(pos - start)
                    append(pos + 5 - start)
                    begin_at(pos + 5 - start)
                    append(pos + unit - start)
                    repeats.append((len(ends) - 2, unit, count))
                    pos += unit * (count + 1)
                    continue
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
            end = pos + 1 + length
            if end > size:
                break
            begin_at(pos - start)
            append(end - start)
            pos = end
        if not ends:
            return []
        chunk = bytes(buf[start:pos])
        out = [
            (chunk[begin : begin + 1], chunk[begin + 5 : end])
            for begin, end in zip(begins, ends, strict=True)
        ]
        for index, _, count in reversed(repeats):
            out[index + 2 : index + 2] = out[index : index + 2] * count
        if pos == size:
            buf.clear()
            self._pos = 0
        elif pos > _COMPACT_AT and pos * 2 > size:
            del buf[:pos]
            self._pos = 0
        else:
            self._pos = pos
        return out
