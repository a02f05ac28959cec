"""The receive buffer: bytes from the server in, framed backend messages out.

One bytearray with a read offset. Consumed bytes are dropped only when the
buffer is empty or the consumed prefix is large, so framing stays linear in
the number of bytes received.
"""

from __future__ import annotations

import struct

from pgpipe.errors import ProtocolError

_HEADER = struct.Struct("!cI")
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

    def messages(self) -> list[tuple[bytes, bytes]]:
        """Every complete message buffered, as ``(type byte, body)``, oldest first.

        The headers are walked in place; the complete messages are copied out
        once, so a large message arriving in many pieces is not copied per piece.
        """
        buf = self._buf
        start = pos = self._pos
        size = len(buf)
        ends = []
        limit = self.max_message_size
        while size - pos >= 5:
            kind, length = _HEADER.unpack_from(buf, pos)
            if kind not in self._known:
                raise ProtocolError(f"unknown backend message type {kind!r}")
            if length < 4:
                raise ProtocolError(f"backend message {kind!r} declares an invalid length {length}")
            if length > limit:
                raise ProtocolError(
                    f"backend message {kind!r} declares {length} bytes, over the limit of {limit}"
                )
            end = pos + 1 + length
            if end > size:
                break
            ends.append(end - start)
            pos = end
        if not ends:
            return []
        chunk = bytes(buf[start:pos])
        out = []
        begin = 0
        for end in ends:
            out.append((chunk[begin : begin + 1], chunk[begin + 5 : end]))
            begin = end
        if pos == size:
            buf.clear()
            self._pos = 0
        elif pos > _COMPACT_AT and pos * 2 > size:
            del buf[:pos]
            self._pos = 0
        else:
            self._pos = pos
        return out
