"""审计日志 as its reader reads it: each action by its name (its code beside it, to filter
by) and the detail as labelled fields, not JSON. On SQLite (what a page shows does not
depend on the database)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from coalwatch.acceptance.schemas import Kind as AcceptanceKind
from coalwatch.audit.labels import ACTIONS, FIELDS
from coalwatch.domain.notices import Kind as NoticeKind
from coalwatch.faults.schemas import ReductionDecisionIn
from coalwatch.web.refusals import FIELD_LABELS
from coalwatch.workflows.schemas import RequestKind
from tests.conftest import SQLITE_ONLY
from tests.web.test_configuration import admin, post
from tests.web.test_first_day_pages import Admin

__all__ = ["admin"]

SRC = Path(__file__).parents[2] / "src" / "coalwatch"


def _written_actions() -> set[str]:
    """Every action code the services write: the literal ones, and those made from a
    kind, a decision or an act."""
    literal: set[str] = set()
    for path in SRC.rglob("*.py"):
        for code in re.findall(r'\baction="([a-z_]+(?:\.[a-z_]+)*)"', path.read_text()):
            literal.add(code)
    literal -= {"append", "store_true", "version"}  # argparse's, not the audit log's
    made = {f"acceptance.{kind}" for kind in get_args(AcceptanceKind)}
    decisions = get_args(ReductionDecisionIn.model_fields["decision"].annotation)
    made |= {f"reduction.{decision}" for decision in decisions}
    made |= {f"{kind}_request.submit" for kind in get_args(RequestKind)}
    made |= {f"suspect.{verdict}" for verdict in ("confirm", "reject")}
    made |= {
        f"{kind.value}.{act}"
        for kind in NoticeKind
        for act in ("issue", "ack", "answer", "verify", "return")
    }
    made |= {f"roster.sign_{act}" for act in ("on", "off")}
    ledger = SRC / "records" / "service.py"
    made |= {f"ledger.{act}" for act in re.findall(r'"([a-z_]+\.[a-z_]+)"', ledger.read_text())}
    return literal | made


def test_every_action_the_services_write_has_a_name() -> None:
    missing = sorted(_written_actions() - set(ACTIONS))
    assert not missing, missing


@SQLITE_ONLY
def test_the_log_shows_names_and_labelled_fields(admin: Admin) -> None:
    _, client, csrf = admin
    post(client, "/system/orgs", csrf, code="YC", name="阳城县", kind="county")
    page = client.get("/system/audit").text
    row = next(r for r in page.split("<tr>") if "org.create" in r)
    assert "增加单位" in row and "<code>org.create</code>" in row
    # {"name": "阳城县", "kind": "county", "parent": null}: fields by their labels
    assert "{" not in row and '"' not in re.sub(r"<[^>]+>", "", row)
    assert "阳城县" in row and "—" in row
    assert "login" in page and "登录" in page


def test_the_fields_the_services_write_are_named() -> None:
    """Every key of an audit detail written as a literal has a name: a form's label
    (``FIELD_LABELS``) or the audit log's own (``FIELDS``)."""
    keys: set[str] = set()
    for path in SRC.rglob("*.py"):
        for detail in re.findall(r"detail=\{([^}]*)\}", path.read_text()):
            keys |= set(re.findall(r'"([a-z_]+)":', detail))
    missing = sorted(keys - set(FIELDS) - set(FIELD_LABELS))
    assert not missing, missing
