"""Who may do what, written out by hand: the expectation the matrix and the role tests
check the program against. Never read from ``coalwatch.auth``.

Sources: ui.md (the menus, a permission string per act: ``PREFIX:view`` sees and
queries, ``PREFIX:write`` adds, changes and deletes, the extras name acts of their own),
domain.md "Who uses it" (what each person does) and "Who decides what" (the yardsticks a
mine is judged by are decided by a supervising unit above it; a mine's staff apply, they
never approve their own).

Where the program gives a role what these rules deny, the cell goes in ``AUTHORITY`` with
the reason: its tests are then expected to fail (strictly) until the program is mended.
"""

from __future__ import annotations

from typing import Any

import pytest

#: ui.md's menus: (prefix, the acts beyond view and write)
MENUS: dict[str, tuple[str, ...]] = {
    "monitor": (),
    "video": (),
    "query": (),
    "alarm": ("alarm:handle",),
    "report": ("report:sign",),
    "ledger": ("ledger:export",),
    # approves (a supervising unit's); acknowledges and answers what comes from above
    "production": ("production:approve", "production:answer"),
    # the yardsticks of a mine, decided only by a supervising unit above it
    "region": (
        "region:capacity",
        "region:reduction",
        "region:coefficient",
        "region:plan",
        "region:permit",
        "region:shutdown",
        "region:limits",
        "region:confirm",
        # the supervision of the mines: accepting their systems 验收 (第七条、第十四条),
        # penalty decisions 处罚 (第十八条): the coal administration's, never a mine's
        "region:acceptance",
        "region:penalty",
        # the notices and instructions a supervising unit sends a mine
        "region:notice",
        "region:instruction",
    ),
    "settlement": (),
    "system": (),
}
PERMISSIONS: tuple[str, ...] = tuple(
    p for prefix, extras in MENUS.items() for p in (f"{prefix}:view", f"{prefix}:write", *extras)
)
EVERY_VIEW = frozenset(f"{prefix}:view" for prefix in MENUS)
#: the decisions on a mine's yardsticks: a supervising unit's, never a mine's (approving
#: manual entries, capacity, coefficients, plans, permits; reductions and waivers;
#: acknowledging shutdowns; the legal limits; confirming suspect increments; accepting a
#: mine's system; penalty decisions; issuing rectification notices and instructions)
DECISIONS = frozenset({"production:approve", *MENUS["region"]})
#: what every person at a mine sees: the mine's monitoring, video, data, alarms, reports,
#: ledgers and production (not the region's view, the fees, nor the system settings)
MINE_VIEWS = frozenset(
    {
        "monitor:view",
        "video:view",
        "query:view",
        "alarm:view",
        "report:view",
        "ledger:view",
        "production:view",
    }
)

#: role code → (the UI's label, the permissions the rules give it)
ROLES: dict[str, tuple[str, frozenset[str]]] = {
    # watches 24 h, acknowledges and handles alarms, keeps the duty log and hands over
    # (ledger), enters manual production during faults (production:write: an application
    # the regulator approves), signs the daily report first (值机员签字), prints reports
    "duty_operator": (
        "产量监控值机员",
        MINE_VIEWS
        | {
            "alarm:write",
            "alarm:handle",
            "ledger:write",
            "ledger:export",
            "production:write",
            "report:sign",
            # acknowledges an instruction, passes it on, answers 及时反馈处理结果
            "production:answer",
        },
    ),
    # is notified of alarms, orders stops on overproduction; 矿调度 receives the county's
    # instructions and answers them
    "dispatcher": ("调度员", MINE_VIEWS | {"alarm:write", "alarm:handle", "production:answer"}),
    # reviews and signs the daily report (second signature); answers for the mine on duty
    "duty_mine_manager": (
        "值班矿长",
        MINE_VIEWS | {"alarm:write", "alarm:handle", "report:sign", "production:answer"},
    ),
    # reviews and signs (third signature); a mine's staff: applies for coefficients, never
    # approves them
    "chief_engineer": (
        "总工程师",
        MINE_VIEWS | {"alarm:write", "alarm:handle", "report:sign", "ledger:export"},
    ),
    # signs; sees the mine's fees; applies (production:write), never approves
    "mine_manager": (
        "矿长",
        MINE_VIEWS
        | {
            "settlement:view",
            "report:sign",
            "production:write",
            "ledger:export",
            # answers the notices to the mine
            "production:answer",
        },
    ),
    # 调度主任: organises the calibration and the duty roster 调度室负责校验的组织, 按调度规定的
    # 名单轮流上岗; records in the ledgers, handles alarms
    "dispatch_director": (
        "调度主任",
        MINE_VIEWS
        | {"alarm:write", "alarm:handle", "ledger:write", "ledger:export", "production:answer"},
    ),
    # 安全矿长: follows the alarms and signs abnormal-situation reports
    "safety_mine_manager": (
        "安全矿长",
        MINE_VIEWS | {"alarm:write", "alarm:handle", "report:sign", "ledger:export"},
    ),
    # 生产矿长: handles what the monitoring staff report, takes part in maintenance; applies
    # for production entries (production:write), never approves
    "production_mine_manager": (
        "生产矿长",
        MINE_VIEWS | {"alarm:write", "alarm:handle", "production:write", "ledger:export"},
    ),
    # repairs and calibrates, records maintenance, calibration and patrols; registers faults
    "maintainer": ("维护人员", MINE_VIEWS | {"ledger:write", "alarm:write"}),
    # watches every mine of its region and decides its yardsticks: capacity, coefficients,
    # manual entries, plans, permits, shutdown acknowledgements, reductions and waivers,
    # the legal limits, suspect increments; receives fault reports
    "regulator": (
        "监管人员",
        EVERY_VIEW | DECISIONS | {"ledger:export", "region:write"},
    ),
    # 财政/税务/安监: reads production data, read-only
    "third_party": (
        "第三方",
        frozenset({"monitor:view", "query:view", "report:view", "region:view"}),
    ),
    # users, permissions, parameters: everything
    "admin": ("系统管理员", frozenset({"*"})),
}

#: the API's token kinds: a read token sees every menu, a write token may do everything,
#: a third-party token reads what the third-party role reads and the fees (财政/税务)
TOKENS: dict[str, frozenset[str]] = {
    "read": EVERY_VIEW,
    "write": frozenset({"*"}),
    "third_party": ROLES["third_party"][1] | {"settlement:view"},
}

#: (role, permission) → why the program is wrong there under "Who decides what"
AUTHORITY: dict[tuple[str, str], str] = {}


def holds(permissions: frozenset[str], permission: str) -> bool:
    return "*" in permissions or permission in permissions


def authority_mark(role: str, permission: str) -> list[Any]:
    reason = AUTHORITY.get((role, permission))
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def role_cells() -> list[Any]:
    """One pytest param per (role, permission) of the table, the AUTHORITY cells xfail."""
    return [
        pytest.param(
            role, permission, marks=authority_mark(role, permission), id=f"{role}-{permission}"
        )
        for role in ROLES
        for permission in PERMISSIONS
    ]
