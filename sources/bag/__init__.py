"""Reader for the Kadaster LVBAG 2.x extract (zip of zips of XML deelbestanden).

Public API:

* :func:`load_into` — read a delivery and (re)create the ``bag`` tables on a DuckDB connection;
* :func:`find_parts` / :func:`read_delivery` / :func:`parse_part` — the streaming reader itself
  (Arrow tables of voorkomens per deelbestand, fanned out over processes).
"""

from sources.bag.delivery import Delivery, Part, find_parts
from sources.bag.load import RESOLVED, LoadStats, all_tables, load_into
from sources.bag.objects import OBJECT_TYPES, TABLES
from sources.bag.reader import PartResult, parse_part, read_delivery

__all__ = [
    "OBJECT_TYPES",
    "RESOLVED",
    "TABLES",
    "Delivery",
    "LoadStats",
    "Part",
    "PartResult",
    "all_tables",
    "find_parts",
    "load_into",
    "parse_part",
    "read_delivery",
]
