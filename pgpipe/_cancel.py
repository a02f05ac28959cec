"""One CancelRequest, sans-IO: what goes on the separate connection that cancels a statement.

PostgreSQL cancels a running statement when a new connection to the same
server sends a CancelRequest carrying the backend's process ID and secret key
(BackendKeyData: 4 bytes before protocol 3.2, up to 256 after). The server
answers nothing and closes that connection once it has signalled the backend;
waiting for that close, as libpq does, means the signal was delivered before
the adapter reads on, so it cannot hit a later statement. When the main
connection uses TLS, the cancel connection negotiates TLS the same way, so the
secret key never crosses the network in the clear.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pgpipe import errors
from pgpipe._dial import Attempt, opening
from pgpipe.conninfo import ConnectParams
from pgpipe.protocol import frontend
from pgpipe.protocol.events import BackendKeyData
from pgpipe.tls import Negotiation, make_context

if TYPE_CHECKING:
    from pgpipe._dial import Opening


class CancelExchange:
    """Send ``data_to_send()`` and feed what comes back until ``done`` (the server closed)."""

    __slots__ = ("_negotiation", "_request", "done")

    def __init__(self, params: ConnectParams, key: BackendKeyData, tls: bool) -> None:
        self._request = frontend.cancel_request(key.process_id, key.secret_key)
        self._negotiation: Opening | None = None
        if params.websocket is not None:
            # A new WebSocket to the same URL carries it.
            self._negotiation = opening(Attempt(params, False, "any"), os.environ)
        elif tls:
            self._negotiation = Negotiation(make_context(params, os.environ), params)
        self.done = False

    def __repr__(self) -> str:
        return f"<CancelExchange done={self.done}>"

    def data_to_send(self) -> bytes:
        negotiation = self._negotiation
        if negotiation is not None and not negotiation.done:
            return negotiation.data_to_send()
        request, self._request = self._request, b""
        if not request:
            return b""
        channel = negotiation.channel if negotiation is not None else None
        return channel.encrypt(request) if channel is not None else request

    def receive_data(self, data: bytes) -> None:
        """Bytes from the cancel connection; b"" (the server closed it) ends the exchange."""
        negotiation = self._negotiation
        if negotiation is not None and not negotiation.done:
            if not data:
                raise errors.OperationalError(
                    "the server closed the cancel connection during TLS negotiation"
                )
            negotiation.receive_data(data)
            return
        if not data:
            self.done = True


def cancel_key(key: BackendKeyData | None) -> BackendKeyData:
    """The key to cancel with; a server that sent none cannot be asked to cancel."""
    if key is None:
        raise errors.InterfaceError(
            "the server sent no cancel key (BackendKeyData), so statements cannot be cancelled"
        )
    return key
