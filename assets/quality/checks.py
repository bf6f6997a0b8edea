"""Run a quality suite: exact violation counts in DuckDB, evaluated by Great Expectations 1.x.

Why not hand GX the tables: at national size ``bag.verblijfsobject`` has ~10M rows and GX's
pandas engine would need them all in memory (and its SQL engine cannot use DuckDB spatial or the
elfproef). So every rule is counted over the WHOLE table in one DuckDB query, keeping at most
:data:`EXAMPLES` example values; GX then validates the aggregated frame (one column per rule, the
violation count) against an ``ExpectationSuite`` with one ``ExpectColumnValuesToBeBetween`` per
rule, inside an ephemeral context (``gx.get_context(mode="ephemeral")``, a pandas datasource, a
``ValidationDefinition``). The counts are exact; nothing is sampled.

The functions here are plain (no Dagster): :func:`run_suite` is what the asset checks and the
tests call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from assets.quality.rules import Rule, Suite
from privacy.sqltext import table_exists

if TYPE_CHECKING:  # the gate's sandbox hands in the connection (privacy.gate.gated_read)
    import duckdb

EXAMPLES = 5


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    violations: int
    examples: list[str]
    passed: bool  # as evaluated by Great Expectations


@dataclass(frozen=True)
class SuiteReport:
    suite: Suite
    rows: int
    results: list[RuleResult]
    gx_success: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return self.gx_success

    @property
    def blocking_failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed and r.rule.blocking]

    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]


def count_violations(con: duckdb.DuckDBPyConnection, rule: Rule) -> tuple[int, list[str]]:
    """The exact number of violating rows and up to :data:`EXAMPLES` distinct examples."""
    count, examples = con.execute(
        f"""WITH v AS MATERIALIZED ({rule.violations})
        SELECT (SELECT count(*) FROM v),
               (SELECT list(example) FROM (SELECT DISTINCT CAST(example AS VARCHAR) AS example FROM v
                                           ORDER BY example LIMIT {EXAMPLES}))"""
    ).fetchone()
    return int(count), list(examples or [])


def _gx_validate(suite: Suite, counts: dict[str, int]) -> dict[str, bool]:
    """Evaluate the aggregated counts with an ephemeral GX suite; rule name -> success."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch = (
        context.data_sources.add_pandas("quality")
        .add_dataframe_asset(suite.table)
        .add_batch_definition_whole_dataframe("violation_counts")
    )
    expectations = context.suites.add(gx.ExpectationSuite(name=f"{suite.table}.quality"))
    for rule in suite.rules:
        expectations.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=rule.name,
                min_value=0,
                max_value=0,
                meta={"description": rule.description, "blocking": rule.blocking},
            )
        )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.table}.validation", data=batch, suite=expectations)
    )
    frame = pd.DataFrame({name: [n] for name, n in counts.items()})
    result = validation.run(batch_parameters={"dataframe": frame})
    return {r.expectation_config.kwargs["column"]: bool(r.success) for r in result.results}


def run_suite(con: duckdb.DuckDBPyConnection, suite: Suite) -> SuiteReport:
    """Count every rule's violations on ``suite.table`` and evaluate them with Great Expectations."""
    started = time.perf_counter()
    missing = [t for t in (suite.table, *suite.reads) if not table_exists(con, t)]
    if missing:
        raise RuntimeError(f"quality suite {suite.table}: table(s) {', '.join(missing)} not in the warehouse")
    rows = con.execute(f"SELECT count(*) FROM {suite.table}").fetchone()[0]
    counted = {rule.name: count_violations(con, rule) for rule in suite.rules}
    success = _gx_validate(suite, {name: n for name, (n, _) in counted.items()})
    results = [
        RuleResult(rule, counted[rule.name][0], counted[rule.name][1], success[rule.name])
        for rule in suite.rules
    ]
    return SuiteReport(
        suite=suite,
        rows=rows,
        results=results,
        gx_success=all(success.values()),
        seconds=time.perf_counter() - started,
    )


def report_markdown(report: SuiteReport) -> str:
    """A table of every rule with its count and (pseudonymised) examples, for the Dagster UI."""
    lines = ["| rule | blocking | violations | examples |", "|---|---|---|---|"]
    for r in report.results:
        examples = ", ".join(f"`{e}`" for e in r.examples) if r.violations else ""
        lines.append(
            f"| {r.rule.name}: {r.rule.description} | {'yes' if r.rule.blocking else 'no'} "
            f"| {r.violations} | {examples} |"
        )
    return "\n".join(lines)
