"""What PostgreSQL (15, the suite's server) and pgpipe's dialect support, for
SQLAlchemy's dialect compliance suite: SuiteRequirements leaves these closed
(the suite skips them) until a dialect opens them."""

from __future__ import annotations

from typing import Any

# SQLAlchemy's PostgreSQL provisioning (temp tables, schemas, cleanup): the
# suite loads a dialect's from its package, which would be pgpipe.sqlalchemy.
import sqlalchemy
import sqlalchemy.dialects.postgresql.provision
from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

_SQLALCHEMY = tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2])

# Features PostgreSQL has: each opens the suite's tests of it.
_OPEN = (
    "aggregate_order_by",
    "array_type",
    "autocommit",
    "boolean_col_expressions",
    "check_constraint_reflection",
    "column_collation_reflection",
    "comment_reflection",
    "comment_reflection_full_unicode",
    "computed_columns_default_persisted",
    "computed_columns_stored",
    "constraint_comment_reflection",
    "create_or_replace_view",
    "create_table_as",
    "create_temp_table_as",
    "cross_schema_fk_reflection",
    "ctes",
    "ctes_on_dml",
    "ctes_with_update_delete",
    "ctes_with_values",
    "date_historic",
    "datetime_historic",
    "datetime_interval",
    "datetime_literals",
    "datetime_timezone",
    "datetime_timezone_historic",
    "default_schema_name_switch",
    "deferrable_fks",
    "delete_from",
    "except_",
    "expression_server_defaults",
    "fetch_expression",
    "fetch_first",
    "fetch_no_order_by",
    "fetch_offset_with_options",
    "fetch_ties",
    "fk_constraint_option_reflection_ondelete_noaction",
    "fk_constraint_option_reflection_ondelete_restrict",
    "fk_constraint_option_reflection_onupdate_restrict",
    "float_or_double_precision_behaves_generically",
    "foreign_key_constraint_option_reflection_ondelete",
    "foreign_key_constraint_option_reflection_onupdate",
    "has_temp_table",
    "identity_columns",
    "identity_columns_standard",
    "implicit_default_schema",
    "index_ddl_if_exists",
    "index_reflects_included_columns",
    "indexes_check_column_order",
    "indexes_with_expressions",
    "infinity_floats",
    "inline_check_constraint_reflection",
    "intersect",
    "json_type",
    "legacy_unconditional_json_extract",
    "literal_float_coercion",
    "materialized_views",
    "mod_operator_as_percent_sign",
    "nullsordering",
    "precision_numerics_enotation_small",
    "precision_numerics_many_significant_digits",
    "precision_numerics_retains_significant_digits",
    "reflect_indexes_with_expressions",
    "reflect_tables_no_columns",
    "reflects_pk_names",
    "regexp_match",
    "regexp_replace",
    "repeated_column_foreign_keys",
    "savepoints",
    "schema_create_delete",
    "server_defaults",
    "skip_autocommit_rollback",
    "supports_bitwise_and",
    "supports_bitwise_not",
    "supports_bitwise_or",
    "supports_bitwise_shift",
    "supports_bitwise_xor",
    "supports_distinct_on",
    "table_ddl_if_exists",
    "table_value_constructor",
    "temp_table_comment_reflection",
    "temp_table_names",
    "temporary_views",
    "time_timezone",
    "timestamp_microseconds",
    "tuple_in",
    "unicode_ddl",
    "unique_constraints_reflect_as_index",
    "update_from",
    "uuid_data_type",
    "views",
    "window_functions",
    "window_range",
    "window_range_non_numeric",
    "window_range_numeric",
)


def _opened(name: str) -> property:
    return property(lambda self: exclusions.open(), doc=f"PostgreSQL has {name}.")


class Requirements(SuiteRequirements):  # type: ignore[misc]
    @property
    def reflect_table_options(self) -> Any:
        # SQLAlchemy's PGDialect reflects table options from 2.1 on.
        return exclusions.only_if(
            lambda config: _SQLALCHEMY >= (2, 1),
            "SQLAlchemy 2.0's PGDialect reflects no table options",
        )

    def get_order_by_collation(self, config: Any) -> str:
        # A collation every PostgreSQL has, whatever the cluster's locale.
        return "POSIX"

    @property
    def computed_columns(self) -> Any:
        # The suite's tables declare Computed() without persisted=, which
        # SQLAlchemy 2.1 warns about (SAWarning, an error in the suite) before
        # PostgreSQL 18, whose VIRTUAL columns changed the default.
        return exclusions.skip_if(
            lambda config: config.db.dialect.server_version_info < (18,),
            "Computed() without persisted= warns before PostgreSQL 18",
        )

    @property
    def async_dialect(self) -> Any:
        return exclusions.only_if(lambda config: config.db.dialect.is_async, "the asyncio dialect")


for _name in _OPEN:
    setattr(Requirements, _name, _opened(_name))
