"""SQL text helpers for the gated SQL of signals and quality rules, and for the writers.

They build SQL text or ask a connection the caller already holds; they open nothing, so readers
(assets/signals, assets/quality) may use them without reaching the warehouse
(see the import contracts in pyproject.toml).
"""

from __future__ import annotations

from typing import Protocol


class _Executes(Protocol):
    def execute(self, query: str, parameters: object = ...) -> _Executes: ...
    def fetchone(self) -> tuple | None: ...
    def fetchall(self) -> list[tuple]: ...


def sql_literal(value: str) -> str:
    """A SQL string literal, quotes doubled (for constants from configuration, not user input)."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: list[str] | tuple[str, ...]) -> str:
    """``('a', 'b')`` for an IN clause; ``(NULL)`` (matches nothing) when empty."""
    return "(" + ", ".join(sql_literal(v) for v in values) + ")" if values else "(NULL)"


def relation_type(con: _Executes, qualified: str) -> str | None:
    """``BASE TABLE``, ``VIEW`` or ``LOCAL TEMPORARY`` for ``schema.name``, None when there is
    none, asked on the caller's connection."""
    schema, _, name = qualified.rpartition(".")
    found = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema or "main", name],
    ).fetchone()
    return found[0] if found else None


def table_exists(con: _Executes, qualified: str) -> bool:
    """Whether ``schema.table`` exists (a table or a view), asked on the caller's connection."""
    return relation_type(con, qualified) is not None


def column_names(con: _Executes, qualified: str) -> list[str]:
    """The columns of the table or view ``schema.name``, in order, asked on the caller's
    connection."""
    schema, _, name = qualified.rpartition(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema or "main", name],
    ).fetchall()
    return [c for (c,) in rows]
