"""The sans-IO PostgreSQL protocol core: no sockets, no asyncio, no clock, no randomness.

``ProtocolConnection`` turns commands into bytes and server bytes into events;
``frontend`` encodes messages, ``backend`` decodes them, ``auth`` answers
authentication requests.
"""

from pgpipe.protocol.connection import ProtocolConnection, State
from pgpipe.protocol.events import NEED_DATA

__all__ = ["NEED_DATA", "ProtocolConnection", "State"]
