"""What a ``transaction()`` block sends, decided from the server's transaction status.

No I/O: the adapters run the SQL this returns. A block opened while the
connection is idle is a transaction (BEGIN ... COMMIT or ROLLBACK); one opened
inside a transaction, pgpipe's or the caller's own BEGIN, is a savepoint
(SAVEPOINT ... RELEASE, or ROLLBACK TO and RELEASE). The status letters are
ReadyForQuery's, kept up to date by the protocol core after every command.
"""

from __future__ import annotations

import enum
from typing import Final

from pgpipe import errors


class TransactionStatus(enum.StrEnum):
    """The connection's transaction status, from the last ReadyForQuery.

    Compares equal to the protocol's letters: ``conn.transaction_status == "I"``.
    """

    IDLE = "I"
    IN_TRANSACTION = "T"
    FAILED = "E"


ISOLATION_LEVELS: Final = ("read committed", "repeatable read", "serializable", "read uncommitted")


def begin_statement(isolation: str | None, read_only: bool, deferrable: bool) -> str:
    """BEGIN with its transaction modes, from checked arguments (never caller text)."""
    modes = []
    for name, flag in (("read_only", read_only), ("deferrable", deferrable)):
        if not isinstance(flag, bool):
            raise errors.InterfaceError(f"{name} is True or False, not {type(flag).__name__}")
    if isolation is not None:
        if not isinstance(isolation, str):
            raise errors.InterfaceError(
                f"isolation must be one of {', '.join(ISOLATION_LEVELS)}, "
                f"not {type(isolation).__name__}"
            )
        level = isolation.lower().replace("_", " ")
        if level not in ISOLATION_LEVELS:
            raise errors.InterfaceError(
                f"isolation must be one of {', '.join(ISOLATION_LEVELS)}, not {isolation!r}"
            )
        modes.append(f"ISOLATION LEVEL {level.upper()}")
    if read_only:
        modes.append("READ ONLY")
    if deferrable:
        modes.append("DEFERRABLE")
    return " ".join(["BEGIN", ", ".join(modes)]) if modes else "BEGIN"


class Block:
    """One ``transaction()`` block: the statement that opens it and the one that ends it."""

    __slots__ = ("_begin", "_options", "savepoint")

    def __init__(self, isolation: str | None, read_only: bool, deferrable: bool) -> None:
        self._begin = begin_statement(isolation, read_only, deferrable)
        self._options = isolation is not None or read_only or deferrable
        self.savepoint: str | None = None

    def enter(self, status: str, depth: int) -> str:
        """The statement opening the block, given the status before it and how many
        pgpipe blocks are already open on the connection."""
        if status == TransactionStatus.IDLE:
            return self._begin
        if self._options:
            raise errors.InterfaceError(
                "isolation, read_only and deferrable apply to a whole transaction; "
                "a transaction() inside another is a savepoint and takes none of them"
            )
        self.savepoint = f"pgpipe_savepoint_{depth + 1}"
        return f"SAVEPOINT {self.savepoint}"

    def exit(self, status: str, failed: bool) -> tuple[str | None, errors.Error | None]:
        """The statement ending the block, and the error to raise after it (when the
        block ended without an exception but cannot commit)."""
        if status == TransactionStatus.IDLE:
            if failed:
                return None, None
            return None, errors.InterfaceError(
                "the transaction was ended inside its transaction() block "
                "(by COMMIT or ROLLBACK); nothing was committed by the block"
            )
        name = self.savepoint
        if not failed and status == TransactionStatus.FAILED:
            # An error inside the block was caught and not re-raised: COMMIT would
            # silently roll back, so say so instead.
            rollback = (
                "ROLLBACK"
                if name is None
                else f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
            )
            return rollback, errors.InFailedSqlTransaction(
                "a statement failed inside the transaction() block and its error was "
                "caught (or is held by a pipeline's handle); nothing was committed "
                f"({rollback} was run)"
            )
        if name is None:
            return ("ROLLBACK" if failed else "COMMIT"), None
        if failed:
            return f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}", None
        return f"RELEASE SAVEPOINT {name}", None
