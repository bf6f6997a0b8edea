"""Signals (flags) for a human to weigh, never verdicts: see docs/SIGNALS.md.

``signal_assets``: one gated asset per flag (``signals.<code>``), the overview ``signals.flags``
and the flag history (``signals.flag_history`` and friends, :mod:`assets.signals.history`).
"""

from assets.signals.assets import FLAG_PURPOSE, flag_assets, flags_overview
from assets.signals.history import history_assets

signal_assets = [*flag_assets, flags_overview, *history_assets]

__all__ = ["FLAG_PURPOSE", "signal_assets"]
