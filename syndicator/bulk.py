"""Many rows in one statement: a first import writes thousands at a time.

psycopg's `executemany` sends every row as a statement of its own (pipelined, but a
round of Python and of the server per row), and SQLAlchemy's INSERT..RETURNING of many
rows builds a new statement text per batch that psycopg parses again each time. So on
PostgreSQL the rows travel as one array per column through `unnest()`, one statement
per table. SQLite's `executemany` runs its loop in C and keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

Row = dict[str, Any]


def add(session: Session, table: Table, rows: Sequence[Row]) -> None:
    """INSERT the rows (every row with the same keys)."""
    if not rows:
        return
    if _is_postgresql(session):
        columns = list(rows[0])
        session.execute(insert(table).from_select(columns, _unnest(table, columns)), _arrays(rows))
    else:
        session.execute(insert(table), rows)


def add_numbered(session: Session, table: Table, rows: Sequence[Row]) -> list[int]:
    """INSERT the rows; the ids the database gave them, in the rows' order."""
    if not rows:
        return []
    (key,) = table.primary_key.columns
    if not _is_postgresql(session):
        inserted = session.execute(
            insert(table).returning(key, sort_by_parameter_order=True), list(rows)
        )
        return list(inserted.scalars())
    sequence = func.pg_get_serial_sequence(table.name, key.name)
    numbers = func.generate_series(1, len(rows)).table_valued("n")
    ids = sorted(session.scalars(select(func.nextval(sequence)).select_from(numbers)))
    # Row by row, not as arrays: these rows carry the posts' text, which psycopg would
    # escape character by character into an array's text form.
    session.execute(
        insert(table), [{key.name: id_} | row for id_, row in zip(ids, rows, strict=True)]
    )
    return ids


def add_up(session: Session, table: Table, total: str, rows: Sequence[Row]) -> None:
    """INSERT the rows; where a row with the same primary key exists, add the new row's
    `total` to it instead. Rows go in the order given (callers sort them, so concurrent
    writers lock rows in the same order)."""
    if not rows:
        return
    keys = list(table.primary_key.columns)
    if _is_postgresql(session):
        columns = list(rows[0])
        on_pg = postgresql.insert(table).from_select(columns, _unnest(table, columns))
        session.execute(
            on_pg.on_conflict_do_update(
                index_elements=keys, set_={total: table.c[total] + on_pg.excluded[total]}
            ),
            _arrays(rows),
        )
        return
    on_sqlite = sqlite.insert(table)
    session.execute(
        on_sqlite.on_conflict_do_update(
            index_elements=keys, set_={total: table.c[total] + on_sqlite.excluded[total]}
        ),
        list(rows),
    )


def _unnest(table: Table, columns: list[str]) -> Select[Any]:
    """SELECT the rows back out of one array parameter per column, in order."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived(with_types=False)
    return select(*(source.c[name] for name in columns))


def _arrays(rows: Sequence[Row]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
