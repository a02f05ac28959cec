"""What ``register_type`` asks PostgreSQL's catalog about a type, and the answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pgpipe import errors

TYPE_LOOKUP: Final = """\
SELECT t.oid::int8, t.typarray::int8, t.typtype::text, t.typbasetype::int8, t.typname::text,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       ARRAY(SELECT a.atttypid::int8 FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)
FROM pg_type t WHERE t.oid = $1::regtype"""
"""What ``register_type`` asks the catalog, once, about a type named by the caller."""


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A type as the catalog describes it: what its codecs are built from."""

    oid: int
    array_oid: int
    kind: str  # pg_type.typtype: b base, c composite, d domain, e enum, r range...
    base_oid: int
    name: str
    attribute_names: tuple[str, ...]
    attribute_oids: tuple[int, ...]

    @classmethod
    def found(cls, name: object, rows: Sequence[Sequence[object]]) -> TypeInfo:
        """The type ``TYPE_LOOKUP`` found for ``name`` (ProgrammingError when none)."""
        if not rows:
            raise errors.UndefinedObject(f"type {name!r} does not exist")
        return cls.from_row(rows[0])

    @classmethod
    def from_row(cls, row: Sequence[object]) -> TypeInfo:
        oid, array_oid, kind, base_oid, name, names, oids = row
        return cls(
            int(str(oid)),
            int(str(array_oid)),
            str(kind),
            int(str(base_oid)),
            str(name),
            tuple(str(n) for n in names) if isinstance(names, list) else (),
            tuple(int(str(o)) for o in oids) if isinstance(oids, list) else (),
        )
