"""The last step of every run: plausibility, then promote the run's generation and publish it."""

from __future__ import annotations

from dagster import AssetKey, Failure, MaterializeResult, MetadataValue, asset

from pipelines.generation import block, finish
from pipelines.plausibility import check_generation
from pipelines.resources import WarehouseResource
from pipelines.warehouse import publish
from privacy.log import ProcessingLog
from privacy.lookup import RELEASE_ORDER


def build_release_asset(upstream: list[AssetKey]):
    """An asset that depends on everything else and publishes the run when all of it passed."""

    @asset(
        key=["release"],
        deps=upstream,
        group_name="release",
        description=(
            "Runs the blocking plausibility checks (pipelines/plausibility.yaml) of this run's "
            "generation against the last good warehouse. Passed: builds releases/<timestamp>.duckdb "
            "from the generation, replaces the warehouse's files by the generation's, points "
            "releases/CURRENT at the release and archives the processed deliveries. Blocked: keeps "
            "the generation for `knooppunt release approve/discard` and publishes nothing. The web "
            "interface and notebooks read only releases; the tables lookups search are stored "
            "sorted on their search keys."
        ),
    )
    def release(context, warehouse: WarehouseResource) -> MaterializeResult:
        target = warehouse.warehouse
        if target.generation is None:  # a warehouse written in place (tests, ad-hoc materialisations)
            path = publish(target, order=RELEASE_ORDER)
            # The log's head, witnessed next to the release and in this run's metadata (privacy.witness).
            seq, last = ProcessingLog(target).witness_release(path)
            return MaterializeResult(
                metadata={
                    "release": path.name,
                    "bytes": path.stat().st_size,
                    "log_head_seq": seq,
                    "log_head_hash": last,
                }
            )
        findings, report = check_generation(target)
        if findings:
            block(target, report)
            text = "\n".join(f"- {f}" for f in findings)
            raise Failure(
                description=f"blocked by plausibility checks; nothing published, generation "
                f"{target.generation} kept (knooppunt release approve/discard):\n{text}",
                metadata={"findings": MetadataValue.md(text)},
            )
        path, problems = finish(target, order=RELEASE_ORDER)
        context.log.info(f"generation {target.generation} promoted; release {path.name} published")
        for problem in problems:
            context.log.warning(problem)
        seq, last = ProcessingLog(target).witness_release(path)
        return MaterializeResult(
            metadata={
                "release": path.name,
                "bytes": path.stat().st_size,
                "plausibility": "passed",
                "log_head_seq": seq,
                "log_head_hash": last,
            }
        )

    return release
