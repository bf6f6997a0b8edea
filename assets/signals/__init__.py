"""Signals (flags) for a human to weigh, never verdicts: see docs/SIGNALS.md.

``signal_assets``: one gated asset per flag (``signals.<code>``) and the overview ``signals.flags``.
"""

from assets.signals.assets import FLAG_PURPOSE, signal_assets

__all__ = ["FLAG_PURPOSE", "signal_assets"]
