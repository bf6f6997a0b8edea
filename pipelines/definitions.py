"""The one Definitions object of knooppunt (loaded by `dagster dev` via workspace.yaml)."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, Definitions

from assets.ingest.bag import bag_assets
from assets.ingest.brp import brp_assets
from assets.ingest.enforcement import enforcement_assets
from assets.ingest.kvk import kvk_assets
from assets.quality import quality_checks
from assets.signals import signal_assets
from pipelines.alerts import alert_sensors, release_freshness
from pipelines.environment import current
from pipelines.files import private_umask
from pipelines.jobs import knooppunt_job
from pipelines.publish import build_release_asset
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.schedules import nightly_refresh
from pipelines.sensors import landing_folder_sensor

DATA_ASSETS = [*bag_assets, *brp_assets, *kvk_assets, *enforcement_assets, *signal_assets]


def _keys(assets_defs) -> list[AssetKey]:
    return sorted({key for a in assets_defs for key in a.keys}, key=lambda k: k.to_user_string())


def build_definitions(
    data_dir: Path, warehouse: Path, *, landing: bool = True, force: bool = False
) -> Definitions:
    """``landing``: ``data_dir`` is the landing folder (processed deliveries are archived)."""
    private_umask()  # the warehouse, releases and log are for this service's user only
    return Definitions(
        assets=[*DATA_ASSETS, build_release_asset(_keys(DATA_ASSETS))],
        asset_checks=[*quality_checks, *release_freshness],
        jobs=[knooppunt_job],
        schedules=[nightly_refresh],
        sensors=[landing_folder_sensor, *alert_sensors],
        resources={
            "warehouse": WarehouseResource(root=str(warehouse), generations=True),
            "delivery": DeliveryResource(
                data_dir=str(data_dir), landing=landing, force=force, settle_seconds=current().settle_seconds
            ),
        },
    )


_env = current()
defs = build_definitions(_env.data_dir, _env.warehouse)
