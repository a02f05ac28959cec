"""Commands that fail while being queued never leave anything behind.

Random sequences of queries, pipelines, executemany batches and prepared
statements, some holding a value that cannot be encoded, run on one
connection (with and without a statement cache); after every command a
check statement must get exactly its own answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from tests.clients import Adapter, Client


class Unencodable:
    """A parameter value no encoder takes."""


@dataclass(frozen=True)
class Command:
    kind: str  # "query", "pipeline", "executemany" or "prepared"
    bad: tuple[bool, ...]  # per statement (or row): a value that cannot be encoded
    mode: str = "independent"


def commands() -> st.SearchStrategy[Command]:
    flags = st.lists(st.booleans(), min_size=1, max_size=6).map(tuple)
    return st.one_of(
        st.builds(Command, st.just("query"), st.tuples(st.booleans())),
        st.builds(Command, st.just("pipeline"), flags, st.sampled_from(["independent", "atomic"])),
        st.builds(Command, st.just("executemany"), flags),
        st.builds(Command, st.just("prepared"), st.tuples(st.booleans())),
    )


@pytest.fixture(params=[0, 2], ids=["no-cache", "cache-2"])
def client(request: pytest.FixtureRequest, adapter: Adapter, dsn: str) -> Iterator[Client]:
    yield adapter.connect(dsn, statement_cache_size=request.param)


_tokens = itertools.count()


def run(client: Client, command: Command) -> None:
    """Run ``command``; each good statement must answer its own token."""
    base = next(_tokens) * 100
    values: list[object] = [
        Unencodable() if bad else f"t{base + i}" for i, bad in enumerate(command.bad)
    ]
    sql = "SELECT $1::text"
    failing = any(command.bad)
    try:
        if command.kind == "query":
            assert client.query(sql, values[0]).rows == [(values[0],)]
        elif command.kind == "executemany":
            results = client._call(client.conn.executemany(sql, [(v,) for v in values]))
            assert [r.rows[0][0] for r in results] == values
        elif command.kind == "prepared":
            statement = client._call(client.conn.prepare(sql))
            try:
                assert client._call(statement.query(values[0])).rows == [(values[0],)]
            finally:
                client._call(statement.close())
        else:
            handles: list[pgpipe.Pending[pgpipe.Result]] = []
            if client.adapter == "sync":
                with client.conn.pipeline(command.mode) as p:
                    handles += [p.query(sql, v) for v in values]
            else:

                async def go() -> None:
                    async with client.conn.pipeline(command.mode) as p:
                        handles.extend(p.query(sql, v) for v in values)

                client._call(go())
            assert [h.result().rows[0][0] for h in handles] == values
    except pgpipe.DataError as exc:
        assert failing, exc
    else:
        assert not failing


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(commands(), min_size=1, max_size=8))
def test_failed_queueing_never_desynchronises(client: Client, sequence: list[Command]) -> None:
    for command in sequence:
        run(client, command)
        token = f"check {next(_tokens)}"
        assert client.query("SELECT $1::text", token).rows == [(token,)]
        assert client.transaction_status == "I"
        assert not client.closed
