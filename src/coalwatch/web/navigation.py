"""The left menu tree (ui.md): a menu shows when the user holds its ``:view``."""

from __future__ import annotations

from dataclasses import dataclass

from coalwatch.auth.permissions import MENUS
from coalwatch.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class Item:
    label: str
    href: str
    #: for users who see the whole tree only (the page refuses a unit's user)
    whole_tree: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    prefix: str
    label: str
    items: tuple[Item, ...]
    open: bool = False


@dataclass(frozen=True, slots=True)
class Navigation:
    groups: tuple[Group, ...]
    current: str | None


_LABELS = {menu.prefix: menu.label for menu in MENUS}

#: the pages that exist, per menu (menus without pages yet are not shown)
PAGES: dict[str, tuple[Item, ...]] = {
    "monitor": (
        Item("矿井总览", "/monitor"),
        Item("区域总览", "/monitor/region"),
        Item("大屏", "/monitor/wall"),
    ),
    "video": (
        Item("实时画面", "/video/live"),
        Item("图像回放", "/video/playback"),
    ),
    "query": (
        Item("实时数据", "/query/realtime"),
        Item("日产量查询", "/query/production?period=day"),
        Item("月产量查询", "/query/production?period=month"),
        Item("年产量查询", "/query/production?period=year"),
        Item("报警查询", "/query/alarms"),
        Item("故障查询", "/query/faults"),
    ),
    "alarm": (
        Item("当前报警", "/alarms"),
        Item("报警确认与处理", "/alarms?todo=1"),
        Item("可疑增量", "/alarms/suspects"),
    ),
    "report": (
        Item("监测日报表", "/reports/daily"),
        Item("班报表", "/reports/period?kind=shift"),
        Item("旬/月/季/年报表", "/reports/period?kind=month"),
        Item("月终/年终汇总", "/reports/summaries?kind=month"),
        Item("异常情况上传报表", "/reports/summaries?kind=abnormal"),
        Item("报表审签", "/reports/pending"),
    ),
    "ledger": (
        Item("设备仪表台账", "/ledger/equipment"),
        Item("故障登记", "/ledger/faults"),
        Item("检修记录", "/ledger/maintenance"),
        Item("调校记录", "/ledger/calibrations"),
        Item("运行日志", "/ledger/duty"),
        Item("交接班记录", "/ledger/handover"),
        Item("巡检记录", "/ledger/patrols"),
        Item("UPS 测试", "/ledger/ups"),
        Item("人员与证书", "/people"),
        Item("排班", "/people/roster"),
        Item("当班人员", "/people/today"),
        Item("定期检查", "/routines/board"),
        Item("档案资料", "/ledger/archive"),
        Item("备份记录", "/ledger/backups", whole_tree=True),
    ),
    "region": (
        Item("辖区产量", "/region/production"),
        Item("超产排名", "/region/ranking"),
        Item("故障与上报", "/region/faults"),
        Item("验收与年检", "/region/acceptance"),
        Item("违法处罚", "/region/penalties"),
        Item("整改通知与指令", "/region/notices"),
    ),
    "production": (
        Item("产能与计划", "/production/capacity"),
        Item("折算系数", "/production/coefficients"),
        Item("人工录入", "/production/manual"),
        Item("停产报备", "/production/shutdowns"),
        Item("开盖/调参审批", "/production/permits"),
        Item("上级通知与指令", "/production/notices"),
    ),
    "settlement": (
        Item("收费项目", "/settlement/items"),
        Item("月结算单", "/settlement/statements"),
    ),
    "system": (
        Item("系统参数", "/system/params"),
        Item("单位管理", "/system/orgs"),
        Item("矿井与计量点", "/system/mines"),
        Item("主站管理", "/system/stations"),
        Item("权限设置", "/system/roles"),
        Item("用户管理", "/system/users"),
        Item("接口令牌", "/system/tokens"),
        Item("审计日志", "/system/audit"),
    ),
}


def _matches(item: Item, path: str, query: str) -> bool:
    href_path, _, href_query = item.href.partition("?")
    if href_path != path:
        return False
    return not href_query or href_query in query


def navigation(principal: Principal, path: str, query: str = "") -> Navigation:
    groups = []
    current = None
    for menu in MENUS:
        items = tuple(
            item
            for item in PAGES.get(menu.prefix, ())
            if not item.whole_tree or principal.scope_path is None
        )
        if not items or not principal.has(menu.view):
            continue
        here = [item for item in items if _matches(item, path, query)]
        if here and current is None:
            current = here[-1].href
        groups.append(
            Group(
                menu.prefix,
                _LABELS[menu.prefix],
                items,
                open=bool(here) or path.startswith(f"/{menu.prefix}"),
            )
        )
    return Navigation(tuple(groups), current)
