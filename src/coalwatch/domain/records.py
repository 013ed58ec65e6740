"""Records 台账 the center keeps: the rules of the equipment ledger, maintenance and UPS tests.

- Equipment 设备仪表台账 is in use 在用, standby 备用, under repair 维修 or scrapped 报废.
  It may be scrapped only on one of the seed's criteria (产量监控系统施用、维护、存放、报废
  管理制度 四、报废); a scrapped item is kept, and no longer changed.
- Maintenance 检修: routine 日常, monthly with the manufacturer 每月一次的定期标定和维护,
  the yearly inspection 年检, and repair 维修; monthly and yearly ones fall due again.
- UPS test: mains off by hand, the backup power must carry the load for 15 minutes
  (使备用电源连续运行15分钟).
- Every record is kept at least 2 years (资料保存时间不少于2年): nothing here expires.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from decimal import Decimal
from enum import StrEnum

#: 使备用电源连续运行15分钟
UPS_MIN_MINUTES = 15
#: 一次修理费用超过设备原值80%以上
REPAIR_COST_SHARE = Decimal("0.8")
#: 资料保存时间不少于2年
RETENTION_YEARS = 2


class EquipmentStatus(StrEnum):
    IN_USE = "in_use"
    STANDBY = "standby"
    REPAIR = "repair"
    SCRAPPED = "scrapped"


STATUS_LABELS: dict[EquipmentStatus, str] = {
    EquipmentStatus.IN_USE: "在用",
    EquipmentStatus.STANDBY: "备用",
    EquipmentStatus.REPAIR: "维修",
    EquipmentStatus.SCRAPPED: "报废",
}


class EquipmentKind(StrEnum):
    BELT_SCALE = "belt_scale"
    SKIP_SCALE = "skip_scale"
    TRACK_SCALE = "track_scale"
    VEHICLE_SCALE = "vehicle_scale"
    TRUCK_SCALE = "truck_scale"
    CAMERA = "camera"
    UPS = "ups"
    STATION_COMPUTER = "station_computer"
    SERVER = "server"
    CONVEYOR_SENSOR = "conveyor_sensor"
    DOOR_SWITCH = "door_switch"
    SERIAL_SERVER = "serial_server"
    NETWORK = "network"
    OTHER = "other"


KIND_LABELS: dict[EquipmentKind, str] = {
    EquipmentKind.BELT_SCALE: "皮带秤",
    EquipmentKind.SKIP_SCALE: "箕斗计量装置",
    EquipmentKind.TRACK_SCALE: "矿车/轨道衡",
    EquipmentKind.VEHICLE_SCALE: "胶轮车计量装置",
    EquipmentKind.TRUCK_SCALE: "汽车衡",
    EquipmentKind.CAMERA: "摄像机",
    EquipmentKind.UPS: "不间断电源 (UPS)",
    EquipmentKind.STATION_COMPUTER: "主站计算机",
    EquipmentKind.SERVER: "监控服务器",
    EquipmentKind.CONVEYOR_SENSOR: "输煤设备传感器",
    EquipmentKind.DOOR_SWITCH: "外壳开关",
    EquipmentKind.SERIAL_SERVER: "串口服务器",
    EquipmentKind.NETWORK: "网络设备",
    EquipmentKind.OTHER: "其他",
}


class ScrapCriterion(StrEnum):
    """符合下列情况之一者，可以报废 (the seed's six criteria, in its order)."""

    #: 设备老化、技术落后或超过规定使用年限的
    AGED = "aged"
    #: 通过修理虽能恢复性能及技术指标，但一次修理费用超过设备原值80%以上的
    REPAIR_COST = "repair_cost"
    #: 失爆不能修复的
    EXPLOSION_PROOF_LOST = "explosion_proof_lost"
    #: 受意外事故或灾害，损坏严重，无法修复的
    ACCIDENT = "accident"
    #: 不符合国家及行业标准规定的
    NONCOMPLIANT = "noncompliant"
    #: 国家或有关部门规定淘汰的
    PHASED_OUT = "phased_out"


SCRAP_LABELS: dict[ScrapCriterion, str] = {
    ScrapCriterion.AGED: "设备老化、技术落后或超过规定使用年限",
    ScrapCriterion.REPAIR_COST: "一次修理费用超过设备原值 80% 以上",
    ScrapCriterion.EXPLOSION_PROOF_LOST: "失爆不能修复",
    ScrapCriterion.ACCIDENT: "受意外事故或灾害，损坏严重，无法修复",
    ScrapCriterion.NONCOMPLIANT: "不符合国家及行业标准规定",
    ScrapCriterion.PHASED_OUT: "国家或有关部门规定淘汰",
}


def check_scrap(
    status: EquipmentStatus,
    criterion: ScrapCriterion,
    repair_cost: Decimal | None = None,
    original_value: Decimal | None = None,
) -> None:
    """May an item be scrapped on ``criterion``? Raises ValueError saying why not.

    The repair-cost criterion needs both figures, and the cost must exceed 80 % of the
    original value ("超过…80%以上": strictly more).
    """
    if status is EquipmentStatus.SCRAPPED:
        raise ValueError("the item is scrapped already")
    if criterion is not ScrapCriterion.REPAIR_COST:
        return
    if repair_cost is None or original_value is None:
        raise ValueError("the repair-cost criterion needs the repair cost and the original value")
    if original_value <= 0:
        raise ValueError("the original value must be positive")
    if repair_cost <= original_value * REPAIR_COST_SHARE:
        raise ValueError(
            f"a repair cost of {repair_cost} is not more than 80 % of the original value "
            f"{original_value} ({original_value * REPAIR_COST_SHARE})"
        )


class MaintenanceKind(StrEnum):
    ROUTINE = "routine"
    MONTHLY = "monthly"
    YEARLY = "yearly"
    REPAIR = "repair"


MAINTENANCE_LABELS: dict[MaintenanceKind, str] = {
    MaintenanceKind.ROUTINE: "日常维护",
    MaintenanceKind.MONTHLY: "月度维护 (厂家)",
    MaintenanceKind.YEARLY: "年检",
    MaintenanceKind.REPAIR: "故障维修",
}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def maintenance_due(kind: MaintenanceKind, done_on: date) -> date | None:
    """When the next maintenance of this kind is due: a month after a monthly one
    (每个月一次), a year after the yearly inspection (每一年应进行一次年检); routine work
    and repairs set no date."""
    if kind is MaintenanceKind.MONTHLY:
        return add_months(done_on, 1)
    if kind is MaintenanceKind.YEARLY:
        return add_months(done_on, 12)
    return None


def ups_test_passed(minutes_on_backup: int) -> bool:
    """The backup power carried the load for at least 15 minutes."""
    return minutes_on_backup >= UPS_MIN_MINUTES
