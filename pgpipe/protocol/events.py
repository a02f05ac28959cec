"""What can happen on a connection: one event per backend message, plus the sentinels.

Events are frozen, slotted dataclasses named after the backend messages of
PostgreSQL's protocol 3. ``ProtocolConnection.next_event()`` returns exactly one
of them, or ``NEED_DATA`` when it needs more bytes from the server.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class NeedData(enum.Enum):
    """The sentinel type of ``NEED_DATA``."""

    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class AuthenticationRequest:
    """The server asked for (or announced) an authentication step.

    ``method`` is one of ``"ok"``, ``"password"``, ``"md5"``, ``"sasl"``,
    ``"sasl-continue"``, ``"sasl-final"``. The core answers the request itself;
    the event exists so callers can see and count the exchange.
    """

    method: str


@dataclass(frozen=True, slots=True)
class ParameterStatus:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class BackendKeyData:
    """Process ID and cancel secret (4 to 256 bytes with protocol 3.2)."""

    process_id: int
    secret_key: bytes


@dataclass(frozen=True, slots=True)
class NegotiateProtocolVersion:
    """The server supports only ``3.minor`` and did not recognise ``unrecognized`` options."""

    minor: int
    unrecognized: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadyForQuery:
    """``status`` is the transaction status: ``"I"`` idle, ``"T"`` in a block, ``"E"`` failed."""

    status: str


@dataclass(frozen=True, slots=True)
class ParseComplete:
    pass


@dataclass(frozen=True, slots=True)
class BindComplete:
    pass


@dataclass(frozen=True, slots=True)
class CloseComplete:
    pass


@dataclass(frozen=True, slots=True)
class NoData:
    pass


@dataclass(frozen=True, slots=True)
class EmptyQueryResponse:
    pass


@dataclass(frozen=True, slots=True)
class PortalSuspended:
    pass


@dataclass(frozen=True, slots=True)
class ParameterDescription:
    type_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FieldDescription:
    """One column of a RowDescription."""

    name: str
    table_oid: int
    column_number: int
    type_oid: int
    type_size: int
    type_modifier: int
    format: int


@dataclass(frozen=True, slots=True)
class RowDescription:
    fields: tuple[FieldDescription, ...]


@dataclass(frozen=True, slots=True)
class DataRow:
    """One row: each column's raw bytes in the format chosen at Bind, or None for NULL."""

    values: tuple[bytes | None, ...]


@dataclass(frozen=True, slots=True)
class CommandComplete:
    """``tag`` is the command tag, e.g. ``"INSERT 0 1"`` or ``"SELECT 3"``."""

    tag: str


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An error; ``fields`` maps PostgreSQL's field codes (``"S"``, ``"C"``, ``"M"``...) to text."""

    fields: Mapping[str, str]

    @property
    def is_fatal(self) -> bool:
        severity = self.fields.get("V", self.fields.get("S", ""))
        return severity in ("FATAL", "PANIC")


@dataclass(frozen=True, slots=True)
class NoticeResponse:
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NotificationResponse:
    process_id: int
    channel: str
    payload: str


@dataclass(frozen=True, slots=True)
class CopyInResponse:
    """The server wants COPY data: copy() sends it; for any other command the core
    answers with CopyFail."""

    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyOutResponse:
    format: int
    column_formats: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CopyData:
    data: bytes


@dataclass(frozen=True, slots=True)
class CopyDone:
    pass


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The server closed the connection. ``expected`` is True after Terminate or a FATAL error."""

    expected: bool


Event = (
    AuthenticationRequest
    | ParameterStatus
    | BackendKeyData
    | NegotiateProtocolVersion
    | ReadyForQuery
    | ParseComplete
    | BindComplete
    | CloseComplete
    | NoData
    | EmptyQueryResponse
    | PortalSuspended
    | ParameterDescription
    | RowDescription
    | DataRow
    | CommandComplete
    | ErrorResponse
    | NoticeResponse
    | NotificationResponse
    | CopyInResponse
    | CopyOutResponse
    | CopyData
    | CopyDone
    | ConnectionClosed
)
