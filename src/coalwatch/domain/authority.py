"""Who decides what: supervised units (a mine, a company holding mines) and the
supervising units above them (county, city, province offices) 监管单位."""

from __future__ import annotations

#: the session marker of a decision applied as the upstream center's (its supervising
#: unit decided it there, and the answer carrying it was signed by that center)
FROM_UPSTREAM = "coalwatch.from_upstream"
#: org kinds of the supervising units; a company is a supervised unit
SUPERVISING_KINDS = frozenset({"province", "city", "county"})
#: how the pages name the levels a yardstick is set at (gettext message ids)
ORG_KIND_LABELS: dict[str, str] = {
    "province": "省",
    "city": "市",
    "county": "县",
    "company": "煤矿/公司",
    "mine": "矿井",
}


def supervises(unit_kind: str | None, unit_path: str | None, target_path: str) -> bool:
    """Whether a unit decides the yardsticks of ``target_path``: a supervising unit at or
    above it. ``unit_path`` None is the whole tree (the deployment's top, the operator),
    which supervises everything; a company or a mine supervises nothing, not even itself."""
    if unit_path is None:
        return True
    return unit_kind in SUPERVISING_KINDS and target_path.startswith(unit_path)
