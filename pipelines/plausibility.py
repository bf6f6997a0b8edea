"""Plausibility before publication: a run's generation against the last good load.

Blocking checks, run by the release step before anything is published (``pipelines.publish``):

* rows per staging table (``bag``, ``brp``, ``kvk``, ``handhaving``) may not drop by more than
  ``row_drop`` (per table, with a default) nor grow by ``row_growth`` or more;
* the address match rate of ``kvk.vestiging`` and ``handhaving.zaak`` (share matched to BAG) may
  not drop by more than ``match_rate_drop`` points;
* the reject rate per source (``rejects.<source>`` / (rows + rejects)) may not rise by more than
  ``reject_rate_rise`` points;
* the number of flags per code (``signals.flags``) may not reach ``flag_factor`` times the last
  good count while rising by at least ``flag_min_increase``.

Thresholds: ``pipelines/plausibility.yaml`` (documented defaults), overridden by the file named in
``KNOOPPUNT_PLAUSIBILITY``. Only aggregates are read (counts per table, per match kind, per flag
code); no row leaves DuckDB. The first load (no last good warehouse) has nothing to compare with
and passes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import yaml

from pipelines.warehouse import Warehouse, connect
from privacy.sqltext import table_exists
from sources.bag import RESOLVED

DEFAULTS = Path(__file__).with_name("plausibility.yaml")
ENV = "KNOOPPUNT_PLAUSIBILITY"
STAGING_SCHEMAS = ("bag", "brp", "kvk", "handhaving")
MATCHED = ("kvk.vestiging", "handhaving.zaak")  # tables with an adres_match column
REJECT_BASE = {
    "bag": "bag.history_%",
    "brp": "brp.persoon",
    "kvk": "kvk.vestiging",
    "handhaving": "handhaving.zaak",
}


@dataclass(frozen=True)
class Thresholds:
    row_drop: dict[str, float]
    row_growth: float
    match_rate_drop: float
    reject_rate_rise: float
    flag_factor: float
    flag_min_increase: int

    def drop_for(self, table: str) -> float:
        return self.row_drop.get(table, self.row_drop["default"])


def load_thresholds(path: Path | None = None) -> Thresholds:
    data = yaml.safe_load(DEFAULTS.read_text())
    override = path or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    if override is not None:
        extra = yaml.safe_load(Path(override).read_text()) or {}
        unknown = set(extra) - set(data)
        if unknown:
            raise ValueError(f"{override}: unknown plausibility setting(s) {', '.join(sorted(unknown))}")
        data = {**data, **extra, "row_drop": {**data["row_drop"], **extra.get("row_drop", {})}}
    return Thresholds(**data)


@dataclass
class Metrics:
    rows: dict[str, int] = field(default_factory=dict)
    match_rates: dict[str, float] = field(default_factory=dict)
    reject_rates: dict[str, float] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)


def measure(con: duckdb.DuckDBPyConnection) -> Metrics:
    """The aggregates the checks compare, from one warehouse file."""
    m = Metrics()
    # BAG's current tables are views; its resolved_ tables hold the few objects with duplicate
    # current voorkomens, a count that swings with the day's data errors (they are rejects).
    tables = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        f"WHERE table_schema IN {STAGING_SCHEMAS} AND table_type IN ('BASE TABLE', 'VIEW') "
        f"AND NOT (table_schema = 'bag' AND starts_with(table_name, '{RESOLVED}')) ORDER BY 1"
    ).fetchall()
    for (table,) in tables:
        m.rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    for table in MATCHED:
        if m.rows.get(table):
            matched = con.execute(f"SELECT count(*) FROM {table} WHERE adres_match IS NOT NULL").fetchone()[0]
            m.match_rates[table] = matched / m.rows[table]
    for source, base in REJECT_BASE.items():
        if table_exists(con, f"rejects.{source}"):
            rejects = con.execute(f"SELECT count(*) FROM rejects.{source}").fetchone()[0]
            rows = sum(
                n for t, n in m.rows.items() if t == base or (base.endswith("%") and t.startswith(base[:-1]))
            )
            m.reject_rates[source] = rejects / (rows + rejects) if rows + rejects else 0.0
    if table_exists(con, "signals.flags"):
        m.flags = dict(con.execute("SELECT flag, count(*) FROM signals.flags GROUP BY flag").fetchall())
    return m


def measure_file(path: Path) -> Metrics | None:
    if not path.exists():
        return None
    con = connect(path, read_only=True)
    try:
        return measure(con)
    finally:
        con.close()


@dataclass(frozen=True)
class Finding:
    check: str  # rows | match_rate | reject_rate | flags
    subject: str  # table, source or flag code
    before: float
    after: float
    limit: str

    def __str__(self) -> str:
        fmt = (
            (lambda v: f"{v:.1%}") if self.check in ("match_rate", "reject_rate") else (lambda v: f"{v:,.0f}")
        )
        return f"{self.check} {self.subject}: {fmt(self.before)} -> {fmt(self.after)} ({self.limit})"


def compare(before: Metrics | None, after: Metrics, t: Thresholds) -> list[Finding]:
    """The blocking findings of ``after`` (this run) against ``before`` (the last good load)."""
    if before is None:
        return []
    found: list[Finding] = []
    for table, old in before.rows.items():
        new = after.rows.get(table, 0)
        if old and new < old * (1 - t.drop_for(table)):
            found.append(Finding("rows", table, old, new, f"drop of more than {t.drop_for(table):.0%}"))
        elif old and new >= old * t.row_growth:
            found.append(Finding("rows", table, old, new, f"growth to {t.row_growth:g}x or more"))
    for table, old in before.match_rates.items():
        new = after.match_rates.get(table, 0.0)
        if new < old - t.match_rate_drop:
            found.append(
                Finding("match_rate", table, old, new, f"drop of more than {t.match_rate_drop:.0%} points")
            )
    for source, new in after.reject_rates.items():
        old = before.reject_rates.get(source, 0.0)
        if new > old + t.reject_rate_rise:
            found.append(
                Finding("reject_rate", source, old, new, f"rise of more than {t.reject_rate_rise:.0%} points")
            )
    for code, new in after.flags.items():
        old = before.flags.get(code, 0)
        if new >= t.flag_factor * max(old, 1) and new - old >= t.flag_min_increase:
            found.append(
                Finding(
                    "flags", code, old, new, f"{t.flag_factor:g}x or more and +{t.flag_min_increase} or more"
                )
            )
    return found


def check_generation(
    generation: Warehouse, thresholds: Thresholds | None = None
) -> tuple[list[Finding], dict]:
    """Compare a generation with the warehouse it was copied from; the findings and a JSON report."""
    t = thresholds or load_thresholds()
    before = measure_file(Warehouse(generation.root).path)
    after = measure_file(generation.path)
    if after is None:
        raise FileNotFoundError(f"generation {generation.generation} has no database")
    findings = compare(before, after, t)
    report = {
        "run_id": generation.generation,
        "findings": [asdict(f) | {"text": str(f)} for f in findings],
        "before": asdict(before) if before else None,
        "after": asdict(after),
        "thresholds": asdict(t),
    }
    return findings, report
