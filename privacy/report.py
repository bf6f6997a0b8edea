"""The privacy officer's audit report (``knooppunt privacy report``): one self-contained HTML file.

Readable without a server (inline CSS, no scripts, no external resources) and printable (a print
stylesheet). Sections: the chain's verification status; the register; all processing in the
period by purpose, action, actor and volume, with every refusal; lineage from source columns to
each derived table and flag, taken from the gate's declarations as recorded with each gated run
(the same data the gate gives Dagster as ``dagster/column_lineage``); and retention: log entries
and tables nearing or past their bewaartermijn.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from html import escape
from pathlib import Path

from pipelines.warehouse import Warehouse
from privacy.log import ACTION_NAMES, LogEntry, ProcessingLog
from privacy.purge import expired_tables
from privacy.register import Register, load_register, subtract_duration

NEARING_DAYS = 30
EXPIRY_WARNING_DAYS = 60

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; max-width: 70rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #154273; padding-bottom: .2rem; margin-top: 2rem; }
h3 { margin-bottom: .3rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
.ok { color: #0a6b2d; font-weight: bold; } .bad { color: #a4001d; font-weight: bold; }
.warn { color: #8a5a00; font-weight: bold; }
.purpose { border: 1px solid #ccc; padding: .5rem 1rem; margin-bottom: 1rem; }
dl { display: grid; grid-template-columns: 14rem 1fr; gap: .2rem 1rem; } dt { font-weight: bold; }
code { font-size: .85rem; } .muted { color: #555; }
nav a { margin-right: 1rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; } nav { display: none; }
  h2 { page-break-before: always; } h2:first-of-type { page-break-before: avoid; }
  table, .purpose { page-break-inside: avoid; } a { color: inherit; text-decoration: none; }
}
"""


def build_report(
    warehouse: Warehouse,
    from_: dt.date | None = None,
    to: dt.date | None = None,
    register: Register | None = None,
    today: dt.date | None = None,
) -> str:
    register = register or load_register()
    today = today or dt.date.today()
    log = ProcessingLog(warehouse)
    verify = log.verify()
    all_entries = list(log.entries())
    period = [e for e in log.entries(from_, to)]
    period_text = f"{from_.isoformat() if from_ else 'begin'} t/m {to.isoformat() if to else 'nu'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="nl"><head><meta charset="utf-8">',
        "<title>Privacyrapportage knooppunt</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Privacyrapportage knooppunt</h1>",
        f'<p class="muted">{escape(register.organisatie)} · register versie {escape(register.versie)} · '
        f"periode {escape(period_text)} · opgesteld {escape(today.isoformat())} · warehouse "
        f"<code>{escape(str(warehouse.root))}</code></p>",
        '<nav><a href="#keten">Integriteit</a><a href="#register">Register</a>'
        '<a href="#verwerkingen">Verwerkingen</a><a href="#herkomst">Herkomst (lineage)</a>'
        '<a href="#bewaartermijn">Bewaartermijnen</a></nav>',
        _chain(verify),
        _register(register, today),
        _processing(period),
        _lineage(all_entries, register),
        _retention(all_entries, register, log, today),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(path: str | Path, warehouse: Warehouse, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(warehouse, **kwargs), encoding="utf-8")
    return path


def _table(headers: list[str], rows: list[list[str]], empty: str = "Geen.") -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chain(verify) -> str:
    if verify.ok:
        status = f'<p class="ok">Intact: {verify.entries} regels gecontroleerd, hash-keten sluitend.</p>'
    else:
        status = (
            f'<p class="bad">NIET INTACT ({escape(verify.kind or "")}): {escape(verify.problem or "")}</p>'
        )
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in verify.warnings)
    return f'<h2 id="keten">Integriteit van het verwerkingenlog</h2>{status}{warnings}'


def _register(register: Register, today: dt.date) -> str:
    out = ['<h2 id="register">Register van verwerkingsactiviteiten</h2>']
    for p in register.purposes.values():
        if p.refusal(today):
            validity = f'<span class="bad">{escape(p.refusal(today) or "")}</span>'
        elif (p.valid_until - today).days <= EXPIRY_WARNING_DAYS:
            validity = f'<span class="warn">verloopt op {p.valid_until.isoformat()}</span>'
        else:
            validity = f'<span class="ok">geldig t/m {p.valid_until.isoformat()}</span>'
        crim = (
            f"ja — {escape(p.grondslag_strafrechtelijke_gegevens or '')}"
            if p.strafrechtelijke_gegevens
            else "nee"
        )
        ontvangers = "; ".join(
            escape(o.naam) + (f" (extern, convenant: {escape(o.convenant or '')})" if o.extern else "")
            for o in p.ontvangers
        )
        sources = "<br>".join(
            f"<code>{escape(t)}</code>: {escape(', '.join(c))}" for t, c in p.sources.items()
        )
        fields = [
            ("Doel", escape(p.doel)),
            ("Grondslag", f"{escape(p.grondslag)} — {escape(p.toelichting_grondslag)}"),
            ("Wettelijke taak", escape(p.wettelijke_taak)),
            ("Verenigbaarheid (6.4 AVG)", escape(p.verenigbaarheid)),
            ("Strafrechtelijke gegevens", crim),
            ("Subsidiariteit", escape(p.subsidiariteit)),
            ("Proportionaliteit", escape(p.proportionaliteit)),
            ("DPIA", escape(p.dpia)),
            ("Betrokkenen", escape(", ".join(p.betrokkenen))),
            ("Persoonsgegevens", escape("; ".join(f"{r}: {n}" for r, n in p.persoonsgegevens))),
            ("Ontvangers", ontvangers),
            ("Herkomst", escape(p.herkomst)),
            (
                "Bewaartermijn",
                f"resultaten {escape(p.bewaartermijn.resultaten)}, "
                f"log {escape(p.bewaartermijn.verwerkingenlog)} — {escape(p.bewaartermijn.toelichting)}",
            ),
            ("Vertrouwelijkheid", escape(p.vertrouwelijkheid)),
            ("Rollen (need-to-know)", escape(", ".join(p.roles))),
            (
                "Vlaggen",
                escape(", ".join(p.flags))
                if p.flags
                else f"alleen geaggregeerd, minimale celgrootte {p.min_cell_size}",
            ),
            ("Vastgesteld", f"{p.approved_on.isoformat()} door {escape(p.approved_by)}; {validity}"),
            ("Bronnen en kolommen", sources),
        ]
        rows = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in fields)
        out.append(
            f'<div class="purpose"><h3>{escape(p.naam)} <code>{escape(p.key)}</code></h3>'
            f"<dl>{rows}</dl></div>"
        )
    return "\n".join(out)


def _processing(entries: list[LogEntry]) -> str:
    by_purpose: Counter[tuple[str, str, str]] = Counter()
    volume: Counter[str] = Counter()
    by_actor: Counter[tuple[str, str, str]] = Counter()
    refusals = []
    for e in entries:
        purpose = e.purpose or "—"
        by_purpose[(purpose, ACTION_NAMES[e.action], e.outcome)] += 1
        by_actor[(e.gebruiker, e.role or "—", purpose)] += 1
        if e.output and e.output in e.row_counts:
            volume[purpose] += e.row_counts[e.output]
        if e.outcome == "geweigerd":
            refusals.append(e)
    out = [
        f'<h2 id="verwerkingen">Verwerkingen in de periode ({len(entries)})</h2>',
        "<h3>Per doel en actie</h3>",
    ]
    out.append(
        _table(
            ["Doel", "Actie", "Uitkomst", "Aantal", "Rijen opgeleverd"],
            [
                [
                    escape(p),
                    escape(a),
                    escape(o),
                    str(n),
                    str(volume[p]) if a == ACTION_NAMES["gated_join"] else "",
                ]
                for (p, a, o), n in sorted(by_purpose.items())
            ],
        )
    )
    out.append("<h3>Per gebruiker</h3>")
    out.append(
        _table(
            ["Gebruiker", "Rol", "Doel", "Aantal"],
            [[escape(u), escape(r), escape(p), str(n)] for (u, r, p), n in sorted(by_actor.items())],
        )
    )
    out.append("<h3>Weigeringen</h3>")
    out.append(
        _table(
            ["Tijdstip", "Gebruiker", "Rol", "Doel", "Reden"],
            [
                [
                    escape(e.tijdstip[:19]),
                    escape(e.gebruiker),
                    escape(e.role or ""),
                    escape(e.purpose or ""),
                    escape(e.reason or ""),
                ]
                for e in refusals
            ],
        )
    )
    return "\n".join(out)


def _lineage(entries: list[LogEntry], register: Register) -> str:
    latest: dict[str, LogEntry] = {}
    for e in entries:
        if e.action == "gated_join" and e.output:
            latest[e.output] = e
    out = [
        '<h2 id="herkomst">Herkomst: van bronkolom naar afgeleide tabel en vlag</h2>',
        '<p class="muted">Per afgeleide tabel de laatste gepoorte verwerking: welke bronkolommen elke '
        "uitvoerkolom voeden. Dezelfde gegevens staan in Dagster als column lineage.</p>",
    ]
    for table in sorted(latest):
        e = latest[table]
        lineage = e.details.get("lineage", {})
        rows = [
            [
                f"<code>{escape(col)}</code>",
                escape(", ".join(src)) or '<span class="muted">geen bronkolom (constante of telling)</span>',
            ]
            for col, src in lineage.items()
        ]
        method = e.details.get("lineage_method", "coarse")
        out.append(
            f"<h3><code>{escape(table)}</code></h3><p>doel <code>{escape(e.purpose or '')}</code>, "
            f"{e.row_counts.get(table, 0)} rijen, {escape(e.tijdstip[:19])}, "
            f"run <code>{escape(e.run_id or '')}</code>"
            + ("" if method == "parsed" else ' — <span class="warn">grof: elke gelezen kolom</span>')
            + "</p>"
        )
        out.append(_table(["Uitvoerkolom", "Bronkolommen"], rows))
    flags = sorted({f for p in register.purposes.values() for f in p.flags})
    missing = [f for f in flags if f"signals.{f}" not in latest]
    if missing:
        out.append(
            '<p class="warn">Geregistreerde vlaggen zonder gepoorte verwerking in het log: '
            + escape(", ".join(missing))
            + "</p>"
        )
    return "\n".join(out)


def _retention(entries: list[LogEntry], register: Register, log: ProcessingLog, today: dt.date) -> str:
    soon = today + dt.timedelta(days=NEARING_DAYS)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        when = dt.datetime.fromisoformat(e.tijdstip).date()
        key = (e.purpose or "—", e.bewaartermijn)
        if when < subtract_duration(today, e.bewaartermijn):
            counts[key][0] += 1
        elif when < subtract_duration(soon, e.bewaartermijn):
            counts[key][1] += 1
    rows = [
        [escape(p), escape(b), f'<span class="bad">{past}</span>' if past else "0", str(near)]
        for (p, b), (past, near) in sorted(counts.items())
    ]
    out = [
        '<h2 id="bewaartermijn">Bewaartermijnen</h2>',
        f"<h3>Logregels verlopen of binnen {NEARING_DAYS} dagen verlopend</h3>",
        _table(
            ["Doel", "Bewaartermijn", "Verlopen", "Verloopt binnenkort"],
            rows,
            "Geen logregels (bijna) verlopen.",
        ),
        "<h3>Afgeleide tabellen</h3>",
    ]
    past_tables = expired_tables(log, register, today)
    near_tables = {t: p for t, p in expired_tables(log, register, soon).items() if t not in past_tables}
    table_rows = [
        [f"<code>{escape(t)}</code>", escape(p), '<span class="bad">verlopen</span>']
        for t, p in sorted(past_tables.items())
    ]
    table_rows += [
        [f"<code>{escape(t)}</code>", escape(p), "verloopt binnenkort"]
        for t, p in sorted(near_tables.items())
    ]
    out.append(_table(["Tabel", "Doel", "Status"], table_rows, "Geen tabellen (bijna) verlopen."))
    out.append('<p class="muted">Verwijderen: <code>knooppunt privacy purge</code> (wordt zelf gelogd).</p>')
    return "\n".join(out)
