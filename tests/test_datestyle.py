"""Date/time values read right whatever DateStyle, IntervalStyle and TimeZone the server has.

pgpipe asks text results on a statement's first run and binary on later runs,
so every value is read both ways here: each statement carries a comment of
its own (a first run: text), then runs again (binary). ``execute`` (the
simple protocol) always reads text. The styles come from the StartupMessage
(``server_settings``), a ``SET`` in the session, ``ALTER ROLE`` / ``ALTER
DATABASE ... SET`` and the server's configuration file.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Interval, Range, errors
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from pgpipe.types.binary import interval_value
from tests.clients import Adapter, Client

DATESTYLES = [
    f"{style}, {order}"
    for style in ("ISO", "SQL", "Postgres", "German")
    for order in ("MDY", "DMY", "YMD")
]
INTERVALSTYLES = ["postgres", "postgres_verbose", "sql_standard", "iso_8601"]
# Folds, LMT, an offset-named zone (+0545), half-hour DST (+1030), negative DST
# in the tz database (Dublin's IST), a POSIX rule, and one Python cannot load.
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "UTC",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "EST5EDT",
    "<+05>-05",
]

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.UTC

DATES = [
    dt.date(2024, 3, 4),  # day and month both <= 12: the order matters
    dt.date(2024, 12, 31),
    dt.date(2024, 2, 29),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.date(999, 5, 6),
]
TIMESTAMPS = [
    dt.datetime(2024, 3, 4, 5, 6, 7, 891011),
    dt.datetime(2000, 1, 2, 0, 0, 0, 1),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(1850, 6, 7, 8, 9, 10),
]
# Instants, including both sides of a DST fold in New York and Berlin (the same
# wall-clock time twice, told apart only by the zone abbreviation in non-ISO styles).
INSTANTS = [
    dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT in New York
    dt.datetime(2024, 11, 3, 6, 30, tzinfo=UTC),  # 01:30 EST in New York
    dt.datetime(2024, 10, 27, 0, 30, 0, 250000, tzinfo=UTC),  # 02:30 CEST in Berlin
    dt.datetime(2024, 10, 27, 1, 30, 0, 250000, tzinfo=UTC),  # 02:30 CET in Berlin
    dt.datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # 03:00 EDT, just after New York's gap
    dt.datetime(2024, 7, 1, 12, 0, 0, 123456, tzinfo=UTC),
    dt.datetime(1850, 1, 1, 12, tzinfo=UTC),  # local mean time (LMT) everywhere
    dt.datetime(1, 1, 2, tzinfo=UTC),
]
INTERVALS: list[dt.timedelta | Interval] = [
    dt.timedelta(0),
    dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=5),
    dt.timedelta(microseconds=-1),
    dt.timedelta(seconds=-1.5),
    dt.timedelta(hours=100),
    -dt.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=789),
    Interval(14, -3, 14_706_500_000),  # 1 year 2 mons -3 days +04:05:06.5
    Interval(-14, 0, 0),
    Interval(-13, 5, -3_600_000_001),
    Interval(1, 0, -500_000),
    Interval(-1, -1, 1),
    Interval(12 * 178_000_000, 0, 0),
    Interval(-(2**31) + 1, 2**31 - 1, 2**63 - 1),
]


def read_both_ways(conn: Client, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` read in text (its first run), checked equal to those read
    in binary (its second run)."""
    unique = f"{sql} /* {uuid.uuid4()} */"
    text_rows = conn.query(unique, *params).rows
    binary_rows = conn.query(unique, *params).rows
    assert exact(text_rows) == exact(binary_rows)
    return text_rows


def exact(value: object) -> object:
    """``value`` with each aware datetime as (its instant in UTC, its UTC offset).

    Two aware datetimes in one zone compare by wall-clock time, so the two sides
    of a DST fold would be equal (and in different zones a time in a fold is
    never equal to anything): compared this way, they are told apart.
    """
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return (value.astimezone(UTC), value.utcoffset())
    if isinstance(value, list | tuple):
        return [exact(item) for item in value]
    if isinstance(value, Range):
        return (exact(value.lower), exact(value.upper), value.bounds, value.empty)
    return value


def in_zone(value: object, zone: str) -> object:
    """``value`` with each aware datetime given in ``zone``, as pgpipe gives it."""
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value.astimezone(python_zone(zone))
    if isinstance(value, list):
        return [in_zone(item, zone) for item in value]
    if isinstance(value, tuple):
        return tuple(in_zone(item, zone) for item in value)
    if isinstance(value, Range) and not value.empty:
        return Range(in_zone(value.lower, zone), in_zone(value.upper, zone), value.bounds)
    return value


def python_zone(name: str) -> dt.tzinfo:
    """The zone pgpipe gives timestamptz values in: UTC for one Python cannot load."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


@pytest.fixture
def server(pg_server: TemporaryPostgres) -> TemporaryPostgres:
    return pg_server


def connect(adapter: Adapter, server: TemporaryPostgres, **settings: str) -> Client:
    return adapter.connect(server.dsn(dbname="pgpipe"), server_settings=settings)


# -- every DateStyle ---------------------------------------------------------------


@pytest.mark.parametrize("datestyle", DATESTYLES)
def test_dates_and_timestamps_in_every_datestyle(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str
) -> None:
    conn = connect(adapter, server, DateStyle=datestyle, TimeZone="UTC")
    assert conn.parameters["DateStyle"] == datestyle
    values = [*DATES, *TIMESTAMPS]
    types = ["date"] * len(DATES) + ["timestamp"] * len(TIMESTAMPS)
    sql = "SELECT " + ", ".join(f"${i}::{name}" for i, name in enumerate(types, 1))
    assert read_both_ways(conn, sql, *values) == [tuple(values)]
    # Literals the server parses itself (ISO, read the same in every DateStyle).
    (result,) = conn.execute(
        "SELECT '2024-03-04'::date, '2024-03-04 05:06:07.891011'::timestamp, "
        "'0999-05-06'::date, '2024-11-03 01:30:00-04'::timestamptz"
    )
    assert result.rows == [
        (
            dt.date(2024, 3, 4),
            dt.datetime(2024, 3, 4, 5, 6, 7, 891011),
            dt.date(999, 5, 6),
            dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        )
    ]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("datestyle", DATESTYLES)
def test_timestamptz_in_every_datestyle_and_zone(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str, zone: str
) -> None:
    """Non-ISO styles name the zone by abbreviation (EDT/EST, CEST/CET, LMT, +0545):
    the session's TimeZone gives the offset, the abbreviation the side of a fold."""
    conn = connect(adapter, server, DateStyle=datestyle, TimeZone=zone)
    sql = "SELECT " + ", ".join(f"${i}::timestamptz" for i in range(1, len(INSTANTS) + 1))
    rows = read_both_ways(conn, sql, *INSTANTS)
    assert exact(rows) == exact([in_zone(tuple(INSTANTS), zone)])
    assert rows[0][0].tzinfo == python_zone(zone) or zone == "UTC"
    arrays = read_both_ways(
        conn,
        "SELECT $1::timestamptz[], $2::tstzrange",
        INSTANTS[:4],
        Range(INSTANTS[0], INSTANTS[1], "[]"),
    )
    expected = [(INSTANTS[:4], Range(INSTANTS[0], INSTANTS[1], "[]"))]
    assert exact(arrays) == exact(in_zone(expected, zone))


@pytest.mark.parametrize("datestyle", ["SQL, MDY", "Postgres, DMY", "German"])
def test_an_abbreviation_no_zone_explains_is_refused(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str
) -> None:
    """A POSIX TimeZone with a made-up name ("XYZ3"): the server prints "XYZ", whose
    offset pgpipe cannot know; a DataError saying so, never a guess. ISO and binary
    results carry the offset and read right."""
    conn = connect(adapter, server, DateStyle=datestyle, TimeZone="XYZ3")
    statement = f"SELECT $1::timestamptz /* {uuid.uuid4()} */"
    with pytest.raises(errors.DataError, match=r"XYZ is not a name the session's TimeZone 'XYZ3'"):
        conn.query(statement, INSTANTS[5])
    assert exact(conn.query(statement, INSTANTS[5]).rows) == exact([(INSTANTS[5],)])  # binary
    conn.execute("SET DateStyle = 'ISO'")
    assert exact(read_both_ways(conn, "SELECT $1::timestamptz", INSTANTS[5])) == exact(
        [(INSTANTS[5],)]
    )


@pytest.mark.parametrize("datestyle", DATESTYLES)
def test_arrays_ranges_and_multiranges_in_every_datestyle(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str
) -> None:
    conn = connect(adapter, server, DateStyle=datestyle, TimeZone="Europe/Berlin")
    rows = read_both_ways(
        conn,
        "SELECT $1::date[], $2::timestamp[], $3::daterange, $4::tsrange, "
        "datemultirange($3::daterange, daterange('2025-01-02', '2025-03-04')), "
        "ARRAY[$3::daterange, 'empty'], "
        "tstzmultirange(tstzrange('2024-10-27 02:30:00+02', '2024-10-27 02:30:00+01', '[]'))",
        DATES,
        [[TIMESTAMPS[0], None], [TIMESTAMPS[1], TIMESTAMPS[2]]],
        Range(dt.date(2024, 3, 4), dt.date(2024, 12, 1)),
        Range(TIMESTAMPS[1], None, "(]"),
    )
    fold = Range(
        dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC), dt.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    )
    assert exact(rows) == exact(
        [
            (
                DATES,
                [[TIMESTAMPS[0], None], [TIMESTAMPS[1], TIMESTAMPS[2]]],
                Range(dt.date(2024, 3, 4), dt.date(2024, 12, 1)),
                Range(TIMESTAMPS[1], None, "(]"),
                [
                    Range(dt.date(2024, 3, 4), dt.date(2024, 12, 1)),
                    Range(dt.date(2025, 1, 2), dt.date(2025, 3, 4)),
                ],
                [Range(dt.date(2024, 3, 4), dt.date(2024, 12, 1)), Range(empty=True)],
                in_zone([Range(fold.lower, fold.upper, "[]")], "Europe/Berlin"),
            )
        ]
    )


@pytest.mark.parametrize("datestyle", DATESTYLES)
@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("'infinity'::date", "date 'infinity'"),
        ("'-infinity'::timestamp", "timestamp '-infinity'"),
        ("'infinity'::timestamptz", "'infinity'"),
        ("'0044-03-15 BC'::date", "BC"),
        ("'0044-03-15 12:00 BC'::timestamp", "BC"),
        ("'0044-03-15 12:00:00+00 BC'::timestamptz", "BC"),
    ],
)
def test_infinity_and_bc_are_refused_in_every_datestyle(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str, sql: str, kind: str
) -> None:
    """Python's datetime has neither: a DataError in text and in binary, never a wrong value."""
    conn = connect(adapter, server, DateStyle=datestyle, TimeZone="America/New_York")
    statement = f"SELECT {sql} /* {uuid.uuid4()} */"
    for _ in range(2):  # text, then binary
        with pytest.raises(errors.DataError, match=r"cannot be represented|out of range"):
            conn.query(statement)
    with pytest.raises(errors.DataError, match=kind if "BC" in kind else "infinity"):
        conn.execute(f"SELECT {sql}")
    assert conn.query("SELECT 1").rows == [(1,)]  # still in sync


def test_time_and_timetz_do_not_depend_on_datestyle(
    adapter: Adapter, server: TemporaryPostgres
) -> None:
    values = [
        dt.time(12, 34, 56, 789),
        dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))),
    ]
    for datestyle in ("SQL, DMY", "Postgres, MDY", "German"):
        conn = connect(adapter, server, DateStyle=datestyle)
        assert read_both_ways(conn, "SELECT $1::time, $2::timetz", *values) == [tuple(values)]


# -- every IntervalStyle -------------------------------------------------------------


@pytest.mark.parametrize("intervalstyle", INTERVALSTYLES)
def test_intervals_in_every_intervalstyle(
    adapter: Adapter, server: TemporaryPostgres, intervalstyle: str
) -> None:
    conn = connect(adapter, server, IntervalStyle=intervalstyle)
    assert conn.parameters["IntervalStyle"] == intervalstyle
    sql = "SELECT " + ", ".join(f"${i}::interval" for i in range(1, len(INTERVALS) + 1))
    assert read_both_ways(conn, sql, *INTERVALS) == [tuple(INTERVALS)]
    rows = read_both_ways(
        conn, "SELECT $1::interval[], x FROM unnest($1::interval[]) AS x", INTERVALS
    )
    assert rows == [(INTERVALS, value) for value in INTERVALS]
    # Literals the server parses itself, then prints in the session's style.
    (result,) = conn.execute(
        "SELECT make_interval(years => -1, days => 2, secs => 3.5), "
        "make_interval(days => -1, secs => 1), interval '0', "
        "make_interval(mins => -1) * 61"
    )
    assert result.rows == [
        (
            Interval(-12, 2, 3_500_000),
            dt.timedelta(days=-1, seconds=1),
            dt.timedelta(0),
            dt.timedelta(minutes=-61),
        )
    ]


@pytest.mark.parametrize("intervalstyle", INTERVALSTYLES)
@pytest.mark.parametrize("datestyle", ["ISO, MDY", "SQL, DMY", "Postgres, YMD", "German, MDY"])
def test_every_datestyle_with_every_intervalstyle(
    adapter: Adapter, server: TemporaryPostgres, datestyle: str, intervalstyle: str
) -> None:
    conn = connect(
        adapter, server, DateStyle=datestyle, IntervalStyle=intervalstyle, TimeZone="Europe/Berlin"
    )
    values = (DATES[0], TIMESTAMPS[0], INSTANTS[3], INTERVALS[8])
    rows = read_both_ways(
        conn, "SELECT $1::date, $2::timestamp, $3::timestamptz, $4::interval", *values
    )
    assert exact(rows) == exact([in_zone(values, "Europe/Berlin")])
    (result,) = conn.execute(
        "SELECT '2024-03-04'::timestamp - '2023-01-02 03:04:05.5'::timestamp, "
        "age('2024-03-04'::date, '2023-01-02'::date)"
    )
    assert result.rows == [
        (
            dt.timedelta(days=426, hours=20, minutes=55, seconds=54, microseconds=500000),
            Interval(14, 2, 0),
        ),
    ]


INTERVAL_VALUES = st.builds(
    Interval,
    st.integers(-(2**31) + 1, 2**31 - 1) | st.integers(-30, 30),
    st.integers(-(10**8), 10**8) | st.integers(-40, 40),
    st.integers(-(2**63) + 1, 2**63 - 1) | st.integers(-(10**12), 10**12),
)


@pytest.fixture(scope="module")
def styled_conns(pg_server: TemporaryPostgres) -> Iterator[dict[str, pgpipe.Connection]]:
    conns = {
        style: pgpipe.connect(
            pg_server.dsn(dbname="pgpipe"), server_settings={"IntervalStyle": style}
        )
        for style in INTERVALSTYLES
    }
    yield conns
    for conn in conns.values():
        conn.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(INTERVAL_VALUES, min_size=1, max_size=40))
def test_interval_text_parsers_against_the_server(
    styled_conns: dict[str, pgpipe.Connection], values: list[Interval]
) -> None:
    """Random intervals (any sign in each of months, days and microseconds) printed by
    the server in each IntervalStyle and read back as text."""
    expected = [interval_value(v.months, v.days, v.microseconds) for v in values]
    for conn in styled_conns.values():
        sql = f"SELECT x FROM unnest($1::interval[]) AS x /* {uuid.uuid4()} */"
        assert [row[0] for row in conn.query(sql, values).rows] == expected


# -- styles that change in the middle of a session ------------------------------------


def test_set_in_the_middle_of_a_session(adapter: Adapter, server: TemporaryPostgres) -> None:
    """A SET of DateStyle, IntervalStyle or TimeZone is followed (ParameterStatus); the
    connection stays open, and statements already run once still read right."""
    conn = connect(adapter, server)
    sql = "SELECT $1::date, $2::timestamptz, $3::interval, $4::daterange"
    values = (DATES[0], INSTANTS[0], INTERVALS[8], Range(DATES[0], DATES[1]))
    for setting in (
        "SET DateStyle = 'SQL, DMY'",
        "SET IntervalStyle = 'sql_standard'",
        "SET TimeZone = 'America/New_York'",
        "SET DateStyle = 'Postgres, MDY'",
        "SET IntervalStyle = 'postgres_verbose'",
        "SET DateStyle = 'German'",
        "SET TimeZone = 'Europe/Berlin'",
        "SET IntervalStyle = 'iso_8601'",
        "RESET ALL",
    ):
        conn.execute(setting)
        for _ in range(2):
            (row,) = conn.query(sql, *values).rows
            assert exact(row) == exact(in_zone(values, conn.parameters["TimeZone"]))
            (row,) = conn.query(f"SELECT '2024-03-04'::date /* {uuid.uuid4()} */").rows
            assert row == (dt.date(2024, 3, 4),)
    assert not conn.closed


def test_set_in_a_transaction_and_rolled_back(adapter: Adapter, server: TemporaryPostgres) -> None:
    conn = connect(adapter, server)
    with pytest.raises(ZeroDivisionError), conn.transaction():
        conn.execute("SET DateStyle = 'SQL, DMY'")
        assert conn.parameters["DateStyle"] == "SQL, DMY"
        assert conn.query(f"SELECT '2024-03-04'::date /* {uuid.uuid4()} */").rows == [
            (dt.date(2024, 3, 4),)
        ]
        raise ZeroDivisionError
    assert conn.parameters["DateStyle"] == "ISO, MDY"
    assert conn.query(f"SELECT '2024-03-04'::date /* {uuid.uuid4()} */").rows == [
        (dt.date(2024, 3, 4),)
    ]


def test_a_registered_composite_follows_the_style(
    adapter: Adapter, server: TemporaryPostgres
) -> None:
    """A composite's date fields are read in the style of the moment, not the one it
    was registered under."""
    conn = connect(adapter, server)
    name = f"stamp_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE TYPE {name} AS (day date, at timestamptz, span interval)")
    try:
        conn.register_type(name)
        value = (DATES[0], INSTANTS[1], INTERVALS[8])
        for setting in (
            "SET DateStyle = 'SQL, DMY'",
            "SET TimeZone = 'America/New_York'",
            "SET IntervalStyle = 'sql_standard'",
        ):
            conn.execute(setting)
            (row,) = read_both_ways(
                conn, f"SELECT ROW($1::date, $2::timestamptz, $3::interval)::{name}", *value
            )
            assert exact(tuple(row[0])) == exact(in_zone(value, conn.parameters["TimeZone"]))
    finally:
        conn.execute(f"DROP TYPE {name}")


def test_client_encoding_is_still_pinned(adapter: Adapter, server: TemporaryPostgres) -> None:
    conn = connect(adapter, server)
    with pytest.raises(pgpipe.ProtocolError, match=r"client_encoding.*LATIN1.*UTF8"):
        conn.execute("SET client_encoding = 'LATIN1'")
    assert conn.closed
    assert "client_encoding" in (conn.closed_reason or "")


@pytest.fixture
def styled_database(pg_server: TemporaryPostgres) -> Iterator[str]:
    """A database whose default DateStyle is SQL, DMY, where the trust role's
    default IntervalStyle is sql_standard and TimeZone America/New_York."""
    name = f"pgpipe_styles_{uuid.uuid4().hex[:8]}"
    user, _ = AUTH_USERS["trust"]
    pg_server.psql(
        f"CREATE DATABASE {name};\n"
        f"ALTER DATABASE {name} SET DateStyle = 'SQL, DMY';\n"
        f"ALTER ROLE {user} IN DATABASE {name} SET IntervalStyle = 'sql_standard';\n"
        f"ALTER ROLE {user} IN DATABASE {name} SET TimeZone = 'America/New_York';\n"
    )
    yield name
    pg_server.psql(
        f"ALTER ROLE {user} IN DATABASE {name} RESET ALL;\nDROP DATABASE {name} WITH (FORCE);\n"
    )


def test_role_and_database_defaults(
    adapter: Adapter, pg_server: TemporaryPostgres, styled_database: str
) -> None:
    user, _ = AUTH_USERS["trust"]
    conn = adapter.connect(pg_server.dsn(user, None, styled_database))
    assert conn.parameters["DateStyle"] == "SQL, DMY"
    assert conn.parameters["IntervalStyle"] == "sql_standard"
    assert conn.parameters["TimeZone"] == "America/New_York"
    values = (DATES[0], INSTANTS[0], INSTANTS[1], INTERVALS[8], TIMESTAMPS[0])
    rows = read_both_ways(
        conn,
        "SELECT $1::date, $2::timestamptz, $3::timestamptz, $4::interval, $5::timestamp",
        *values,
    )
    assert exact(rows) == exact([in_zone(values, "America/New_York")])
    assert [v.tzname() for v in rows[0][1:3]] == ["EDT", "EST"]


@pytest.mark.parametrize("datestyle", ["SQL, DMY", "Postgres, DMY", "German, DMY"])
def test_server_configuration_reloaded(
    adapter: Adapter, pg_server: TemporaryPostgres, datestyle: str
) -> None:
    """postgresql.conf changed and reloaded: the first statement to run under the new
    DateStyle prints its rows in it, and the server reports the change only at that
    statement's ReadyForQuery, after them. Its rows are decoded once the report
    is in, so even the day/month order flip (MDY to DMY) is read right."""
    conn = connect(adapter, pg_server)
    pg_server.psql(f"ALTER SYSTEM SET DateStyle = '{datestyle}';\nSELECT pg_reload_conf();\n")
    try:
        for _ in range(500):  # until this backend has taken the reload
            before = conn.parameters["DateStyle"]
            (row,) = conn.query(
                "SELECT '2024-03-04'::date, '2024-03-04 05:06:07.5'::timestamp, "
                f"current_setting('DateStyle') /* {uuid.uuid4()} */"
            ).rows
            assert row[:2] == (dt.date(2024, 3, 4), dt.datetime(2024, 3, 4, 5, 6, 7, 500000))
            if row[2] == datestyle:
                assert before == "ISO, MDY"  # the report came after the rows
                break
            time.sleep(0.01)
        assert conn.parameters["DateStyle"] == datestyle
        assert read_both_ways(conn, "SELECT $1::date, $2::timestamp", DATES[0], TIMESTAMPS[0]) == [
            (DATES[0], TIMESTAMPS[0])
        ]
    finally:
        pg_server.psql("ALTER SYSTEM RESET DateStyle;\nSELECT pg_reload_conf();\n")


def test_set_earlier_in_the_same_script(adapter: Adapter, server: TemporaryPostgres) -> None:
    """The report of a SET comes at the script's end, after the rows printed under it."""
    conn = connect(adapter, server, TimeZone="Europe/Berlin")
    results = conn.execute(
        "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'America/New_York'; "
        "SELECT '2024-03-04'::date, '2024-11-03 01:30:00-05'::timestamptz"
    )
    assert exact(results[-1].rows) == exact(
        [(dt.date(2024, 3, 4), dt.datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1))]
    )
    assert conn.parameters["DateStyle"] == "SQL, DMY"
