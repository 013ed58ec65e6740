"""Permission strings 权限 and the menus they belong to (ui.md).

Each menu has ``PREFIX:view`` (see and query) and ``PREFIX:write`` (add, modify,
delete), and extras where the regulation names an act of its own. A role is a
set of these strings; ``*`` is everything. The labels are the Chinese ones the
UI shows (English comes from the translation catalog).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "*"


@dataclass(frozen=True, slots=True)
class Menu:
    prefix: str
    #: the menu's label (a gettext message id, in Chinese)
    label: str
    #: (permission, label) of the acts beyond view and write
    extras: tuple[tuple[str, str], ...] = ()

    @property
    def view(self) -> str:
        return f"{self.prefix}:view"

    @property
    def write(self) -> str:
        return f"{self.prefix}:write"

    @property
    def permissions(self) -> tuple[str, ...]:
        return (self.view, self.write, *(p for p, _ in self.extras))


MENUS: tuple[Menu, ...] = (
    Menu("monitor", "实时监测"),
    Menu("video", "视频监视"),
    Menu("query", "数据查询"),
    Menu("alarm", "报警处理", (("alarm:handle", "处理"),)),
    Menu("report", "报表管理", (("report:sign", "审签"),)),
    Menu("ledger", "台账管理", (("ledger:export", "导出"),)),
    Menu(
        "production",
        "生产管理",
        (
            ("production:approve", "审批"),
            # a mine acknowledges and answers the notices and instructions from above
            ("production:answer", "签收与反馈"),
        ),
    ),
    Menu(
        "region",
        "区域监管",
        (
            # the yardsticks of a mine, decided only by a supervising unit above it
            ("region:capacity", "核定生产能力"),
            ("region:reduction", "核减与免减"),
            ("region:coefficient", "折算系数审批"),
            ("region:plan", "生产计划审批"),
            ("region:permit", "开盖/调参许可审批"),
            ("region:shutdown", "停产确认"),
            ("region:limits", "法定时限"),
            ("region:confirm", "可疑增量确认"),
            # the supervision of the mines: acceptance of their systems, penalties
            ("region:acceptance", "验收与年检"),
            ("region:penalty", "违法处罚"),
            # the documents a supervising unit sends a mine (and verifies, for a notice)
            ("region:notice", "整改通知"),
            ("region:instruction", "下达指令"),
        ),
    ),
    Menu("settlement", "结算管理"),
    Menu("system", "系统设置"),
)

PERMISSIONS: frozenset[str] = frozenset(p for menu in MENUS for p in menu.permissions)
#: the decisions on a mine's yardsticks: held only by users of a supervising unit above
#: the mine (domain.md "Who decides what"); a mine's staff apply with production:write
DECISIONS: frozenset[str] = frozenset(
    {"production:approve"}
    | {p for menu in MENUS if menu.prefix == "region" for p, _ in menu.extras}
)
VIEW_ALL: frozenset[str] = frozenset(menu.view for menu in MENUS)


def known(permission: str) -> bool:
    return permission == ALL or permission in PERMISSIONS


def _views(*prefixes: str) -> set[str]:
    return {f"{p}:view" for p in prefixes}


_WATCH = _views("monitor", "video", "query", "alarm", "report", "ledger", "production")

#: the built-in roles (code → name, permissions), for the people of domain.md; the
#: migrations that create and update them (0003, 0005, 0022, 0028, 0029) hold the same
#: data. A
#: mine's staff apply (production:write) and never decide; the regulator decides
BUILTIN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "duty_operator": (
        "产量监控值机员",
        frozenset(
            _WATCH
            | {
                "alarm:write",
                "alarm:handle",
                "ledger:write",
                "production:write",
                "ledger:export",
                # the first signature of the daily report 值机员签字 (migration 0005)
                "report:sign",
                # acknowledges and answers what comes from above (migration 0029)
                "production:answer",
            }
        ),
    ),
    "dispatcher": (
        "调度员",
        frozenset(_WATCH | {"alarm:write", "alarm:handle", "production:answer"}),
    ),
    "duty_mine_manager": (
        "值班矿长",
        frozenset(_WATCH | {"alarm:write", "alarm:handle", "report:sign", "production:answer"}),
    ),
    "chief_engineer": (
        "总工程师",
        frozenset(_WATCH | {"alarm:write", "alarm:handle", "report:sign", "ledger:export"}),
    ),
    "mine_manager": (
        "矿长",
        frozenset(
            _WATCH
            | _views("settlement")
            | {"report:sign", "production:write", "ledger:export", "production:answer"}
        ),
    ),
    # the mine roles of the duty rules (migration 0028): the dispatch director organises
    # calibration and the roster; the safety and production managers follow the alarms
    "dispatch_director": (
        "调度主任",
        frozenset(
            _WATCH
            | {"alarm:write", "alarm:handle", "ledger:write", "ledger:export", "production:answer"}
        ),
    ),
    "safety_mine_manager": (
        "安全矿长",
        frozenset(_WATCH | {"alarm:write", "alarm:handle", "report:sign", "ledger:export"}),
    ),
    "production_mine_manager": (
        "生产矿长",
        frozenset(_WATCH | {"alarm:write", "alarm:handle", "production:write", "ledger:export"}),
    ),
    "maintainer": ("维护人员", frozenset(_WATCH | {"ledger:write", "alarm:write"})),
    "regulator": (
        "监管人员",
        frozenset(VIEW_ALL | DECISIONS | {"ledger:export", "region:write"}),
    ),
    "third_party": ("第三方", frozenset(_views("monitor", "query", "report", "region"))),
    "admin": ("系统管理员", frozenset({ALL})),
}
