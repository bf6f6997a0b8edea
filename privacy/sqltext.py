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


def sql_literal(value: str) -> str:
    """A SQL string literal, quotes doubled (for constants from configuration, not user input)."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: list[str] | tuple[str, ...]) -> str:
    """``('a', 'b')`` for an IN clause; ``(NULL)`` (matches nothing) when empty."""
    return "(" + ", ".join(sql_literal(v) for v in values) + ")" if values else "(NULL)"


def table_exists(con: _Executes, qualified: str) -> bool:
    """Whether ``schema.table`` exists, asked on the caller's connection."""
    schema, _, name = qualified.rpartition(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema or "main", name],
        ).fetchone()[0]
    )
