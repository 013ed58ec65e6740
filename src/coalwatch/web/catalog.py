"""The message catalog's template: every text the pages show, extracted from the templates
and the code (``_()``), plus the labels that live in data (menus, roles, alarm types...).

``python -m coalwatch.web.catalog`` writes ``locale/messages.pot``; ``make i18n-extract``
then merges it into each language's ``messages.po``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from coalwatch.web.i18n import LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent.parent
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def data_labels() -> Iterator[str]:
    """Texts shown through ``_(variable)``: they are not literals at the call."""
    from coalwatch.auth.permissions import BUILTIN_ROLES, MENUS
    from coalwatch.domain import acceptance, penalties
    from coalwatch.domain.alarms import (
        DETAILS,
        INCREMENT_KIND_LABELS,
        LABELS,
        LATENESS_LABELS,
        SEVERITY_LABELS,
        SHUTDOWN_LATE_LABELS,
        STATE_LABELS,
        SUSPECT_REASON_LABELS,
        SUSPECT_STATE_LABELS,
        THRESHOLD_LABELS,
        VALUE_UNITS,
    )
    from coalwatch.domain.authority import ORG_KIND_LABELS
    from coalwatch.domain.capacity import REDUCTION_LABELS
    from coalwatch.domain.people import ACTS, CERTIFICATE_KINDS, POSITIONS
    from coalwatch.domain.people import STATE_LABELS as CERTIFICATE_STATES
    from coalwatch.domain.records import (
        KIND_LABELS,
        MAINTENANCE_LABELS,
        SCRAP_LABELS,
        STATUS_LABELS,
    )
    from coalwatch.domain.reports import DEFAULT_SHIFTS
    from coalwatch.domain.routines import DUE_LABELS, ROUTINES, VERDICT_LABELS
    from coalwatch.domain.video import HEALTH_LABELS
    from coalwatch.production.views import PERIOD_LABELS
    from coalwatch.users.service import LOGIN_MESSAGES
    from coalwatch.web.errors import TITLES
    from coalwatch.web.navigation import PAGES

    for menu in MENUS:
        yield menu.label
        yield from (label for _, label in menu.extras)
    for items in PAGES.values():
        yield from (item.label for item in items)
    yield from (name for name, _ in BUILTIN_ROLES.values())
    yield from LABELS.values()
    for alarm_texts in (
        DETAILS,
        LATENESS_LABELS,
        SHUTDOWN_LATE_LABELS,
        SEVERITY_LABELS,
        STATE_LABELS,
        VALUE_UNITS,
    ):
        yield from alarm_texts.values()
    for suspect_texts in (INCREMENT_KIND_LABELS, SUSPECT_REASON_LABELS, SUSPECT_STATE_LABELS):
        yield from suspect_texts.values()
    yield from HEALTH_LABELS.values()
    for ledger_labels in (KIND_LABELS, STATUS_LABELS, SCRAP_LABELS, MAINTENANCE_LABELS):
        yield from ledger_labels.values()
    yield from TITLES.values()
    yield from THRESHOLD_LABELS.values()
    yield from REDUCTION_LABELS.values()
    yield from ORG_KIND_LABELS.values()
    yield from PERIOD_LABELS.values()
    yield from (shift.name for shift in DEFAULT_SHIFTS)  # a mine may name its own
    yield from LOGIN_MESSAGES
    for people_labels in (ACTS, CERTIFICATE_KINDS, POSITIONS, CERTIFICATE_STATES):
        yield from people_labels.values()
    yield from (routine.label for routine in ROUTINES)
    yield from DUE_LABELS.values()
    yield from VERDICT_LABELS.values()
    yield from SETTINGS_LABELS
    yield from acceptance.STATE_LABELS.values()
    yield from acceptance.KIND_LABELS.values()
    yield from (offence.label for offence in penalties.OFFENCES)
    for penalty_labels in (penalties.MANNERS, penalties.STATUS_LABELS, penalties.EVIDENCE_LABELS):
        yield from penalty_labels.values()
    yield from penalties.PARTY_LABELS.values()


#: the labels of the 系统参数 page (alarms/views.py)
SETTINGS_LABELS = (
    "部署时区",
    "主站时钟允许偏差 (秒)",
    "定时规则周期 (秒)",
    "会话有效期 (小时)",
    "登录失败锁定次数",
    "锁定时长 (分钟)",
    "密码有效期 (天)",
    "默认语言",
)


def template() -> Catalog:
    catalog = Catalog(project="coalwatch", charset="utf-8", fuzzy=False)
    for _, _, message, _, _ in extract_from_dir(
        PACKAGE, METHODS, options_map=OPTIONS, keywords={"_": None, "gettext": None, "N_": None}
    ):
        if isinstance(message, str) and message:
            catalog.add(message)
    for message in data_labels():
        catalog.add(message)
    return catalog


def main() -> int:
    target = LOCALE_DIR / "messages.pot"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, template(), omit_header=False, sort_output=True, no_location=True)
    print(f"{len(template())} messages written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
