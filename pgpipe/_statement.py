"""What one statement's results look like (columns, decoders, the result format to
ask for next time), the row decoder built for them with the column loop
unrolled, and the rows a row factory makes of the decoded values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from pgpipe import errors
from pgpipe._compiled import caused
from pgpipe.protocol import events as ev
from pgpipe.result import Column, Result
from pgpipe.rows import RowFactory, RowMaker
from pgpipe.types.binary import Decoder

if TYPE_CHECKING:
    from pgpipe._session import Session

_TEXT: Final = 0
_BINARY: Final = 1


class Statement:
    """What one statement's results look like: columns, decoders, the format to ask for."""

    __slots__ = ("_decode_rows", "columns", "decoders", "fields", "result_format")

    def __init__(self, fields: tuple[ev.FieldDescription, ...], session: Session) -> None:
        self.fields = fields
        self.columns = tuple(
            Column(f.name, f.type_oid, f.table_oid, f.column_number, f.type_size, f.type_modifier)
            for f in fields
        )
        self.decoders = [session.result_decoder(f.type_oid, f.format) for f in fields]
        binary = all(session.has_binary_decoder(f.type_oid) for f in fields)
        self.result_format = _BINARY if binary else _TEXT
        self._decode_rows = _unrolled_row_decoder(self.decoders)

    def decode_rows(self, raw_rows: list[tuple[bytes | None, ...]]) -> list[tuple[Any, ...]]:
        """Decoded rows; a row with another number of values raises ValueError."""
        if self._decode_rows is not None:
            return self._decode_rows(raw_rows)
        decoders = self.decoders
        return [
            tuple([None if v is None else d(v) for d, v in zip(decoders, raw, strict=True)])
            for raw in raw_rows
        ]

    def maker(self, factory: RowFactory[Any]) -> RowMaker[Any]:
        """``factory``'s row maker for these columns; its failure a pgpipe error."""
        try:
            return factory(self.columns)
        except errors.Error:
            raise
        except Exception as exc:
            raise caused(
                errors.InterfaceError(
                    f"the row factory {_name(factory)} failed on the columns "
                    f"({_names(self.columns)}): {exc.__class__.__name__}: {exc}"
                ),
                exc,
            ) from exc

    def result(
        self,
        raw_rows: list[tuple[bytes | None, ...]],
        status: str | None,
        factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """The Result of these rows: tuples, or what ``factory`` makes of them."""
        try:
            rows = self.decode_rows(raw_rows)
        except errors.Error:
            raise
        except Exception as exc:
            raise caused(errors.DataError(f"could not decode a result value: {exc}"), exc) from exc
        if factory is None or not rows:
            return Result(rows, self.columns, status)
        made = made_rows(rows, self.maker(factory), self.columns)
        return Result(made, self.columns, status, rows[0])


def made_rows(
    rows: list[tuple[Any, ...]], make: RowMaker[Any], columns: tuple[Column, ...]
) -> list[Any]:
    """Each decoded row made by a row factory's maker; its failure a pgpipe error.

    A pass of its own after decoding, so the tuple path (no factory) stays as
    it was: one unrolled comprehension, nothing called per row but decoders.
    """
    try:
        return list(map(make, rows))
    except errors.Error:
        raise
    except Exception as exc:
        raise caused(
            errors.InterfaceError(
                f"the row factory failed to make a row of the columns ({_names(columns)}): "
                f"{exc.__class__.__name__}: {exc}"
            ),
            exc,
        ) from exc


def _name(function: object) -> str:
    name = getattr(function, "__qualname__", None)
    return name if isinstance(name, str) else type(function).__name__


def _names(columns: tuple[Column, ...]) -> str:
    return ", ".join(column.name for column in columns)


_UNROLLED_MAX_COLUMNS: Final = 64


def _unrolled_row_decoder(
    decoders: Sequence[Decoder],
) -> Callable[[list[tuple[bytes | None, ...]]], list[tuple[Any, ...]]] | None:
    """A function decoding rows of exactly these columns with the column loop unrolled.

    Built from the column count alone (the decoders are passed in, never
    written into the source), like the code dataclasses generate. It spares
    a zip, an inner list and a loop per row. None past 64 columns.
    """
    count = len(decoders)
    if not 0 < count <= _UNROLLED_MAX_COLUMNS:
        return None
    values = ", ".join(f"v{i}" for i in range(count))
    decoded = ", ".join(f"None if v{i} is None else d{i}(v{i})" for i in range(count))
    source = (
        f"def build({', '.join(f'd{i}' for i in range(count))}):\n"
        f"    def decode_rows(raw_rows):\n"
        f"        return [({decoded},) for ({values},) in raw_rows]\n"
        f"    return decode_rows\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    build: Callable[..., Callable[[list[tuple[bytes | None, ...]]], list[tuple[Any, ...]]]]
    build = namespace["build"]
    return build(*decoders)
