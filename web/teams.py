"""The phone numbers of the teams named in staff-safety warnings (``web/teams.yaml``).

A warning says "neem contact op met <team>"; front-line staff need the number too. The file maps
team names (as delivered in the enforcement data) to a phone number; ``KNOOPPUNT_TEAMS`` points to
a municipality's own file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).with_name("teams.yaml")


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected 'team name: phone number' lines")
    return {str(k).strip().lower(): str(v).strip() for k, v in data.items()}


def phone_of(team: str, path: Path | None = None) -> str | None:
    """The phone number of ``team`` (case-insensitive), or None when the file does not list it."""
    path = path or Path(os.environ.get("KNOOPPUNT_TEAMS") or DEFAULT_PATH)
    if not path.exists():
        return None
    return _load(path, path.stat().st_mtime).get(team.strip().lower())
