"""Order-independent upserts: the merge rule of ``sinks.state`` expressed in SQL.

A ``MergeGroup`` is a set of columns that all come from one winning event. On
conflict, the group is replaced only when the incoming row's key beats the stored
key, so any order and any repetition of upserts give the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table, and_, case, or_, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert


@dataclass(frozen=True)
class MergeGroup:
    """Columns from one winning event; ``key`` decides the winner, ``present`` marks presence."""

    present: str
    key: tuple[str, ...]
    wins: Literal["lowest", "highest"]
    columns: tuple[str, ...]


def dialect_insert(table: Table, dialect_name: str) -> Any:
    """An INSERT with ``on_conflict_do_*`` for the engine in use (both share the API)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {dialect_name!r} (use PostgreSQL or SQLite)")


def merge_upsert(
    table: Table,
    dialect_name: str,
    index_elements: Sequence[str],
    groups: Sequence[MergeGroup],
    always: Sequence[str] = (),
) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE keeping each group's winner; ``always`` columns overwrite.

    The DO UPDATE also takes the row lock, which the writer relies on for lock order.
    """
    stmt = dialect_insert(table, dialect_name)
    new, old = stmt.excluded, table.c
    set_: dict[str, Any] = {}
    for group in groups:
        new_key = tuple_(*(new[c] for c in group.key))
        old_key = tuple_(*(old[c] for c in group.key))
        better = new_key < old_key if group.wins == "lowest" else new_key > old_key
        wins = and_(new[group.present].is_not(None), or_(old[group.present].is_(None), better))
        for column in group.columns:
            set_[column] = case((wins, new[column]), else_=old[column])
    for column in always:
        set_[column] = new[column]
    upsert: Insert = stmt.on_conflict_do_update(index_elements=list(index_elements), set_=set_)
    return upsert


# PostgreSQL array types of the column types in ``sinks.postgres.tables``. JSON travels
# as text and is cast in the statement (the driver needs no JSON codec for arrays).
_ARRAY_TYPES = {
    "TEXT": "text",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "BIGINT": "int8",
    "BOOLEAN": "bool",
    "FLOAT": "float8",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSONB": "text",
    "BYTEA": "bytea",
}


_POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


def _compiled_type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=_POSTGRESQL)).split(" COLLATE ")[0]


def _unnest(table: Table, columns: Sequence[str], names: Sequence[str]) -> str:
    """``unnest($1::type[], ...) AS batch(names)``: one array parameter per column."""
    arrays = []
    for number, column in enumerate(columns, start=1):
        compiled = _compiled_type(table, column)
        if compiled not in _ARRAY_TYPES:
            raise ValueError(f"no array type for {table.name}.{column} ({compiled})")
        arrays.append(f"${number}::{_ARRAY_TYPES[compiled]}[]")
    return f"unnest({', '.join(arrays)}) AS batch({', '.join(names)})"


def json_columns(table: Table) -> frozenset[str]:
    """Columns that hold JSON on PostgreSQL: their array elements are JSON text."""
    return frozenset(c.name for c in table.c if _compiled_type(table, c.name) == "JSONB")


def _value(table: Table, column: str) -> str:
    name = f"batch.{column}"
    return f"{name}::jsonb" if column in json_columns(table) else name


def array_insert_sql(statement: Insert, table: Table, columns: Sequence[str]) -> str:
    """``statement`` (an INSERT ... ON CONFLICT) fed from one array per column (PostgreSQL).

    The whole batch is one statement and one round trip, and the ON CONFLICT clause is
    the very one SQLAlchemy compiles for ``statement``, so the merge rule is the same
    on every dialect.
    """
    compiled = str(statement.compile(dialect=_POSTGRESQL))
    conflict = compiled[compiled.index(" ON CONFLICT ") :]
    values = ", ".join(_value(table, c) for c in columns)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {values} FROM {_unnest(table, columns, columns)}{conflict}"
    )


def array_update_sql(table: Table, key: str, columns: Sequence[str]) -> str:
    """``UPDATE`` the rows whose ``key`` is in the first array with the other arrays' values."""
    assignments = ", ".join(f"{c} = {_value(table, c)}" for c in columns)
    source = _unnest(table, [key, *columns], [f"key_{key}", *columns])
    return (
        f"UPDATE {table.name} SET {assignments} FROM {source} "
        f"WHERE {table.name}.{key} = batch.key_{key}"
    )
