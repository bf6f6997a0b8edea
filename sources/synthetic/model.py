"""In-memory objects of one street while it is generated, and the street grid in RD New.

The municipality lies in open water (central Markermeer): a grid of street cells, 300 m wide and
40 m tall, starting at (138000, 500000). Each street runs west-east through the middle of its
cell with 29 building plots of 10 m on either side. Only one street lives in memory at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

X0, Y0 = 138_000.0, 500_000.0
CELL_W, CELL_H = 300.0, 40.0
MAX_COLS, MAX_ROWS = 33, 300
PLOTS_PER_SIDE = 29
PLOT_W = 10.0
# Everything generated lies inside this box of the Markermeer (open water, no real addresses).
WATER_BOX = (X0 - 100.0, Y0 - 100.0, X0 + MAX_COLS * CELL_W + 100.0, Y0 + MAX_ROWS * CELL_H + 100.0)

Ring = list[tuple[float, float]]


def rectangle(x0: float, y0: float, x1: float, y1: float) -> Ring:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def plot_box(row: int, col: int, side: int, i: int) -> tuple[float, float, float, float]:
    """The 8 x 12 m footprint of plot ``i`` on ``side`` (0 = south, 1 = north) of a street."""
    x0 = X0 + col * CELL_W + 6.0 + i * PLOT_W
    y0 = Y0 + row * CELL_H + (2.0 if side == 0 else 26.0)
    return x0, y0, x0 + 8.0, y0 + 12.0


@dataclass(slots=True, eq=False)
class Adres:
    num_id: str
    huisnummer: int
    huisletter: str | None
    toevoeging: str | None
    postcode: str
    object_type: str = "Verblijfsobject"
    status: str = "Naamgeving uitgegeven"
    previous_postcode: str | None = None  # an ended earlier voorkomen with another postcode
    withdrawn_on: date | None = None


@dataclass(slots=True, eq=False)
class Unit:
    """A verblijfsobject."""

    vbo_id: str
    adres: Adres
    doelen: list[str]
    oppervlakte: int
    x: float
    y: float
    pand_ids: list[str]
    nevenadressen: list[Adres] = field(default_factory=list)
    status: str = "Verblijfsobject in gebruik"
    history: str | None = None  # "gevormd" or "transformed"
    previous_doelen: list[str] | None = None
    previous_oppervlakte: int | None = None
    withdrawn_on: date | None = None
    planted: str | None = None  # the pattern the unit belongs to; None for background
    vestigingen: int = 0

    @property
    def residential(self) -> bool:
        return "woonfunctie" in self.doelen


@dataclass(slots=True, eq=False)
class Pand:
    pand_id: str
    ring: Ring
    bouwjaar: int
    status: str = "Pand in gebruik"
    history: bool = False
    demolished_on: date | None = None


@dataclass(slots=True, eq=False)
class Building:
    kind: str
    side: int
    plot: int
    panden: list[Pand] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    planted: str | None = None
    vulnerable_class: str | None = None  # planted vulnerable SBI class for its winkel unit


@dataclass(slots=True, eq=False)
class Plaats:
    kind: str  # "Ligplaats" or "Standplaats"
    obj_id: str
    adres: Adres
    ring: Ring


@dataclass(slots=True, eq=False)
class Street:
    index: int
    row: int
    col: int
    opr_id: str
    name: str
    postcodes: tuple[str, str]
    buildings: list[Building] = field(default_factory=list)
    plaatsen: list[Plaats] = field(default_factory=list)
