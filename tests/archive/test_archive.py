"""The document archive 档案 through its whole life: a checklist of what the rules require,
files kept by their SHA-256 (in the audit log too), the equipment layout drawing approved
by the chief engineer only, a replaced drawing kept two years after its replacement (an
earlier deletion refused with the reason), an expired certificate, a center's archive."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.archive import service
from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import Principal
from coalwatch.errors import Forbidden
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import repository as user_repository
from coalwatch.users import service as users
from tests.support.world import World, world

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
PASSWORD = "Coal-watch-2026!"
DRAWING_V1 = "设备布置图 第一版".encode() * 10
DRAWING_V2 = "设备布置图 第二版".encode() * 10


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, T0, var_dir=tmp_path / "var") as w:
        w.mine("M1")
        yield w


@contextmanager
def db(w: World) -> Iterator[Session]:
    engine = make_engine(w.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def as_user(session: Session, username: str, w: World) -> Principal:
    user = user_repository.user_by_username(session, username)
    assert user is not None
    found = users.signed_in(
        session, user.id, users.stamp(user), w.clock(), users.Policy(None, 5, None)
    )
    assert found is not None
    return found[0]


def approve_as(w: World, username: str, doc_id: int) -> Any:
    with db(w) as session:
        return service.approve(session, as_user(session, username, w), doc_id, w.clock(), UTC)


def upload(w: World, path: str, kind: str, title: str, content: bytes, **fields: Any) -> Any:
    return w.client.post(
        f"/api/v1{path}/archive",
        data={"kind": kind, "title": title, **fields},
        files={"file": (f"{kind}.pdf", content, "application/pdf")},
        headers=w.headers(),
    )


def lines(w: World, path: str = "/mines/M1") -> dict[str, dict[str, Any]]:
    return {line["kind"]: line for line in w.ok(w.get(f"{path}/archive"))["items"]}


def audit(w: World, action: str) -> list[dict[str, Any]]:
    with db(w) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [json.loads(row.detail) for row in rows]


def test_a_layout_drawing_from_upload_to_deletion_after_two_years(w: World, tmp_path: Path) -> None:
    w.users(
        [("chief1", None, ["chief_engineer"]), ("op1", None, ["duty_operator"])],
        PASSWORD,
        ready=True,
    )
    checklist = w.ok(w.get("/mines/M1/archive"))
    # 第十三条 (diagram and topology, guide, six rules), the layout drawing, calibration
    # certificates and acceptance records: twelve kinds, none there yet
    assert len(checklist["items"]) == 12 and not checklist["complete"]
    assert {line["state"] for line in checklist["items"]} == {"missing"}

    first = w.ok(upload(w, "/mines/M1", "layout_drawing", "设备布置图", DRAWING_V1))
    digest = hashlib.sha256(DRAWING_V1).hexdigest()
    assert first["sha256"] == digest
    stored = tmp_path / "var" / "archive" / digest[:2] / digest[2:]
    assert stored.read_bytes() == DRAWING_V1
    assert audit(w, "archive.upload")[0]["sha256"] == digest
    assert lines(w)["layout_drawing"]["state"] == "unapproved"

    # approved by the technical head 技术负责人 (the chief engineer), not by an operator
    with pytest.raises(Forbidden) as refused:
        approve_as(w, "op1", first["id"])
    assert refused.value.code == "wrong_role"
    approved = approve_as(w, "chief1", first["id"])
    assert (approved.approved_by, approved.approved_role) == ("chief1", "chief_engineer")
    assert lines(w)["layout_drawing"]["state"] == "ok"

    # a new drawing replaces it: the old one is kept, the new one waits for approval
    w.clock.now = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
    second = w.ok(upload(w, "/mines/M1", "layout_drawing", "设备布置图（改）", DRAWING_V2))
    line = lines(w)["layout_drawing"]
    assert [d["id"] for d in line["current"]] == [second["id"]]
    assert line["state"] == "unapproved"
    old = next(d for d in w.ok(w.get("/mines/M1/archive"))["documents"] if d["id"] == first["id"])
    assert old["replaced_by"] == second["id"] and old["kept_until"] == "2028-06-01"

    # a current document is never deleted; the replaced one not before 2028-06-01
    current = w.client.delete(f"/api/v1/archive/{second['id']}", headers=w.headers())
    assert current.status_code == 409 and current.json()["error"]["code"] == "retention"
    w.clock.now = datetime(2028, 5, 31, 15, 59, tzinfo=UTC)  # 2028-05-31 23:59 local
    early = w.client.delete(f"/api/v1/archive/{first['id']}", headers=w.headers())
    assert early.status_code == 409
    assert early.json()["error"]["details"]["kept_until"] == "2028-06-01"
    assert "二年" in early.json()["error"]["message"]
    assert stored.exists()

    w.clock.now = datetime(2028, 5, 31, 16, 0, tzinfo=UTC)  # 2028-06-01 00:00 local
    gone = w.ok(w.client.delete(f"/api/v1/archive/{first['id']}", headers=w.headers()))
    assert gone["deleted_at"] is not None and not stored.exists()
    assert audit(w, "archive.delete")[0]["sha256"] == digest
    assert (
        w.client.get(f"/api/v1/archive/{first['id']}/file", headers=w.headers()).status_code == 404
    )
    kept = w.client.get(f"/api/v1/archive/{second['id']}/file", headers=w.headers())
    assert kept.content == DRAWING_V2
    assert kept.headers["x-content-sha256"] == hashlib.sha256(DRAWING_V2).hexdigest()


def test_an_altered_file_is_refused_on_reading(w: World, tmp_path: Path) -> None:
    doc = w.ok(upload(w, "/mines/M1", "system_diagram", "系统示意图", b"diagram"))
    path = tmp_path / "var" / "archive" / doc["sha256"][:2] / doc["sha256"][2:]
    path.write_bytes(b"diagram, redrawn by hand")
    answer = w.client.get(f"/api/v1/archive/{doc['id']}/file", headers=w.headers())
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "file_altered"


def test_certificates_expire_and_need_their_date(w: World) -> None:
    missing = upload(w, "/mines/M1", "calibration_certificate", "B1 检定证书", b"cert")
    assert missing.status_code == 422 and "valid_until" in missing.text
    w.ok(
        upload(
            w,
            "/mines/M1",
            "calibration_certificate",
            "B1 检定证书",
            b"cert",
            valid_until="2026-04-01",
        )
    )
    assert lines(w)["calibration_certificate"]["state"] == "ok"
    w.clock.now = datetime(2026, 4, 1, 15, 59, tzinfo=UTC)  # the last day, 23:59 local
    assert lines(w)["calibration_certificate"]["state"] == "ok"
    w.clock.now = datetime(2026, 4, 1, 16, 0, tzinfo=UTC)
    line = lines(w)["calibration_certificate"]
    assert (line["state"], line["expires_on"]) == ("expired", "2026-04-01")


def test_a_centers_archive_and_bad_uploads(w: World) -> None:
    center = lines(w, "/orgs/C1")
    assert "coefficient_rules" not in center and "network_topology" in center
    w.ok(upload(w, "/orgs/C1", "network_topology", "县中心网络拓扑", b"topology"))
    assert lines(w, "/orgs/C1")["network_topology"]["state"] == "ok"
    assert upload(w, "/mines/M1", "bogus", "x", b"x").status_code == 422
    assert upload(w, "/mines/M1", "system_diagram", "x", b"").status_code == 422
    assert upload(w, "/mines/NOPE", "system_diagram", "x", b"x").status_code == 404
    read = w.token_for(None)
    refused = w.client.post(
        "/api/v1/mines/M1/archive",
        data={"kind": "system_diagram", "title": "x"},
        files={"file": ("a.pdf", b"x", "application/pdf")},
        headers=w.headers(read),
    )
    assert refused.status_code == 403
