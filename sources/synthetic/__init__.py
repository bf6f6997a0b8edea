"""Synthetic municipality generator: real-format BAG, BRP, KvK and enforcement deliveries.

See docs/SYNTHETIC.md. ``generate(out, addresses, seed)`` writes the delivery folder of
docs/FORMATS.md plus ``ground_truth.csv`` (the planted patterns) and ``manifest.json``.
"""

from sources.synthetic.generator import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
