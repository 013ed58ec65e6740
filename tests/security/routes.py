"""What every route of the app needs, and a request valid enough to reach its check.

``ROUTES`` maps each (method, path) of ``app.routes`` to a Rule: the permission its
service checks (``perms``), or public / signed_in / token / station / center. A new route
gets an entry here (test_matrix fails until it has one), with a body that passes
validation: a body that does not is answered 422 before the permission is looked at.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.security.site import Site

API = "/api/v1"
PUBLIC_KEY = public_key_b64(generate_private_key())


# ---- what a route needs -------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """``kind``: public | signed_in (any user, pages) | token (any API token) |
    token_or_session | station (a station's signature) | center (a downstream center's
    signature) | perms (``all_of`` and one of ``any_of``; ``signer``: a user must also
    hold one of the daily report's signing roles)."""

    kind: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    signer: bool = False


PUBLIC = Need("public")
SIGNED_IN = Need("signed_in")
TOKEN = Need("token")
TOKEN_OR_SESSION = Need("token_or_session")
STATION = Need("station")
CENTER = Need("center")


def perms(*all_of: str, any_of: tuple[str, ...] = (), signer: bool = False) -> Need:
    return Need("perms", all_of, any_of, signer)


@dataclass(frozen=True)
class Rule:
    need: Need
    #: the concrete path; None: the route's path with ``PARAMS`` filled in
    path: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: a streaming answer: only its status is read
    stream: bool = False
    #: sign in anew for this call (the route ends the session, and answers with the login
    #: page: refused is 401/403 only)
    fresh: bool = False
    #: the status a permitted caller gets, where it is not the usual one (see
    #: test_matrix.permitted_answer)
    ok: int | None = None
    #: what the program checks today where the rules (``need``) say otherwise, and why;
    #: the cells where the two disagree are expected to fail until the authority rework
    program: Need | None = None
    why: str = ""


#: path parameters; objects that do not exist answer 404 after the permission check
PARAMS = {
    "mine": "M1",
    "org": "C1",
    "station": "S1",
    "alarm_id": "999999",
    "fault_id": "999999",
    "day": "2026-03-14",
    "month": "2026-03",
    "kind": "month",
    "key": "2026-03",
    "code": "sec_fee",
    "name": "sec-chan",
    "center": "SECC",
    "user_id": "{victim}",
    "point": "B1",
    "equipment_id": "999999",
    "calibration_id": "999999",
    "handover": "999999",
    "application": "999999",
    "entry": "999999",
    "snapshot_id": "999999",
    "camera_id": "999999",
    "shutdown_id": "999999",
    "request": "999999",
    "suspect_id": "999999",
    "decision_id": "999999",
    "penalty_id": "999999",
    "evidence_id": "999999",
    "doc_id": "999999",
    "period": "2026-02",
    "number": "999999",
    "attachment_id": "999999",
}
#: a penalty the service refuses after its permission check (a fine below the article's)
PENALTY = {
    "number": "SEC-1",
    "mine": "M1",
    "offence": "uncertified_staff",
    "facts": "未持证上岗",
    "found_on": "2026-03-14",
    "enterprise_fine": "1",
    "decided_on": "2026-03-14",
}
#: a decision on a system the service refuses after its permission check (in the future)
ACCEPTANCE = {"kind": "suspension", "decided_on": "2099-01-01", "note": "停产整顿"}
#: a notice to M1 about a finding, valid at the site's clock (2026-03-15)
NOTICE_FORM = {
    "kind": "notice",
    "mine": "M1",
    "title": "整改",
    "problem": "超产",
    "measures": "限产",
}
NOTICE = {
    **NOTICE_FORM,
    "deadline": "2026-03-20T12:00:00+08:00",
    "cites": [{"kind": "finding", "label": "现场检查发现"}],
}
#: who reads notices: the supervising side or the mine's
NOTICE_VIEWS = ("region:view", "production:view")
DAY = {"period": "day", "from": "2026-03-14T00:00:00+08:00", "to": "2026-03-15T00:00:00+08:00"}
WINDOW = {"start": "2026-03-16T00:00:00+08:00", "end": "2026-03-16T04:00:00+08:00"}
SHIFTS = [
    {"name": "夜班", "start_hour": 0, "hours": 8},
    {"name": "早班", "start_hour": 8, "hours": 8},
    {"name": "中班", "start_hour": 16, "hours": 8},
]
SIGNED = {"X-Signature": "AAAA", "Content-Type": "application/json"}
DAYS = {"from": "2026-03-14", "to": "2026-03-15"}
SPAN = {"period": "day", "from": "2026-03-14T00:00:00+08:00", "to": "2026-03-15T00:00:00+08:00"}
CAMERA = {
    "code": "SECCAM{unique}",
    "name": "测试摄像机",
    "snapshot_url": "http://127.0.0.1:9/snap.jpg",
}
MANUAL = {
    "point": "B1",
    "start": "2026-03-14T00:00:00+08:00",
    "end": "2026-03-14T01:00:00+08:00",
    "gross_t": "10",
    "reason": "补录",
}

#: a document for the archive, as a browser sends a file (multipart)
BOUNDARY = "coalwatch-security-boundary"
UPLOAD = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="kind"\r\n\r\nsystem_diagram\r\n'
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="title"\r\n\r\n系统示意图\r\n'
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="diagram.pdf"\r\n'
    "Content-Type: application/pdf\r\n\r\n%PDF-1.4 diagram\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

#: a capacity change names its licence document (the page requires it)
LICENCE = {"licence_no": "晋煤行审〔2026〕12号", "licence_date": "2026-01-05"}
#: what decides a mine's request (capacity change, plan, permit), by its kind
REQUEST_DECISIONS = ("region:capacity", "region:plan", "region:permit")

ROUTES: dict[tuple[str, str], Rule] = {
    # ---- API: organisation, mines, configuration
    ("GET", "/api/v1/orgs"): Rule(TOKEN),
    ("POST", "/api/v1/orgs"): Rule(
        perms("system:write"), json={"code": "SECO", "name": "测试县", "kind": "county"}
    ),
    ("GET", "/api/v1/orgs/{org}/production"): Rule(TOKEN, query=DAY),
    ("GET", "/api/v1/orgs/{org}/reports/{kind}/{key}"): Rule(perms("report:view")),
    ("GET", "/api/v1/orgs/{org}/statements/{month}"): Rule(perms("settlement:view")),
    ("GET", "/api/v1/mines"): Rule(TOKEN),
    ("POST", "/api/v1/mines"): Rule(
        perms("system:write"),
        json={"code": "SECM", "name": "测试矿", "org": "C1", "annual_capacity_t": "1000"},
    ),
    # the yardsticks: decided by a supervising unit above the mine (domain.md "Who decides
    # what"); every caller of the matrix sits at the center, above county C1
    ("PUT", "/api/v1/mines/{mine}/capacity"): Rule(
        perms("region:capacity"),
        json={"annual_capacity_t": "330000", "effective_from": "2026-01-01", **LICENCE},
    ),
    ("PUT", "/api/v1/mines/{mine}/plans/{month}"): Rule(
        perms("region:plan"), json={"month_t": "27500"}
    ),
    ("POST", "/api/v1/mines/{mine}/coefficients"): Rule(
        perms("region:coefficient"),
        json={"percent": "4.5", "effective_from": "2026-01-01", "effective_to": "2026-12-31"},
    ),
    ("POST", "/api/v1/mines/{mine}/points"): Rule(
        perms("system:write"), json={"code": "SECP", "name": "测试点", "kind": "belt"}
    ),
    ("POST", "/api/v1/mines/{mine}/stations"): Rule(
        perms("system:write"), json={"code": "SECS", "public_key": PUBLIC_KEY}
    ),
    ("POST", "/api/v1/mines/{mine}/manual-production"): Rule(
        perms("production:approve"),
        json={
            "point": "B1",
            "start": "2026-03-14T00:00:00+08:00",
            "end": "2026-03-14T01:00:00+08:00",
            "gross_t": "10",
            "reason": "补录",
        },
    ),
    ("GET", "/api/v1/mines/{mine}/thresholds"): Rule(TOKEN),
    ("PUT", "/api/v1/mines/{mine}/thresholds"): Rule(
        perms("system:write"), json={"name": "window_min", "value": 30}
    ),
    # ---- API: legal limits 法定时限, shortened by a supervising unit
    ("GET", "/api/v1/orgs/{org}/limits"): Rule(TOKEN),
    ("GET", "/api/v1/mines/{mine}/limits"): Rule(TOKEN),
    ("PUT", "/api/v1/orgs/{org}/limits/{name}"): Rule(
        perms("region:limits"), path="/api/v1/orgs/C1/limits/no_data_minutes", json={"value": 9}
    ),
    ("GET", "/api/v1/mines/{mine}/permits"): Rule(TOKEN),
    ("POST", "/api/v1/mines/{mine}/permits"): Rule(
        perms("region:permit"), json={**WINDOW, "reason": "检修"}
    ),
    ("GET", "/api/v1/mines/{mine}/shutdowns"): Rule(TOKEN),
    ("POST", "/api/v1/mines/{mine}/shutdowns"): Rule(
        perms("production:write"), json={**WINDOW, "reason": "停产"}
    ),
    ("POST", "/api/v1/mines/{mine}/shutdowns/{shutdown_id}/acknowledge"): Rule(
        perms("region:shutdown")
    ),
    ("POST", "/api/v1/mines/{mine}/calibrations"): Rule(
        perms("production:write"), json={"point": "B1", "calibrated_on": "2026-03-10"}
    ),
    # ---- API: data
    ("POST", "/api/v1/stations/{station}/batches"): Rule(
        STATION,
        content=b'{"station":"S1","sent_at":"2026-03-15T04:00:00Z","records":[]}',
        headers=SIGNED,
    ),
    ("POST", "/api/v1/stations/{station}/gaps/write-off"): Rule(
        perms("system:write"), json={"reason": "测试核销"}
    ),
    ("POST", "/api/v1/stations/{station}/config/fetch"): Rule(
        STATION,
        content=b'{"station":"S1","sent_at":"2026-03-15T04:00:00Z"}',
        headers=SIGNED,
    ),
    ("GET", "/api/v1/stations/{station}/config"): Rule(perms("system:view")),
    # a point without its kind and devices: refused after the permission check
    ("PUT", "/api/v1/stations/{station}/config"): Rule(
        perms("system:write"), json={"buses": {}, "points": [{"code": "B1"}]}
    ),
    ("GET", "/api/v1/mines/{mine}/signal-types"): Rule(perms("alarm:view")),
    ("PUT", "/api/v1/mines/{mine}/signal-types"): Rule(
        perms("region:limits"), json={"types": ["power_off"]}
    ),
    ("PUT", "/api/v1/orgs/{org}/signal-types"): Rule(
        perms("region:limits"), json={"types": ["power_off"]}
    ),
    ("GET", "/api/v1/mines/{mine}/records"): Rule(TOKEN),
    ("GET", "/api/v1/mines/{mine}/quarantine"): Rule(TOKEN),
    ("GET", "/api/v1/mines/{mine}/suspects"): Rule(TOKEN),
    ("POST", "/api/v1/suspects/{suspect_id}/confirm"): Rule(perms("region:confirm"), json={}),
    ("POST", "/api/v1/suspects/{suspect_id}/reject"): Rule(
        perms("region:confirm"), json={"reason": "核实为误读"}
    ),
    ("GET", "/api/v1/mines/{mine}/summary"): Rule(TOKEN),
    # ---- API: acceptance 验收 and penalties 处罚
    ("GET", "/api/v1/acceptance"): Rule(TOKEN),
    ("GET", "/api/v1/mines/{mine}/acceptance"): Rule(TOKEN),
    ("POST", "/api/v1/mines/{mine}/acceptance"): Rule(
        perms("region:acceptance"), json=ACCEPTANCE, ok=422
    ),
    ("PUT", "/api/v1/acceptance/{decision_id}/record"): Rule(
        perms("region:acceptance"),
        content=b"%PDF-1.4",
        headers={"Content-Type": "application/pdf"},
    ),
    ("GET", "/api/v1/acceptance/{decision_id}/record"): Rule(TOKEN),
    ("POST", "/api/v1/penalties"): Rule(perms("region:penalty"), json=PENALTY, ok=422),
    ("GET", "/api/v1/penalties"): Rule(TOKEN),
    ("GET", "/api/v1/penalties/report"): Rule(TOKEN, query=DAYS),
    ("GET", "/api/v1/penalties/{penalty_id}"): Rule(TOKEN),
    ("GET", "/api/v1/penalties/{penalty_id}/pdf"): Rule(TOKEN),
    ("POST", "/api/v1/penalties/{penalty_id}/evidence"): Rule(
        perms("region:penalty"), json={"kind": "alarm", "ref": "1"}
    ),
    ("POST", "/api/v1/penalties/{penalty_id}/attachments"): Rule(
        perms("region:penalty"), content=b"\x89PNG", headers={"Content-Type": "image/png"}
    ),
    ("GET", "/api/v1/penalties/{penalty_id}/attachments/{evidence_id}"): Rule(TOKEN),
    ("POST", "/api/v1/penalties/{penalty_id}/execution"): Rule(
        perms("region:penalty"), json={"paid_on": "2026-03-14"}
    ),
    ("GET", "/api/v1/mines/{mine}/production"): Rule(TOKEN, query=DAY),
    ("GET", "/api/v1/mines/{mine}/status"): Rule(TOKEN),
    ("GET", "/api/v1/jobs/leader"): Rule(TOKEN),
    ("GET", "/api/v1/jobs/outages"): Rule(TOKEN),
    ("GET", "/api/v1/events"): Rule(TOKEN_OR_SESSION, query={"limit": "1"}, stream=True),
    ("POST", "/api/v1/events/tickets"): Rule(TOKEN, json={}),
    # ---- API: alarms and faults
    ("GET", "/api/v1/alarms"): Rule(TOKEN),
    ("POST", "/api/v1/alarms/{alarm_id}/ack"): Rule(perms("alarm:write")),
    ("POST", "/api/v1/alarms/{alarm_id}/handle"): Rule(
        perms("alarm:handle"), json={"result": "已处理"}
    ),
    ("GET", "/api/v1/notification-channels"): Rule(perms("system:write")),
    ("POST", "/api/v1/notification-channels"): Rule(
        perms("system:write"),
        # a name of its own: the channel the subscriptions' cells use is made beside
        json={
            "name": "sec-chan-{unique}",
            "kind": "webhook",
            "settings": {"url": "http://127.0.0.1:9/h"},
        },
    ),
    ("POST", "/api/v1/notification-channels/{name}/subscriptions"): Rule(
        perms("system:write"), json={"role": "dispatcher"}
    ),
    ("GET", "/api/v1/faults"): Rule(TOKEN),
    ("POST", "/api/v1/mines/{mine}/faults"): Rule(
        perms("alarm:write"),
        json={"phenomenon": "皮带秤故障", "occurred_at": "2026-03-15T03:00:00Z"},
    ),
    ("POST", "/api/v1/faults/{fault_id}/report"): Rule(perms("alarm:write"), json={}),
    ("POST", "/api/v1/faults/{fault_id}/report/confirm"): Rule(
        perms("region:reduction"), json={"accepted": True}
    ),
    ("POST", "/api/v1/faults/{fault_id}/reduction"): Rule(
        perms("region:reduction"), json={"decision": "waive", "reason": "不可抗力"}
    ),
    ("POST", "/api/v1/faults/{fault_id}/close"): Rule(
        perms("alarm:write"), json={"result": "修复"}
    ),
    # ---- API: reports and settlement
    ("GET", "/api/v1/mines/{mine}/reports/daily/{day}"): Rule(perms("report:view")),
    ("POST", "/api/v1/mines/{mine}/reports/daily/{day}/sign"): Rule(
        perms("report:sign", signer=True), json={"role": "{signer}"}
    ),
    ("POST", "/api/v1/mines/{mine}/reports/daily/{day}/regenerate"): Rule(
        perms(any_of=("report:write", "report:sign"))
    ),
    ("GET", "/api/v1/mines/{mine}/reports/daily/{day}/revisions"): Rule(perms("report:view")),
    ("GET", "/api/v1/reports/pending"): Rule(perms("report:view")),
    ("GET", "/api/v1/mines/{mine}/reports/shifts"): Rule(perms("report:view")),
    ("PUT", "/api/v1/mines/{mine}/reports/shifts"): Rule(
        perms("report:write"), json={"shifts": SHIFTS}
    ),
    ("GET", "/api/v1/mines/{mine}/reports/{kind}/{key}"): Rule(perms("report:view")),
    ("GET", "/api/v1/fee-items"): Rule(perms("settlement:view")),
    ("POST", "/api/v1/fee-items"): Rule(
        perms("settlement:write"), json={"code": "sec_fee", "name": "测试费"}
    ),
    # the seeded fee item: the one the POST above creates may be on another worker's site
    ("POST", "/api/v1/fee-items/{code}/rates"): Rule(
        perms("settlement:write"),
        path="/api/v1/fee-items/sec_seed/rates",
        json={"yuan_per_t": "1.5", "effective_from": "2026-01-01"},
    ),
    ("GET", "/api/v1/mines/{mine}/statements/{month}"): Rule(perms("settlement:view")),
    # ---- API: federation
    ("GET", "/api/v1/centers"): Rule(TOKEN),
    ("POST", "/api/v1/centers"): Rule(
        perms("system:write"), json={"code": "SECC", "public_key": PUBLIC_KEY, "org": "C1"}
    ),
    # a center that is never registered (the POST above registers SECC): 404 for every token
    ("GET", "/api/v1/centers/{center}/rejects"): Rule(
        TOKEN, path="/api/v1/centers/NOCC/rejects", ok=404
    ),
    ("POST", "/api/v1/centers/{center}/batches"): Rule(CENTER, content=b"{}", headers=SIGNED),
    ("POST", "/api/v1/centers/{center}/decisions"): Rule(CENTER, content=b"{}", headers=SIGNED),
    ("GET", "/api/v1/centers/{center}/checkpoints"): Rule(
        TOKEN, path="/api/v1/centers/NOCC/checkpoints", ok=404
    ),
    # ---- API documentation
    ("GET", "/api/v1/docs"): Rule(PUBLIC),
    ("HEAD", "/api/v1/docs"): Rule(PUBLIC),
    ("GET", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("HEAD", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("MOUNT", "/static"): Rule(PUBLIC, path="/static/app.css"),
    # ---- pages: sign-in and the account
    ("GET", "/"): Rule(PUBLIC),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC, form={"username": "nobody", "password": "wrong-2026"}),
    ("POST", "/logout"): Rule(SIGNED_IN, form={}, fresh=True),
    ("POST", "/lang"): Rule(PUBLIC, form={"lang": "zh_CN", "next": "/"}),
    ("GET", "/password"): Rule(SIGNED_IN),
    ("POST", "/password"): Rule(
        SIGNED_IN, form={"old": "wrong-2026", "new": "Another-2026", "again": "Other-2026"}
    ),
    # ---- pages: 实时监测
    ("GET", "/monitor"): Rule(perms("monitor:view")),
    ("GET", "/monitor/live"): Rule(perms("monitor:view")),
    ("GET", "/monitor/region"): Rule(perms("monitor:view")),
    ("GET", "/monitor/region/live"): Rule(perms("monitor:view")),
    ("GET", "/monitor/wall"): Rule(perms("monitor:view")),
    ("GET", "/monitor/wall/live"): Rule(perms("monitor:view")),
    # ---- pages: 报警处理
    ("GET", "/alarms"): Rule(perms("alarm:view")),
    ("GET", "/alarms/bell"): Rule(perms("alarm:view")),
    ("GET", "/alarms/rows"): Rule(perms("alarm:view")),
    ("POST", "/alarms/{alarm_id}/ack"): Rule(perms("alarm:view", "alarm:write"), form={}),
    ("POST", "/alarms/ack"): Rule(perms("alarm:view", "alarm:write"), form={}),
    ("POST", "/alarms/{alarm_id}/handle"): Rule(
        perms("alarm:view", "alarm:handle"), form={"result": "已处理"}
    ),
    ("GET", "/alarms/suspects"): Rule(perms("alarm:view")),
    ("POST", "/alarms/suspects/{suspect_id}/confirm"): Rule(
        perms("alarm:view", "region:confirm"), form={}
    ),
    ("POST", "/alarms/suspects/{suspect_id}/reject"): Rule(
        perms("alarm:view", "region:confirm"), form={"reason": "核实为误读"}
    ),
    # ---- pages: 数据查询
    ("GET", "/query/alarms"): Rule(perms("query:view")),
    ("GET", "/query/faults"): Rule(perms("query:view")),
    ("GET", "/query/production"): Rule(perms("query:view")),
    ("GET", "/query/realtime"): Rule(perms("query:view")),
    # ---- pages: 报表管理
    ("GET", "/reports/daily"): Rule(
        perms("report:view"), query={"mine": "M1", "day": "2026-03-14"}
    ),
    ("POST", "/reports/daily/sign"): Rule(
        perms("report:view", "report:sign", signer=True),
        form={"mine": "M1", "day": "{signed_day}", "role": "{signer}"},
    ),
    ("POST", "/reports/daily/regenerate"): Rule(
        perms("report:view", any_of=("report:write", "report:sign")),
        form={"mine": "M1", "day": "2026-03-14"},
    ),
    ("GET", "/reports/pending"): Rule(perms("report:view")),
    ("GET", "/reports/period"): Rule(perms("report:view")),
    ("GET", "/reports/daily/{mine}/{day}.{fmt}"): Rule(
        perms("report:view"), path="/reports/daily/M1/2026-03-14.xlsx"
    ),
    ("GET", "/reports/{scope}/{code}/{kind}/{key}.{fmt}"): Rule(
        perms("report:view"), path="/reports/mines/M1/month/2026-03.csv"
    ),
    # ---- pages: 生产管理
    ("GET", "/production/capacity"): Rule(perms("production:view")),
    ("GET", "/production/coefficients"): Rule(perms("production:view")),
    ("GET", "/production/manual"): Rule(perms("production:view")),
    ("GET", "/production/permits"): Rule(perms("production:view")),
    ("GET", "/production/shutdowns"): Rule(perms("production:view")),
    ("POST", "/production/{mine}/capacity"): Rule(
        perms("production:view", "region:capacity"),
        form={"annual_capacity_t": "330000", "effective_from": "2026-01-01", **LICENCE},
    ),
    ("POST", "/production/{mine}/plans"): Rule(
        perms("production:view", "region:plan"), form={"month": "2026-03", "month_t": "27500"}
    ),
    ("POST", "/production/{mine}/coefficients"): Rule(
        perms("production:view", "production:write"),
        form={
            "percent": "4.5",
            "effective_from": "2026-07-01",
            "effective_to": "2026-12-31",
            "analysis": "矸石来源分析",
        },
    ),
    ("POST", "/production/{mine}/manual"): Rule(
        perms("production:view", "production:write"),
        form={
            "point": "B1",
            "start": "2026-03-14T08:00",
            "end": "2026-03-14T09:00",
            "gross_t": "10",
            "reason": "补录",
        },
    ),
    ("POST", "/production/{mine}/permits"): Rule(
        perms("production:view", "region:permit"),
        form={"start": "2026-03-16T08:00", "end": "2026-03-16T12:00", "reason": "检修"},
    ),
    ("POST", "/production/{mine}/shutdowns"): Rule(
        perms("production:view", "production:write"),
        form={"start": "2026-03-16T08:00", "end": "2026-03-16T12:00", "reason": "停产"},
    ),
    ("POST", "/production/{mine}/shutdowns/{shutdown_id}/acknowledge"): Rule(
        perms("production:view", "region:shutdown"), form={}
    ),
    ("POST", "/production/{mine}/shutdowns/{shutdown_id}/report"): Rule(
        perms("production:view", "production:write"), form={}
    ),
    ("POST", "/production/{mine}/shutdowns/{shutdown_id}/resume"): Rule(
        perms("production:view", "production:write"),
        form={"resume_at": "2026-03-16T08:00"},
    ),
    ("POST", "/production/{mine}/shutdowns/{shutdown_id}/resumption/acknowledge"): Rule(
        perms("production:view", "region:shutdown"), form={}
    ),
    # ---- pages: 结算管理
    ("GET", "/settlement/items"): Rule(perms("settlement:view")),
    ("POST", "/settlement/items"): Rule(
        perms("settlement:view", "settlement:write"), form={"code": "sec_fee2", "name": "测试费"}
    ),
    ("POST", "/settlement/items/rates"): Rule(
        perms("settlement:view", "settlement:write"),
        form={"item": "sec_seed", "yuan_per_t": "1.5", "effective_from": "2026-01-01"},
    ),
    ("GET", "/settlement/statements"): Rule(perms("settlement:view"), query={"month": "2026-03"}),
    ("GET", "/settlement/statements/{mine}/{month}"): Rule(perms("settlement:view")),
    # ---- pages: 系统设置
    ("GET", "/system/audit"): Rule(perms("system:view")),
    ("GET", "/system/orgs"): Rule(perms("system:view")),
    ("POST", "/system/orgs"): Rule(
        perms("system:view", "system:write"),
        form={"code": "SECO2", "name": "测试", "kind": "county"},
    ),
    ("GET", "/system/mines"): Rule(perms("system:view")),
    ("POST", "/system/mines"): Rule(
        perms("system:view", "system:write"),
        form={"code": "SECM2", "name": "测试矿", "org": "C1", "annual_capacity_t": "1000"},
    ),
    ("POST", "/system/mines/{mine}/points"): Rule(
        perms("system:view", "system:write"), form={"code": "SECP2", "name": "测试", "kind": "belt"}
    ),
    ("GET", "/system/stations"): Rule(perms("system:view")),
    ("POST", "/system/stations"): Rule(
        perms("system:view", "system:write"),
        form={"mine": "M1", "code": "SECS2", "public_key": PUBLIC_KEY},
    ),
    ("GET", "/system/params"): Rule(perms("system:view")),
    ("POST", "/system/params/{mine}"): Rule(
        perms("system:view", "system:write"), form={"name": "window_min", "value": "30"}
    ),
    ("POST", "/system/limits"): Rule(
        perms("system:view", "region:limits"),
        form={"org": "C1", "name": "no_data_minutes", "value": "9", "mine": "M1"},
    ),
    ("GET", "/system/roles"): Rule(perms("system:view")),
    ("POST", "/system/roles"): Rule(
        perms("system:view", "system:write"),
        form={"new": "1", "code": "sec_role", "name": "安全测试", "permissions": "monitor:view"},
    ),
    ("POST", "/system/roles/{code}/delete"): Rule(
        perms("system:view", "system:write"), path="/system/roles/no_such_role/delete", form={}
    ),
    ("GET", "/system/tokens"): Rule(perms("system:view")),
    ("POST", "/system/tokens"): Rule(
        perms("system:view", "system:write"),
        form={"name": "sec-token", "scope": "C1", "access": "third_party", "rate_limit": ""},
    ),
    ("POST", "/system/tokens/{token_id}/revoke"): Rule(
        perms("system:view", "system:write"), path="/system/tokens/999999/revoke", form={}
    ),
    ("GET", "/system/users"): Rule(perms("system:view")),
    ("GET", "/system/users/new"): Rule(perms("system:view", "system:write")),
    ("POST", "/system/users/new"): Rule(
        perms("system:view", "system:write"),
        form={
            "username": "sec-new{unique}",
            "name": "新用户",
            "roles": "third_party",
            "password": "Secure-2026-x",
        },
    ),
    ("GET", "/system/users/{user_id}"): Rule(perms("system:view")),
    ("POST", "/system/users/{user_id}"): Rule(
        perms("system:view", "system:write"),
        form={"name": "victim", "org": "C1", "roles": "third_party", "active": "on"},
    ),
    ("POST", "/system/users-delete"): Rule(
        perms("system:view", "system:write"), form={"ids": "999999"}
    ),
}


#: the routes of the slices of issue 9 (ledgers, duty, video, backups, region, workflows);
#: the ids are of objects that do not exist: the permission is checked before the lookup
ID = "999999"
LEDGER_EQUIPMENT = {"kind": "belt_scale", "name": "主井皮带秤"}
HANDOVER_CHECKS = ["system", "network", "workplace", "records", "unfinished"]
ROUTES.update(
    {
        # ---- API: 台账 ledgers (records)
        ("GET", "/api/v1/mines/{mine}/ledger/equipment"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/ledger/equipment"): Rule(
            perms("ledger:write"), json=LEDGER_EQUIPMENT
        ),
        ("GET", "/api/v1/mines/{mine}/ledger/equipment/{equipment_id}"): Rule(perms("ledger:view")),
        ("PUT", "/api/v1/mines/{mine}/ledger/equipment/{equipment_id}"): Rule(
            perms("ledger:write"), json=LEDGER_EQUIPMENT
        ),
        ("POST", "/api/v1/mines/{mine}/ledger/equipment/{equipment_id}/scrap"): Rule(
            perms("ledger:write"), json={"criterion": "aged", "scrapped_on": "2026-03-14"}
        ),
        ("GET", "/api/v1/mines/{mine}/ledger/maintenance"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/ledger/maintenance"): Rule(
            perms("ledger:write"),
            json={
                "kind": "routine",
                "content": "清扫",
                "start": "2026-03-14T08:00:00+08:00",
                "performed_by": "张三",
            },
        ),
        ("GET", "/api/v1/mines/{mine}/ledger/calibrations"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/ledger/calibrations"): Rule(
            perms("ledger:write"),
            json={
                "point": "B1",
                "calibrated_on": "2026-03-10",
                "old_interval": "0.1",
                "first_actual_t": "10",
                "first_indicated_t": "10.02",
                "calibrated_by": "李四",
            },
        ),
        ("POST", "/api/v1/mines/{mine}/ledger/calibrations/{calibration_id}/confirm"): Rule(
            perms("ledger:write"),
            json={
                "second_actual_t": "10",
                "second_indicated_t": "10.01",
                "confirmed_on": "2026-03-11",
            },
        ),
        ("GET", "/api/v1/mines/{mine}/ledger/ups"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/ledger/ups"): Rule(
            perms("ledger:write"),
            json={
                "tested_at": "2026-03-14T08:00:00+08:00",
                "minutes_on_backup": 30,
                "tested_by": "王五",
            },
        ),
        ("GET", "/api/v1/mines/{mine}/ledger/faults"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/ledger/faults"): Rule(
            perms("alarm:write"),
            json={"phenomenon": "皮带秤故障", "occurred_at": "2026-03-15T03:00:00Z"},
        ),
        # ---- API: 值班 duty
        ("GET", "/api/v1/mines/{mine}/duty-log"): Rule(TOKEN, query=DAYS),
        ("POST", "/api/v1/mines/{mine}/duty-log"): Rule(
            perms("ledger:write"), json={"text": "交接正常"}
        ),
        ("GET", "/api/v1/mines/{mine}/patrols"): Rule(TOKEN, query=DAYS),
        ("POST", "/api/v1/mines/{mine}/patrols"): Rule(
            perms("ledger:write"), json={"checked": "皮带秤", "findings": "正常"}
        ),
        ("GET", "/api/v1/mines/{mine}/shifts"): Rule(TOKEN, query=DAYS),
        ("GET", "/api/v1/mines/{mine}/handovers"): Rule(TOKEN, query=DAYS),
        ("POST", "/api/v1/mines/{mine}/handovers"): Rule(
            perms("ledger:write"),
            json={
                "incoming": "duty_operator",
                "checks": [{"item": item, "ok": True} for item in HANDOVER_CHECKS],
            },
        ),
        ("GET", "/api/v1/mines/{mine}/handovers/carried"): Rule(TOKEN),
        ("GET", "/api/v1/handovers/{handover}"): Rule(TOKEN),
        ("POST", "/api/v1/handovers/{handover}/sign"): Rule(perms("ledger:write"), json={}),
        # ---- API: 人员与证书, 排班, 定期检查 people, rosters, routines
        ("GET", "/api/v1/people"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/units/{unit}/people"): Rule(
            perms("ledger:write"),
            path="/api/v1/units/C1/people",
            json={"name": "张三", "id_number": "110101199003074518", "position": "operator"},
        ),
        ("POST", "/api/v1/people/{person_id}/certificates"): Rule(
            perms("ledger:write"),
            path="/api/v1/people/999999/certificates",
            ok=404,
            json={"number": "SX-1", "issued_by": "晋城市煤炭局", "issued_on": "2026-01-05"},
        ),
        ("POST", "/api/v1/certificates/{certificate_id}/renewals"): Rule(
            perms("ledger:write"),
            path="/api/v1/certificates/999999/renewals",
            ok=404,
            json={"renewed_by": "晋城市煤炭局", "renewed_on": "2026-03-01"},
        ),
        ("PUT", "/api/v1/certificates/{certificate_id}/scan"): Rule(
            perms("ledger:write"),
            path="/api/v1/certificates/999999/scan",
            ok=404,
            content=b"%PDF-1.4",
            headers={"Content-Type": "application/pdf"},
        ),
        ("GET", "/api/v1/certificates/{certificate_id}/scan"): Rule(
            perms("ledger:view"), path="/api/v1/certificates/999999/scan", ok=404
        ),
        ("GET", "/api/v1/units/{unit}/staffing"): Rule(
            perms("ledger:view"), path="/api/v1/units/C1/staffing"
        ),
        ("PUT", "/api/v1/units/{unit}/staffing"): Rule(
            perms("ledger:write"), path="/api/v1/units/C1/staffing", json={"early_minutes": 10}
        ),
        ("GET", "/api/v1/units/{unit}/roster"): Rule(
            perms("ledger:view"), path="/api/v1/units/M1/roster", query=DAYS
        ),
        ("POST", "/api/v1/units/{unit}/roster"): Rule(
            perms("ledger:write"),
            path="/api/v1/units/M1/roster",
            ok=422,
            json={"day": "2026-03-16", "shift": "夜班", "person": 999999},
        ),
        ("POST", "/api/v1/units/{unit}/substitutions"): Rule(
            perms("ledger:write"),
            path="/api/v1/units/M1/substitutions",
            ok=422,
            json={
                "day": "2026-03-16",
                "shift": "夜班",
                "person": 999999,
                "replaces": 999998,
                "reason": "病假",
            },
        ),
        ("POST", "/api/v1/roster/{entry_id}/decision"): Rule(
            perms("ledger:write"),
            path="/api/v1/roster/999999/decision",
            ok=404,
            json={"approve": True},
        ),
        ("POST", "/api/v1/units/{unit}/sign-{act}"): Rule(
            perms("ledger:write"), path="/api/v1/units/M1/sign-on", ok=422, json={}
        ),
        ("POST", "/api/v1/mines/{mine}/routines"): Rule(
            perms("ledger:write"),
            json={
                "kind": "ups_runtime",
                "minutes": 130,
                "performed_by": "李四",
                "taken_back_by": "王五",
            },
        ),
        ("GET", "/api/v1/mines/{mine}/routines"): Rule(perms("ledger:view")),
        ("GET", "/api/v1/routines/board"): Rule(perms("ledger:view")),
        # ---- API: 档案 the document archive
        ("GET", "/api/v1/mines/{mine}/archive"): Rule(perms("ledger:view")),
        ("GET", "/api/v1/orgs/{org}/archive"): Rule(perms("ledger:view")),
        ("POST", "/api/v1/mines/{mine}/archive"): Rule(
            perms("ledger:write"), content=UPLOAD, headers=MULTIPART
        ),
        ("POST", "/api/v1/orgs/{org}/archive"): Rule(
            perms("ledger:write"), content=UPLOAD, headers=MULTIPART
        ),
        ("POST", "/api/v1/archive/{doc_id}/approve"): Rule(perms("report:sign")),
        ("GET", "/api/v1/archive/{doc_id}/file"): Rule(perms("ledger:view")),
        ("DELETE", "/api/v1/archive/{doc_id}"): Rule(perms("ledger:write")),
        # ---- API: 停产报备 a shutdown's written report and resumption
        ("POST", "/api/v1/mines/{mine}/shutdowns/{shutdown_id}/report"): Rule(
            perms("production:write"), json={"document": 1}
        ),
        ("POST", "/api/v1/mines/{mine}/shutdowns/{shutdown_id}/resume"): Rule(
            perms("production:write"), json={"resume_at": "2026-03-16T00:00:00+08:00"}
        ),
        ("POST", "/api/v1/mines/{mine}/shutdowns/{shutdown_id}/resumption/acknowledge"): Rule(
            perms("region:shutdown")
        ),
        # ---- API: 月终/年终汇总, 异常情况上传报表 summaries upward
        ("GET", "/api/v1/mines/{mine}/summaries/{kind}/{period}"): Rule(perms("report:view")),
        # a signature answers 200 (the summary signed), as the daily report's
        ("POST", "/api/v1/mines/{mine}/summaries/{kind}/{period}/sign"): Rule(
            perms("report:sign", signer=True), json={"role": "{signer}"}, ok=200
        ),
        ("POST", "/api/v1/mines/{mine}/summaries/{kind}/{period}/regenerate"): Rule(
            perms(any_of=("report:write", "report:sign")), ok=200
        ),
        ("GET", "/api/v1/summaries/received"): Rule(perms("report:view")),
        # ---- API: 视频 video
        ("GET", "/api/v1/mines/{mine}/points/{point}/cameras"): Rule(perms("video:view")),
        ("POST", "/api/v1/mines/{mine}/points/{point}/cameras"): Rule(
            perms("video:write"), json=CAMERA
        ),
        ("GET", "/api/v1/mines/{mine}/points/{point}/snapshots"): Rule(perms("video:view")),
        ("GET", "/api/v1/snapshots/{snapshot_id}/image"): Rule(perms("video:view")),
        ("GET", "/api/v1/alarms/{alarm_id}/snapshots"): Rule(perms("video:view")),
        # ---- API: 备份 backups, 区域监管 region
        ("GET", "/api/v1/backups"): Rule(perms("ledger:view")),
        ("GET", "/api/v1/orgs/{org}/region-production"): Rule(perms("region:view"), query=SPAN),
        ("GET", "/api/v1/orgs/{org}/ranking"): Rule(perms("region:view"), query=SPAN),
        ("GET", "/api/v1/orgs/{org}/report-status"): Rule(
            perms("region:view"), query={"day": "2026-03-14"}
        ),
        ("GET", "/api/v1/orgs/{org}/overdue"): Rule(perms("region:view")),
        # ---- API: 审批 workflows
        ("POST", "/api/v1/mines/{mine}/coefficient-applications"): Rule(
            perms("production:write"),
            json={
                "percent": "4.5",
                "effective_from": "2026-07-01",
                "effective_to": "2026-12-31",
                "analysis": "矸石来源分析",
            },
        ),
        ("GET", "/api/v1/coefficient-applications"): Rule(TOKEN),
        ("GET", "/api/v1/coefficient-applications/{application}"): Rule(TOKEN),
        ("POST", "/api/v1/coefficient-applications/{application}/approve"): Rule(
            perms("region:coefficient")
        ),
        ("POST", "/api/v1/coefficient-applications/{application}/reject"): Rule(
            perms("region:coefficient"), json={"reason": "依据不足"}
        ),
        ("POST", "/api/v1/mines/{mine}/manual-entries"): Rule(
            perms("production:write"), json=MANUAL
        ),
        ("GET", "/api/v1/manual-entries"): Rule(TOKEN),
        ("GET", "/api/v1/manual-entries/{entry}"): Rule(TOKEN),
        ("POST", "/api/v1/manual-entries/{entry}/approve"): Rule(perms("production:approve")),
        ("POST", "/api/v1/manual-entries/{entry}/reject"): Rule(
            perms("production:approve"), json={"reason": "依据不足"}
        ),
        # ---- API: a mine's requests (applied for by the mine, decided above it)
        ("POST", "/api/v1/mines/{mine}/capacity-requests"): Rule(
            perms("production:write"),
            json={"annual_capacity_t": "450000", "effective_from": "2027-01-01", **LICENCE},
        ),
        ("POST", "/api/v1/mines/{mine}/plan-requests"): Rule(
            perms("production:write"), json={"month": "2026-04", "month_t": "27500"}
        ),
        ("POST", "/api/v1/mines/{mine}/permit-requests"): Rule(
            perms("production:write"), json={**WINDOW, "reason": "检修"}
        ),
        ("GET", "/api/v1/requests"): Rule(TOKEN),
        # the decision's permission is the request's kind's: a request that does not exist
        # is refused to a caller holding none of them
        ("POST", "/api/v1/requests/{request}/approve"): Rule(perms(any_of=REQUEST_DECISIONS)),
        ("POST", "/api/v1/requests/{request}/reject"): Rule(
            perms(any_of=REQUEST_DECISIONS), json={"reason": "依据不足"}
        ),
        # ---- pages: 台账管理
        ("GET", "/ledger/equipment"): Rule(perms("ledger:view")),
        ("GET", "/ledger/maintenance"): Rule(perms("ledger:view")),
        ("GET", "/ledger/calibrations"): Rule(perms("ledger:view")),
        ("GET", "/ledger/ups"): Rule(perms("ledger:view")),
        ("GET", "/ledger/faults"): Rule(perms("ledger:view")),
        ("GET", "/ledger/duty"): Rule(perms("ledger:view")),
        ("GET", "/ledger/patrols"): Rule(perms("ledger:view")),
        ("GET", "/ledger/handover"): Rule(perms("ledger:view")),
        ("GET", "/ledger/backups"): Rule(perms("ledger:view")),
        ("GET", "/ledger/{mine}/equipment/{equipment_id}"): Rule(perms("ledger:view")),
        ("POST", "/ledger/{mine}/equipment"): Rule(
            perms("ledger:view", "ledger:write"), form=LEDGER_EQUIPMENT
        ),
        ("POST", "/ledger/{mine}/equipment/{equipment_id}"): Rule(
            perms("ledger:view", "ledger:write"), form=LEDGER_EQUIPMENT
        ),
        ("POST", "/ledger/{mine}/equipment/{equipment_id}/scrap"): Rule(
            perms("ledger:view", "ledger:write"),
            form={"criterion": "aged", "scrapped_on": "2026-03-14"},
        ),
        ("POST", "/ledger/{mine}/maintenance"): Rule(
            perms("ledger:view", "ledger:write"),
            form={
                "kind": "routine",
                "content": "清扫",
                "start": "2026-03-14T08:00",
                "performed_by": "张三",
            },
        ),
        ("POST", "/ledger/{mine}/calibrations"): Rule(
            perms("ledger:view", "ledger:write"),
            form={
                "point": "B1",
                "calibrated_on": "2026-03-10",
                "old_interval": "0.1",
                "first_actual_t": "10",
                "first_indicated_t": "10.02",
                "calibrated_by": "李四",
            },
        ),
        ("POST", "/ledger/{mine}/calibrations/{calibration_id}/confirm"): Rule(
            perms("ledger:view", "ledger:write"),
            form={
                "second_actual_t": "10",
                "second_indicated_t": "10.01",
                "confirmed_on": "2026-03-11",
            },
        ),
        ("POST", "/ledger/{mine}/ups"): Rule(
            perms("ledger:view", "ledger:write"),
            form={"tested_at": "2026-03-14T08:00", "minutes_on_backup": "30", "tested_by": "王五"},
        ),
        ("POST", "/ledger/{mine}/faults"): Rule(
            perms("ledger:view", "alarm:write"),
            form={"phenomenon": "皮带秤故障", "occurred_at": "2026-03-15T11:00"},
        ),
        ("POST", "/ledger/faults/{fault_id}/report"): Rule(
            perms("ledger:view", "alarm:write"), form={}
        ),
        ("POST", "/ledger/faults/{fault_id}/close"): Rule(
            perms("ledger:view", "alarm:write"), form={"result": "修复"}
        ),
        ("POST", "/ledger/{mine}/duty"): Rule(
            perms("ledger:view", "ledger:write"), form={"text": "交接正常"}
        ),
        ("POST", "/ledger/{mine}/patrols"): Rule(
            perms("ledger:view", "ledger:write"), form={"checked": "皮带秤", "findings": "正常"}
        ),
        ("POST", "/ledger/{mine}/handover"): Rule(
            perms("ledger:view", "ledger:write"), form={"incoming": "duty_operator"}
        ),
        ("POST", "/ledger/{mine}/handover/{handover}/sign"): Rule(
            perms("ledger:view", "ledger:write"), form={}
        ),
        # ---- pages: 人员与证书, 排班, 当班人员, 定期检查
        ("GET", "/people"): Rule(perms("ledger:view")),
        ("GET", "/people/roster"): Rule(perms("ledger:view"), query={"unit": "M1"}),
        ("GET", "/people/today"): Rule(perms("ledger:view"), query={"unit": "C1"}),
        ("GET", "/people/certificates/{certificate}/scan"): Rule(
            perms("ledger:view"), path="/people/certificates/999999/scan", ok=404
        ),
        ("POST", "/people/{unit}/add"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/C1/add",
            form={"name": "张三", "id_number": "110101199003074518", "position": "operator"},
        ),
        ("POST", "/people/{unit}/{person}/certificates"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/M1/999999/certificates",
            form={"number": "SX-1", "issued_by": "晋城市煤炭局", "issued_on": "2026-01-05"},
        ),
        ("POST", "/people/{unit}/certificates/{certificate}/renew"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/M1/certificates/999999/renew",
            form={"renewed_by": "晋城市煤炭局", "renewed_on": "2026-03-01"},
        ),
        ("POST", "/people/{unit}/roster"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/M1/roster",
            form={"day": "2026-03-16", "shift": "夜班", "person": "999999"},
        ),
        ("POST", "/people/{unit}/substitutions"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/M1/substitutions",
            form={
                "day": "2026-03-16",
                "shift": "夜班",
                "person": "999999",
                "replaces": "999998",
                "reason": "病假",
            },
        ),
        ("POST", "/people/{unit}/roster/{entry}/decision"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/M1/roster/999999/decision",
            form={"approve": "true"},
        ),
        ("POST", "/people/{unit}/sign-{act}"): Rule(
            perms("ledger:view", "ledger:write"), path="/people/M1/sign-on", form={}
        ),
        ("POST", "/people/{unit}/staffing"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/people/C1/staffing",
            form={"early_minutes": "10"},
        ),
        ("GET", "/routines/board"): Rule(perms("ledger:view"), query={"mine": "M1"}),
        # ---- pages: 档案资料
        ("GET", "/ledger/archive"): Rule(perms("ledger:view"), query={"mine": "M1"}),
        ("POST", "/ledger/archive/{owner}/{code}/upload"): Rule(
            perms("ledger:view", "ledger:write"),
            path="/ledger/archive/mine/M1/upload",
            content=UPLOAD,
            headers=MULTIPART,
        ),
        ("POST", "/ledger/archive/documents/{doc_id}/approve"): Rule(
            perms("ledger:view", "report:sign"), form={}
        ),
        ("POST", "/ledger/archive/documents/{doc_id}/delete"): Rule(
            perms("ledger:view", "ledger:write"), form={}
        ),
        ("GET", "/ledger/archive/documents/{doc_id}/file"): Rule(perms("ledger:view")),
        # ---- pages: 月终/年终汇总, 异常情况上传报表
        ("GET", "/reports/summaries"): Rule(perms("report:view"), query={"mine": "M1"}),
        # a month of its own: the API's cells sign 2026-02, and signatures go in order
        ("POST", "/reports/summaries/{mine}/{kind}/{period}/sign"): Rule(
            perms("report:view", "report:sign", signer=True),
            path="/reports/summaries/M1/month/{signed_month}/sign",
            form={"role": "{signer}"},
        ),
        ("POST", "/reports/summaries/{mine}/{kind}/{period}/regenerate"): Rule(
            perms("report:view", any_of=("report:write", "report:sign")), form={}
        ),
        ("GET", "/reports/summaries/{mine}/{kind}/{period}/document.{fmt}"): Rule(
            perms("report:view"), path="/reports/summaries/M1/month/2026-03/document.xlsx"
        ),
        ("POST", "/routines/{mine}/record"): Rule(
            perms("ledger:view", "ledger:write"),
            form={
                "kind": "ups_runtime",
                "minutes": "130",
                "performed_by": "李四",
                "taken_back_by": "王五",
            },
        ),
        # ---- pages: 视频监视
        ("GET", "/video/live"): Rule(perms("video:view"), query={"mine": "M1"}),
        ("GET", "/video/playback"): Rule(perms("video:view")),
        ("GET", "/video/cameras/{camera_id}/tile"): Rule(perms("video:view")),
        ("GET", "/video/cameras/{camera_id}/live.jpg"): Rule(perms("video:view")),
        ("GET", "/video/snapshots/{snapshot_id}.jpg"): Rule(perms("video:view")),
        ("GET", "/video/alarms/{alarm_id}"): Rule(perms("video:view")),
        ("POST", "/video/{mine}/cameras"): Rule(
            perms("video:view", "video:write"), form={**CAMERA, "point": "B1"}
        ),
        # ---- pages: 区域监管
        ("GET", "/region/production"): Rule(perms("region:view")),
        ("GET", "/region/ranking"): Rule(perms("region:view")),
        ("GET", "/region/faults"): Rule(perms("region:view")),
        ("POST", "/region/faults/{fault_id}/reduction"): Rule(
            perms("region:view", "region:reduction"),
            form={"decision": "waive", "reason": "不可抗力"},
        ),
        ("POST", "/region/faults/{fault_id}/report-confirm"): Rule(
            perms("region:view", "region:reduction"), form={"accepted": "true"}
        ),
        ("GET", "/region/acceptance"): Rule(perms("region:view")),
        ("GET", "/region/acceptance/{mine}"): Rule(perms("region:view")),
        ("POST", "/region/acceptance/{mine}"): Rule(
            perms("region:view", "region:acceptance"), form=ACCEPTANCE
        ),
        ("POST", "/region/acceptance/{mine}/records/{decision_id}"): Rule(
            perms("region:view", "region:acceptance"), form={}
        ),
        ("GET", "/region/acceptance/records/{decision_id}"): Rule(perms("region:view")),
        ("GET", "/region/penalties"): Rule(perms("region:view")),
        ("POST", "/region/penalties"): Rule(perms("region:view", "region:penalty"), form=PENALTY),
        ("GET", "/region/penalties/{penalty_id}"): Rule(perms("region:view")),
        ("GET", "/region/penalties/{penalty_id}/pdf"): Rule(perms("region:view")),
        ("POST", "/region/penalties/{penalty_id}/evidence"): Rule(
            perms("region:view", "region:penalty"), form={"kind": "alarm", "ref": "1"}
        ),
        ("POST", "/region/penalties/{penalty_id}/attachments"): Rule(
            perms("region:view", "region:penalty"), form={}
        ),
        ("GET", "/region/penalties/{penalty_id}/attachments/{evidence_id}"): Rule(
            perms("region:view")
        ),
        ("POST", "/region/penalties/{penalty_id}/execution"): Rule(
            perms("region:view", "region:penalty"), form={"paid_on": "2026-03-14"}
        ),
        # ---- pages: 生产管理, the approvals
        ("POST", "/production/{mine}/coefficient-applications/{application}/approve"): Rule(
            perms("production:view", "region:coefficient"), form={}
        ),
        ("POST", "/production/{mine}/coefficient-applications/{application}/reject"): Rule(
            perms("production:view", "region:coefficient"), form={"reason": "依据不足"}
        ),
        ("POST", "/production/{mine}/capacity-requests"): Rule(
            perms("production:view", "production:write"),
            form={"annual_capacity_t": "450000", "effective_from": "2027-01-01", **LICENCE},
        ),
        ("POST", "/production/{mine}/plan-requests"): Rule(
            perms("production:view", "production:write"),
            form={"month": "2026-04", "month_t": "27500"},
        ),
        ("POST", "/production/{mine}/permit-requests"): Rule(
            perms("production:view", "production:write"),
            form={"start": "2026-03-16T08:00", "end": "2026-03-16T12:00", "reason": "检修"},
        ),
        ("POST", "/production/{mine}/requests/{request}/approve"): Rule(
            perms("production:view", any_of=REQUEST_DECISIONS), form={"page": "permits"}
        ),
        ("POST", "/production/{mine}/requests/{request}/reject"): Rule(
            perms("production:view", any_of=REQUEST_DECISIONS), form={"reason": "依据不足"}
        ),
        ("POST", "/production/{mine}/manual-entries/{entry}/approve"): Rule(
            perms("production:view", "production:approve"), form={}
        ),
        ("POST", "/production/{mine}/manual-entries/{entry}/reject"): Rule(
            perms("production:view", "production:approve"), form={"reason": "依据不足"}
        ),
        # ---- API: 整改通知与指令 notices and instructions
        ("POST", "/api/v1/notices"): Rule(perms("region:notice"), json=NOTICE),
        ("GET", "/api/v1/notices"): Rule(perms(any_of=NOTICE_VIEWS)),
        ("GET", "/api/v1/notices/{number}"): Rule(perms(any_of=NOTICE_VIEWS)),
        ("POST", "/api/v1/notices/{number}/ack"): Rule(perms("production:answer"), json={}),
        ("POST", "/api/v1/notices/{number}/answer"): Rule(
            perms("production:answer"), json={"answer": "已整改"}
        ),
        ("POST", "/api/v1/notices/{number}/verify"): Rule(perms("region:notice"), json={}),
        ("POST", "/api/v1/notices/{number}/return"): Rule(
            perms("region:notice"), json={"reason": "未整改"}
        ),
        ("GET", "/api/v1/notices/{number}/pdf"): Rule(perms(any_of=NOTICE_VIEWS)),
        ("GET", "/api/v1/notices/{number}/attachments/{attachment_id}"): Rule(
            perms(any_of=NOTICE_VIEWS)
        ),
        # ---- pages: 区域监管 · 整改通知与指令, 生产管理 · 上级通知与指令
        ("GET", "/region/notices"): Rule(perms("region:view")),
        ("GET", "/region/notices/new"): Rule(perms("region:view"), query={"mine": "M1"}),
        ("POST", "/region/notices"): Rule(
            perms("region:view", "region:notice"),
            form={**NOTICE_FORM, "finding": "现场检查发现", "deadline": "2026-03-20T12:00"},
        ),
        ("GET", "/region/notices/{number}"): Rule(perms("region:view")),
        ("GET", "/region/notices/{number}/pdf"): Rule(perms("region:view")),
        ("GET", "/region/notices/{number}/attachments/{attachment_id}"): Rule(perms("region:view")),
        ("POST", "/region/notices/{number}/verify"): Rule(
            perms("region:view", "region:notice"), form={}
        ),
        ("POST", "/region/notices/{number}/return"): Rule(
            perms("region:view", "region:notice"), form={"reason": "未整改"}
        ),
        ("GET", "/production/notices"): Rule(perms("production:view")),
        ("GET", "/production/notices/{number}"): Rule(perms("production:view")),
        ("GET", "/production/notices/{number}/pdf"): Rule(perms("production:view")),
        ("GET", "/production/notices/{number}/attachments/{attachment_id}"): Rule(
            perms("production:view")
        ),
        ("POST", "/production/notices/{number}/ack"): Rule(
            perms("production:view", "production:answer"), form={}
        ),
        ("POST", "/production/notices/{number}/answer"): Rule(
            perms("production:view", "production:answer"), form={"answer": "已整改"}
        ),
    }
)


#: the answers a permitted caller gets that are not the usual ones (see
#: test_matrix.permitted_answer), each worked out from the request
UNUSUAL = {
    # registering a downstream center answers its key's record, 200 (not 201)
    ("POST", "/api/v1/centers"): 200,
    # acts on an existing report or channel: 200
    ("POST", "/api/v1/mines/{mine}/reports/daily/{day}/regenerate"): 200,
    ("POST", "/api/v1/mines/{mine}/reports/daily/{day}/sign"): 200,
    ("POST", "/api/v1/notification-channels/{name}/subscriptions"): 200,
    # a short-lived ticket for the event stream is handed out, not stored: 200
    ("POST", "/api/v1/events/tickets"): 200,
    # station S1's seqs 1 and 2 both arrived: nothing is missing to write off
    ("POST", "/api/v1/stations/{station}/gaps/write-off"): 409,
    # the old password given is wrong
    ("POST", "/password"): 422,
    # the configuration given is incomplete (its point has no kind nor devices)
    ("PUT", "/api/v1/stations/{station}/config"): 422,
    # an alarm, a role and users that do not exist: 404 (not the page's flash)
    ("POST", "/alarms/{alarm_id}/ack"): 404,
    ("POST", "/alarms/{alarm_id}/handle"): 404,
    ("POST", "/system/roles/{code}/delete"): 404,
    ("POST", "/system/users-delete"): 404,
    # the new token's secret is the answer itself (never a redirect: it is shown once)
    ("POST", "/system/tokens"): 200,
}
for _route, _status in UNUSUAL.items():
    ROUTES[_route] = replace(ROUTES[_route], ok=_status)


_UNIQUE = itertools.count(1)


#: the day and the month each signer's page cell signs: signatures go in order, so each
#: finds its own document waiting for it (``test_matrix`` signs the roles before it
#: first), whatever cells of the matrix ran before on the same worker
SIGNED_DAY = {
    "duty_operator": "2026-03-11",
    "duty_mine_manager": "2026-03-12",
    "chief_engineer": "2026-03-13",
}
SIGNED_MONTH = {
    "duty_operator": "2025-10",
    "duty_mine_manager": "2025-11",
    "chief_engineer": "2025-12",
}


def fill(text: str, s: Site, signer: str = "duty_operator", **values: str) -> str:
    """A path, form or body value with its ``{placeholders}`` filled in (twice: a
    parameter's value may name another, as ``{user_id}`` names ``{victim}``)."""
    known = {
        **PARAMS,
        "victim": str(s.user_ids["victim"]),
        "signer": signer,
        "signed_day": SIGNED_DAY.get(signer, "2026-03-14"),
        "signed_month": SIGNED_MONTH.get(signer, "2026-01"),
        # a new code each time: several callers of one worker create the same kind of object
        "unique": str(next(_UNIQUE)),
        **values,
    }
    for _ in range(2):
        if "{" in text:
            text = text.format(**known)
    return text


def send(
    s: Site,
    client: TestClient,
    method: str,
    template: str,
    rule: Rule,
    *,
    token: str | None = None,
    csrf: str | None = None,
    signer: str = "duty_operator",
    **values: str,
) -> Response:
    """The rule's request with a Bearer ``token`` or, for a signed-in client, its ``csrf``
    token (in the form, and in the header as htmx sends it)."""
    path = fill(rule.path or template, s, signer, **values)
    headers = dict(rule.headers)
    form = (
        None
        if rule.form is None
        else {k: fill(v, s, signer, **values) for k, v in rule.form.items()}
    )
    body = rule.json
    if isinstance(body, dict):
        body = {k: fill(v, s, signer) if isinstance(v, str) else v for k, v in body.items()}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
        if form is not None:
            form = {**form, "csrf_token": csrf}
    kwargs: dict[str, Any] = {"params": rule.query or None, "headers": headers}
    if form is not None:
        kwargs["data"] = form
    elif body is not None:
        kwargs["json"] = body
    elif rule.content is not None:
        kwargs["content"] = rule.content
    method = "GET" if method == "MOUNT" else method
    if rule.stream:
        with client.stream(method, path, follow_redirects=False, **kwargs) as answer:
            return answer
    return client.request(method, path, follow_redirects=False, **kwargs)
