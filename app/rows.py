"""Whole rows of a model by a fixed SELECT whose SQL is written once per dialect.

The ORM builds each query's SQL anew on every call (pypika), which costs more than running the
query on the message path; the look-ups every chat message makes (its sender's staff session and
user, the visitor, the conversation) use these instead. The rows become model instances the way
the ORM's own selects make them (`Model._init_from_db`, the same conversions per back end), so the
callers get the same objects as before.

    VISITOR = Select(lambda: f"SELECT {columns(Visitor)} FROM visitor WHERE id = {{}}")
    visitor = await one(Visitor, VISITOR, visitor_id)

The SQL is made at its first use (a model's foreign-key columns are known once the ORM is set
up). `{}` marks each parameter (`?` on SQLite, `$1`, `$2` … on PostgreSQL); values are always
bound, never written into the SQL.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, TypeVar

from tortoise.models import Model

M = TypeVar("M", bound=Model)


def columns(model: type[Model], alias: str | None = None) -> str:
    """Every column of `model`'s table (foreign keys by their `_id` column), under their own names."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{column}"' for column in model._meta.fields_db_projection.values())


class Select:
    def __init__(self, sql: Callable[[], str]) -> None:
        self.template = sql
        self._by_dialect: dict[str, str] = {}

    def sql(self, dialect: str) -> str:
        text = self._by_dialect.get(dialect)
        if text is None:
            n = itertools.count(1)
            parts = self.template().split("{}")
            marks = [f"${next(n)}" if dialect == "postgres" else "?" for _ in parts[1:]]
            text = parts[0] + "".join(mark + part for mark, part in zip(marks, parts[1:]))
            self._by_dialect[dialect] = text
        return text

    async def rows(self, model: type[Model], *args: Any) -> list[dict]:
        """The rows, on `model`'s connection."""
        return await self.on(model._meta.db, *args)

    async def on(self, conn: Any, *args: Any) -> list[dict]:
        """The rows, on the connection `conn` (a transaction's)."""
        return await conn.execute_query_dict(self.sql(conn.capabilities.dialect), list(args))


async def one(model: type[M], select: Select, *args: Any) -> M | None:
    """The first row of `select` as an instance of `model`, or None."""
    rows = await select.rows(model, *args)
    return model._init_from_db(**rows[0]) if rows else None


def instance(model: type[M], row: dict) -> M:
    """A row of `model`'s columns (extra keys ignored) as an instance, as the ORM makes it."""
    return model._init_from_db(**row)


def value(model: type[Model], field: str, raw: Any) -> Any:
    """A raw column value of `model`'s `field` as the ORM gives it (datetimes, booleans, JSON)."""
    return model._meta.fields_map[field].to_python_value(raw)
