"""The rows the row benchmarks read (7 columns of common types) and their check,
shared by bench_rows.py, bench_speed.py and bench_instructions.py. Imports no
driver: bench_speed's children choose which pgpipe build to import."""

from __future__ import annotations

from typing import Any

SQL = (
    "SELECT g, 'row ' || g, g % 2 = 0, timestamptz '2024-01-01 00:00+00' + g * interval '1 s',"
    " g / 3.0::float8, (g / 7.0)::numeric(12,4), md5(g::text)::uuid"
    " FROM generate_series(1, {rows}) g"
)


def check(rows_out: Any, rows: int) -> None:
    """Every value of every row touched; the last row is the one expected."""
    touched = 0
    for row in rows_out:
        for _value in row:
            touched += 1
    last = rows_out[-1]
    if touched != rows * 7 or last[0] != rows or last[1] != f"row {rows}":
        raise AssertionError(f"wrong result, last row {last!r}")
