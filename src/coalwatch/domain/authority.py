"""Who decides what: supervised units (a mine, a company holding mines) and the
supervising units above them (county, city, province offices) 监管单位."""

from __future__ import annotations

#: org kinds of the supervising units; a company is a supervised unit
SUPERVISING_KINDS = frozenset({"province", "city", "county"})
