"""Data-quality checks on the staging tables, run as blocking Dagster asset checks.

``quality_checks`` holds one ``@asset_check`` per staging table (named ``quality``). A check fails
with severity ERROR when a blocking rule is violated, which stops the flags downstream in the
same run; it fails with severity WARN when only non-blocking rules are violated. Counts and
examples show in the Dagster UI as check metadata. Rules: :mod:`assets.quality.rules`; the
counting and the Great Expectations evaluation: :mod:`assets.quality.checks`.

The checks read personal data (pseudonymised BRP) and enforcement cases, so they run like every
other processing: through the privacy gate, under the registered purpose ``datakwaliteit``, in a
sandbox holding only the columns that purpose lists for the tables the suite reads, and logged.
"""

from __future__ import annotations

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets.quality.checks import report_markdown, run_suite
from assets.quality.rules import SUITES, Suite
from pipelines.resources import WarehouseResource
from privacy.gate import gated_read

PURPOSE = "datakwaliteit"


def _key(table: str) -> AssetKey:
    return AssetKey(table.split("."))


def build_quality_check(suite: Suite) -> AssetChecksDefinition:
    blocking = [r.name for r in suite.rules if r.blocking]

    @asset_check(
        asset=_key(suite.table),
        name="quality",
        blocking=True,
        description=f"Great Expectations suite on {suite.table}: "
        + "; ".join(r.description for r in suite.rules)
        + f". Blocking rules: {', '.join(blocking) or 'none'}.",
        additional_deps=[_key(t) for t in suite.reads if not t.startswith("rejects.")],
    )
    def _check(context, warehouse: WarehouseResource) -> AssetCheckResult:
        with gated_read(
            warehouse.warehouse,
            PURPOSE,
            (suite.table, *suite.reads),
            run_id=context.op_execution_context.run_id,
            output=f"check {suite.table}",
        ) as con:
            report = run_suite(con, suite)
        return AssetCheckResult(
            passed=report.passed,
            severity=AssetCheckSeverity.ERROR if report.blocking_failures else AssetCheckSeverity.WARN,
            metadata={
                "rows": report.rows,
                "violations": sum(r.violations for r in report.results),
                "failed_rules": ", ".join(r.rule.name for r in report.failures()) or "none",
                "seconds": round(report.seconds, 2),
                "rules": MetadataValue.md(report_markdown(report)),
                **{f"violations/{r.rule.name}": r.violations for r in report.results},
            },
        )

    return _check


quality_checks: list[AssetChecksDefinition] = [build_quality_check(s) for s in SUITES]

__all__ = ["quality_checks", "build_quality_check"]
