"""Trends for the web page ``/trends``: compare two runs (0-meting, 1-meting), a chart and a CSV.

The counts come from :meth:`privacy.overview.Overview.trend` (counts of flagged places per run,
flag, woonplaats and sector; logged) and, for the purpose ``brancheanalyse``, from the same
preparation as the notebook (:mod:`assets.signals.brancheanalyse`) through the gate's
aggregated reader, with the register's minimum cell size. The chart is server-side SVG drawn by
matplotlib (no JavaScript, no inline style: it is shown as an ``<img>`` with a ``data:`` URI).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from assets.signals.brancheanalyse import PURPOSE as BRANCHE
from assets.signals.brancheanalyse import READS, prepare
from privacy.exportfiles import csv_bytes
from privacy.gate import aggregated_reader
from privacy.overview import Trend
from web.lookups import FLAG_TITLES

GROUPS = {"flag": "Signaal", "woonplaats": "Woonplaats", "sector": "Branche (SBI)"}


@dataclass(frozen=True)
class Comparison:
    group: str
    run_a: int
    run_b: int
    stand_a: dt.date | None
    stand_b: dt.date | None
    rows: list[tuple[str, int | None, int | None, int | None]]  # label, A, B, B - A


def compare(trend: Trend, run_a: int, run_b: int, group: str) -> Comparison:
    """Counts per ``group`` in run A and run B and the difference (None: suppressed or absent)."""
    stands = dict(trend.runs)
    totals: dict[str, dict[int, int]] = {}
    for cell in trend.cells:
        if cell.run_seq in (run_a, run_b):
            key = getattr(cell, group) or "–"
            totals.setdefault(key, {}).setdefault(cell.run_seq, 0)
            totals[key][cell.run_seq] += cell.n
    rows = []
    for key in sorted(totals):
        a, b = totals[key].get(run_a), totals[key].get(run_b)
        label = FLAG_TITLES.get(key, key) if group == "flag" else key
        rows.append((label, a, b, None if a is None and b is None else (b or 0) - (a or 0)))
    return Comparison(group, run_a, run_b, stands.get(run_a), stands.get(run_b), rows)


def chart(trend: Trend, run_a: int, run_b: int) -> str:
    """An SVG line chart of the counts per signal over the runs, A and B marked, as a data: URI."""
    runs = [r for r, _ in trend.runs]
    labels = [f"{d:%d-%m-%Y}\nrun {r}" for r, d in trend.runs]
    per_flag: dict[str, dict[int, int]] = {}
    for cell in trend.cells:
        per_flag.setdefault(cell.flag, {}).setdefault(cell.run_seq, 0)
        per_flag[cell.flag][cell.run_seq] += cell.n
    fig = Figure(figsize=(9, 4.2))  # no pyplot: no global state in a web server
    ax = fig.subplots()
    for flag in sorted(per_flag):
        ax.plot(runs, [per_flag[flag].get(r, 0) for r in runs], marker="o", label=FLAG_TITLES.get(flag, flag))
    for run, name in ((run_a, "A"), (run_b, "B")):
        ax.axvline(run, color="#154273", linestyle="--", linewidth=1)
        ax.annotate(name, (run, 1), xycoords=("data", "axes fraction"), ha="center", va="bottom")
    ax.set_xticks(runs, labels, fontsize=8)
    ax.set_ylabel("aantal plaatsen met signaal")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of places
    ax.grid(axis="y", color="#dce3ea")
    if per_flag:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue().encode()).decode()


def to_csv(comparison: Comparison) -> bytes:
    """The comparison as CSV for Dutch Excel (the one CSV writer: UTF-8 with BOM, ``;``)."""
    header = [
        GROUPS[comparison.group],
        f"A: run {comparison.run_a} ({comparison.stand_a})",
        f"B: run {comparison.run_b} ({comparison.stand_b})",
        "verschil (B - A)",
    ]
    return csv_bytes(header, comparison.rows)


def branche(warehouse_root, user_id: str, role: str, period_months: int = 12) -> list[dict]:
    """Active establishments per vulnerable sector at the 0-meting and 1-meting (cells >= minimum)."""
    reader = aggregated_reader(warehouse_root, BRANCHE, READS, user=user_id, role=role)
    try:
        prepare(reader, period_months)
        table = reader.counts(
            "SELECT meting, datum, sector, omschrijving FROM meting",
            ["meting", "datum", "sector", "omschrijving"],
        ).to_pylist()
    finally:
        reader.close()
    rows: dict[tuple[str, str], dict] = {}
    for r in table:
        row = rows.setdefault(
            (r["sector"], r["omschrijving"]), {"sector": r["sector"], "omschrijving": r["omschrijving"]}
        )
        row[r["meting"]] = r["n"]
    return [rows[k] for k in sorted(rows)]
