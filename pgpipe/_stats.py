"""What a connection cost on the network: flights, round trips, bytes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    """What a connection cost on the network since it was opened.

    ``flights`` counts the client's sends (each one write of everything queued),
    ``round_trips`` the times it then waited for and got an answer.
    """

    round_trips: int = 0
    flights: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    _answered: bool = field(default=True, repr=False)

    def sent(self, size: int) -> None:
        if self._answered:  # a write before any answer belongs to the same flight
            self.flights += 1
        self.bytes_sent += size
        self._answered = False

    def received(self, size: int) -> None:
        self.bytes_received += size
        if not self._answered:
            self.round_trips += 1
            self._answered = True

    def add(self, other: Stats) -> None:
        """Count what another connection (a reconnect) cost as well."""
        self.round_trips += other.round_trips
        self.flights += other.flights
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self._answered = other._answered
