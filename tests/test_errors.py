"""The exception tree and the SQLSTATE classes generated from errcodes.txt."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from pgpipe import errors

ROOT = Path(__file__).resolve().parent.parent


def test_from_fields_picks_the_most_specific_class() -> None:
    exc = errors.from_fields({"S": "ERROR", "C": "23505", "M": "duplicate key", "n": "t_pkey"})
    assert type(exc) is errors.UniqueViolation
    assert isinstance(exc, errors.IntegrityConstraintViolation)
    assert isinstance(exc, errors.IntegrityError)
    assert exc.constraint_name == "t_pkey"
    assert exc.sqlstate == "23505" and exc.code == "23505"


def test_unknown_code_in_a_known_class_falls_back_to_the_class() -> None:
    exc = errors.from_fields({"C": "23999", "M": "new"})
    assert type(exc) is errors.IntegrityConstraintViolation
    assert exc.code == "23999"


def test_unknown_class_is_database_error() -> None:
    exc = errors.from_fields({"C": "ZZ999", "M": "odd"})
    assert type(exc) is errors.DatabaseError
    assert errors.from_fields({"M": "no code"}).code is None


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("22012", errors.DataError),
        ("42601", errors.ProgrammingError),
        ("28P01", errors.OperationalError),
        ("57P01", errors.OperationalError),
        ("40001", errors.OperationalError),
        ("0A000", errors.NotSupportedError),
        ("25P02", errors.InternalError),
        ("XX000", errors.InternalError),
    ],
)
def test_categories(code: str, category: type[errors.DatabaseError]) -> None:
    assert isinstance(errors.from_fields({"C": code, "M": "m"}), category)


def test_internal_error_does_not_shadow_the_category() -> None:
    assert errors.InternalServerError.sqlstate == "XX000"
    assert errors.InternalError.sqlstate is None


def test_fields_and_rendering() -> None:
    exc = errors.from_fields(
        {
            "S": "ERROR",
            "V": "ERROR",
            "C": "42P01",
            "M": 'relation "x" does not exist',
            "D": "some detail",
            "H": "a hint",
            "P": "15",
            "L": "1384",
            "p": "junk",
        }
    )
    assert exc.severity == "ERROR"
    assert exc.position == 15 and exc.source_line == 1384
    assert exc.internal_position is None
    assert str(exc) == 'relation "x" does not exist\nDETAIL:  some detail\nHINT:  a hint'
    assert repr(exc) == "UndefinedTable(sqlstate='42P01', message='relation \"x\" does not exist')"
    with pytest.raises(TypeError):
        exc.fields["M"] = "changed"  # type: ignore[index]


def test_client_side_errors_have_a_message_and_no_fields() -> None:
    exc = errors.OperationalError("server closed the connection unexpectedly")
    assert str(exc) == "server closed the connection unexpectedly"
    assert exc.fields == {} and exc.code is None


def test_the_tree() -> None:
    for cls in (errors.InterfaceError, errors.ProtocolError, errors.DatabaseError):
        assert issubclass(cls, errors.Error)
    assert not issubclass(errors.ProtocolError, errors.InterfaceError | errors.DatabaseError)
    assert not issubclass(errors.InterfaceError, errors.DatabaseError)


def test_generated_classes_are_consistent() -> None:
    codes = errors._BY_SQLSTATE
    assert len(codes) > 200
    for code, cls in codes.items():
        assert cls.sqlstate == code
        assert re.fullmatch(r"[0-9A-Z]{5}", code)
        if not code.endswith("000") and code[:2] + "000" in codes:
            assert issubclass(cls, codes[code[:2] + "000"])


def test_generator_reproduces_the_committed_file() -> None:
    spec = importlib.util.spec_from_file_location("gen_errors", ROOT / "tools" / "gen_errors.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_errors"] = gen
    spec.loader.exec_module(gen)
    source = Path(gen.DEFAULT_SOURCE)
    committed = (ROOT / "pgpipe" / "errors.py").read_text()
    if not source.exists():  # another PostgreSQL major: check the block is well formed
        assert gen.BEGIN in committed and gen.END in committed
        return
    block = gen.render(gen.parse(source.read_text()))
    assert gen.rewrite(committed, block) == committed
