"""Column lineage of a gated SELECT: which source columns flow into each output column.

DuckDB parses the query (``json_serialize_sql``); we walk the tree: base tables (the gate's
declared reads), CTEs, subqueries in FROM, joins, ``*`` / ``alias.*`` (with EXCLUDE), UNION and
scalar subqueries. An output column depends on every source column its expression refers to,
through any number of CTEs and subqueries. Filters, join conditions and grouping are not value
lineage and are not counted; a constant or ``count(*)`` depends on no column.

:func:`parse_lineage` returns None for anything it does not understand (table functions such as
``unnest`` in FROM, recursive CTEs, PIVOT, temporary tables the asset created itself, a query
DuckDB cannot serialise); the gate then falls back to the coarse rule (every declared column).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

Deps = frozenset[str]
Relation = tuple[str, list[tuple[str, Deps]]]  # alias, ordered (column, deps)


class _Unsupported(Exception):
    pass


def parse_lineage(
    con: duckdb.DuckDBPyConnection, sql: str, reads: Mapping[str, Sequence[str]]
) -> list[list[str]] | None:
    """Per output column of ``sql`` (in order), the sorted ``schema.table.column`` it derives from."""
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.Error:
        return None
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return None
    tables = {t.lower(): [c.lower() for c in cols] for t, cols in reads.items()}
    try:
        columns = _node(tree["statements"][0]["node"], {}, [], tables)
    except (_Unsupported, KeyError, TypeError, IndexError):
        return None
    return [sorted(deps) for _, deps in columns]


def _node(
    node: dict[str, Any], ctes: dict[str, list[tuple[str, Deps]]], outer: list[Relation], tables: dict
) -> list[tuple[str, Deps]]:
    ctes = dict(ctes)
    for item in node.get("cte_map", {}).get("map", []):
        query = item["value"]["query"]["node"]
        columns = _node(query, ctes, outer, tables)
        aliases = item["value"].get("aliases") or []
        ctes[item["key"].lower()] = _rename(columns, aliases)
    kind = node["type"]
    if kind == "SET_OPERATION_NODE":
        left = _node(node["left"], ctes, outer, tables)
        right = _node(node["right"], ctes, outer, tables)
        if len(left) != len(right):
            raise _Unsupported("set operation with different widths")
        return [(name, deps | other) for (name, deps), (_, other) in zip(left, right, strict=True)]
    if kind != "SELECT_NODE":
        raise _Unsupported(kind)
    relations = _from(node.get("from_table"), ctes, outer, tables)
    scope = relations + outer
    out: list[tuple[str, Deps]] = []
    for expr in node["select_list"]:
        if expr["class"] == "STAR":
            if expr.get("columns") or expr.get("expr") or expr.get("replace_list") or expr.get("rename_list"):
                raise _Unsupported("COLUMNS(...) or * REPLACE/RENAME")
            exclude = {str(e).lower() for e in expr.get("exclude_list", [])}
            wanted = (expr.get("relation_name") or "").lower()
            seen: set[str] = set()
            for alias, columns in relations:
                if wanted and alias != wanted:
                    continue
                for name, deps in columns:
                    if name in exclude or (not wanted and name in seen):
                        continue  # USING columns appear once
                    seen.add(name)
                    out.append((name, deps))
            continue
        name = (expr.get("alias") or "").lower()
        if not name and expr["class"] == "COLUMN_REF":
            name = expr["column_names"][-1].lower()
        out.append((name, _refs(expr, scope, ctes, tables)))
    return out


def _rename(columns: list[tuple[str, Deps]], aliases: list[str]) -> list[tuple[str, Deps]]:
    if len(aliases) > len(columns):
        raise _Unsupported("more column aliases than columns")
    return [
        (aliases[i].lower() if i < len(aliases) else name, deps) for i, (name, deps) in enumerate(columns)
    ]


def _from(ref: dict[str, Any] | None, ctes: dict, outer: list[Relation], tables: dict) -> list[Relation]:
    if ref is None or ref["type"] == "EMPTY":
        return []
    kind = ref["type"]
    alias = (ref.get("alias") or "").lower()
    if kind == "BASE_TABLE":
        schema, name = (ref.get("schema_name") or "").lower(), ref["table_name"].lower()
        if not schema and name in ctes:
            columns = ctes[name]
        elif f"{schema}.{name}" in tables:
            qualified = f"{schema}.{name}"
            columns = [(c, frozenset({f"{qualified}.{c}"})) for c in tables[qualified]]
        else:
            raise _Unsupported(f"unknown table {schema}.{name}")
        return [(alias or name, _rename(columns, ref.get("column_name_alias") or []))]
    if kind == "JOIN":
        return _from(ref["left"], ctes, outer, tables) + _from(ref["right"], ctes, outer, tables)
    if kind == "SUBQUERY":
        columns = _node(ref["subquery"]["node"], ctes, outer, tables)
        return [(alias, _rename(columns, ref.get("column_name_alias") or []))]
    if kind == "EXPRESSION_LIST":  # VALUES (...), (...)
        rows = ref["values"]
        width = len(rows[0]) if rows else 0
        if any(len(row) != width for row in rows):
            raise _Unsupported("ragged VALUES")
        columns = [
            (f"col{i}", frozenset().union(*(_refs(row[i], outer, ctes, tables) for row in rows)))
            for i in range(width)
        ]
        return [(alias, _rename(columns, ref.get("column_name_alias") or []))]
    raise _Unsupported(kind)


def _refs(expr: Any, scope: list[Relation], ctes: dict, tables: dict) -> Deps:
    found: set[str] = set()
    if isinstance(expr, dict):
        if expr.get("class") == "COLUMN_REF":
            found |= _resolve([n.lower() for n in expr["column_names"]], scope)
        elif expr.get("class") == "SUBQUERY":
            for _, deps in _node(expr["subquery"]["node"], ctes, scope, tables):
                found |= deps
            found |= _refs(expr.get("child"), scope, ctes, tables)
        else:
            for value in expr.values():
                found |= _refs(value, scope, ctes, tables)
    elif isinstance(expr, list):
        for value in expr:
            found |= _refs(value, scope, ctes, tables)
    return frozenset(found)


def _resolve(names: list[str], scope: list[Relation]) -> set[str]:
    """``alias.column[.field]`` or ``column[.field]``; lambda parameters resolve to nothing."""
    if len(names) >= 2:
        for alias, columns in scope:
            if alias == names[0]:
                return {d for name, deps in columns if name == names[1] for d in deps}
    # Unqualified: every relation in scope with that column (a USING column comes from both sides).
    return {d for _, columns in scope for name, deps in columns if name == names[0] for d in deps}
