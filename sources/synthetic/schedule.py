"""Where the planted patterns go: a deterministic map from street index to patterns.

Counts scale with the municipality (one occurrence of each pattern per 2,000 addresses, at least
one, at most 1,500 so that planted persons keep unique test-range BSNs). Patterns are spread
evenly over their candidate streets, each pattern with its own offset.

The two vulnerable-sector street patterns need room in the street grid (see ``generator``):
``street_cluster`` (>= 5 identical businesses along one street) goes on rows with ``row % 10 ==
8`` and even columns; ``nearby`` (a cluster of 5 within 100 m, 3 on a row-8 street and 2 on the
street just north of it) on odd columns. Those rows carry no background vulnerable businesses.
"""

from __future__ import annotations

GENERAL_PATTERNS = (
    "many_companies",
    "business_centre",
    "letterbox",
    "overcrowding",
    "non_residential",
    "churn",
    "kvk_unknown",
    "kvk_withdrawn",
    "brp_unknown",
    "brp_withdrawn",
    "opiumwet_13b",
    "wet_victor",
    "agressie",
)
PATTERNS = (*GENERAL_PATTERNS, "street_cluster", "nearby")
ADDRESSES_PER_OCCURRENCE = 2_000
MAX_OCCURRENCES = 1_500
# Upper bound of persons one occurrence of every pattern creates (overcrowding 6, non-residential
# 2, two enforcement families of 5, two addresses not in BAG of 1): their BSNs are reserved.
MAX_PLANTED_PERSONS = 20


def occurrences(addresses: int, per_occurrence: int = ADDRESSES_PER_OCCURRENCE) -> int:
    return min(MAX_OCCURRENCES, max(1, addresses // per_occurrence))


def grid(n_streets: int) -> tuple[int, int]:
    """(columns, rows) of the street grid: at least 10 rows so the planted rows exist."""
    from sources.synthetic.model import MAX_COLS

    cols = min(MAX_COLS, max(1, n_streets // 10))
    return cols, -(-n_streets // cols)


def plan(
    addresses: int, n_streets: int, per_occurrence: int = ADDRESSES_PER_OCCURRENCE
) -> dict[int, list[tuple[str, int]]]:
    """street index -> [(pattern, occurrence number)]."""
    cols, _ = grid(n_streets)
    n = occurrences(addresses, per_occurrence)
    out: dict[int, list[tuple[str, int]]] = {}

    def spread(pattern: str, candidates: list[int], k: int, total: int) -> list[int]:
        m = min(n, len(candidates))
        chosen = []
        for j in range(m):
            chosen.append(candidates[int((j + (k + 0.5) / total) * len(candidates) / m)])
        return chosen

    everywhere = list(range(n_streets))
    for k, pattern in enumerate(GENERAL_PATTERNS):
        for j, s in enumerate(spread(pattern, everywhere, k, len(GENERAL_PATTERNS))):
            out.setdefault(s, []).append((pattern, j))
    row8 = [s for s in range(n_streets) if (s // cols) % 10 == 8]
    even = [s for s in row8 if (s % cols) % 2 == 0]
    odd = [s for s in row8 if (s % cols) % 2 == 1 and s + cols < n_streets]
    for j, s in enumerate(spread("street_cluster", even, 0, 1)):
        out.setdefault(s, []).append(("street_cluster", j))
    for j, s in enumerate(spread("nearby", odd, 0, 1)):
        out.setdefault(s, []).append(("nearby_a", j))
        out.setdefault(s + cols, []).append(("nearby_b", j))
    return out
