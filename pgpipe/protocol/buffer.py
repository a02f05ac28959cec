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

    __slots__ = ("_buf", "_pos", "max_message_size")

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_message_size = max_message_size

    def __len__(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_message(self) -> tuple[bytes, bytes] | None:
        """Return ``(type byte, body)`` of the next complete message, or None."""
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < 5:
            return None
        kind, length = _HEADER.unpack_from(buf, pos)
        if length < 4:
            raise ProtocolError(f"backend message {kind!r} declares an invalid length {length}")
        if length > self.max_message_size:
            raise ProtocolError(
                f"backend message {kind!r} declares {length} bytes, "
                f"over the limit of {self.max_message_size}"
            )
        end = pos + 1 + length
        if end > len(buf):
            return None
        body = bytes(buf[pos + 5 : end])
        if end == len(buf):
            buf.clear()
            self._pos = 0
        elif end > _COMPACT_AT and end * 2 > len(buf):
            del buf[:end]
            self._pos = 0
        else:
            self._pos = end
        return kind, body
