"""What an audit entry's action and detail read as on the 审计日志 page: the action's name
(its code stays beside it, to filter by) and the detail as labelled fields, not JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from coalwatch.errors import N_

#: each action code the services write, by its name
ACTIONS: dict[str, str] = {
    "acceptance.acceptance": N_("投产验收"),
    "acceptance.inspection": N_("年检"),
    "acceptance.record": N_("验收记录"),
    "acceptance.resumption": N_("复产验收"),
    "acceptance.suspension": N_("暂停"),
    "archive.approve": N_("档案审核"),
    "archive.delete": N_("档案删除"),
    "archive.upload": N_("档案上传"),
    "backup.prune": N_("清理备份"),
    "backup.restore": N_("恢复备份"),
    "camera.register": N_("登记摄像机"),
    "capacity_request.submit": N_("报送产能变更"),
    "center.register": N_("登记下级中心"),
    "center.write_off": N_("核销下级中心缺号"),
    "certificate.add": N_("登记证书"),
    "certificate.renew": N_("证书换发"),
    "certificate.scan": N_("证书扫描件"),
    "channel.create": N_("增加通知渠道"),
    "channel.subscribe": N_("订阅通知"),
    "coefficient_application.submit": N_("报送折算系数"),
    "duty.entry": N_("运行日志"),
    "duty.patrol": N_("巡检记录"),
    "fault.close": N_("故障恢复"),
    "fault.open": N_("故障登记"),
    "fault.report": N_("故障上报"),
    "fault.report.confirm": N_("确认故障上报"),
    "fee_item.create": N_("增加收费项目"),
    "fee_item.rate": N_("收费标准"),
    "handover.create": N_("交接班记录"),
    "handover.sign": N_("交接班签字"),
    "instruction.ack": N_("签收指令"),
    "instruction.answer": N_("回复指令"),
    "instruction.issue": N_("下发指令"),
    "instruction.return": N_("退回指令回复"),
    "instruction.verify": N_("指令办结"),
    "ledger.calibration.add": N_("调校记录"),
    "ledger.calibration.confirm": N_("确认调校"),
    "ledger.equipment.add": N_("登记设备"),
    "ledger.equipment.scrap": N_("设备报废"),
    "ledger.equipment.update": N_("修改设备"),
    "ledger.maintenance.add": N_("检修记录"),
    "ledger.ups_test.add": N_("UPS 测试"),
    "limit.set": N_("设定限值"),
    "login": N_("登录"),
    "login.failed": N_("登录失败"),
    "logout": N_("退出"),
    "manual_entry.submit": N_("报送人工录入"),
    "mine.capacity": N_("核定生产能力"),
    "mine.coefficient": N_("折算系数"),
    "mine.create": N_("增加矿井"),
    "mine.plan": N_("产量计划"),
    "notice.ack": N_("签收通知"),
    "notice.answer": N_("回复通知"),
    "notice.issue": N_("下发通知"),
    "notice.return": N_("退回通知回复"),
    "notice.verify": N_("通知办结"),
    "org.create": N_("增加单位"),
    "password.change": N_("修改密码"),
    "password.reset": N_("重置密码"),
    "penalty.attachment": N_("处罚附件"),
    "penalty.evidence": N_("处罚证据"),
    "penalty.execute": N_("处罚执行"),
    "penalty.record": N_("行政处罚"),
    "permit_request.submit": N_("报送开盖/调参"),
    "person.add": N_("增加人员"),
    "plan_request.submit": N_("报送产量计划"),
    "point.create": N_("增加计量点"),
    "production.manual": N_("人工录入"),
    "raw.archive": N_("原始记录归档"),
    "reduction.confirm": N_("确认核减"),
    "reduction.pending": N_("待核减"),
    "reduction.waive": N_("免予核减"),
    "report.receive": N_("收到报表"),
    "report.shifts": N_("班次设置"),
    "report.submit": N_("报表上报"),
    "role.create": N_("增加角色"),
    "role.delete": N_("删除角色"),
    "role.update": N_("修改角色"),
    "roster.add": N_("排班"),
    "roster.decide": N_("排班审批"),
    "roster.sign_off": N_("下岗签退"),
    "roster.sign_on": N_("上岗签到"),
    "roster.substitute": N_("替班"),
    "routine.record": N_("例行检查"),
    "shutdown.acknowledge": N_("停产签收"),
    "shutdown.report": N_("停产报备"),
    "shutdown.resume": N_("复产报备"),
    "shutdown.resumption_acknowledge": N_("复产签收"),
    "signals.choose": N_("选择信号"),
    "staffing.set": N_("定员"),
    "station.config_issued": N_("下发主站配置"),
    "station.register": N_("登记主站"),
    "station.write_off_gaps": N_("核销主站缺号"),
    "summary.receive": N_("收到汇总"),
    "summary.submit": N_("汇总上报"),
    "suspect.confirm": N_("确认疑似异常"),
    "suspect.reject": N_("排除疑似异常"),
    "threshold.set": N_("设定阈值"),
    "token.create": N_("创建令牌"),
    "token.revoke": N_("吊销令牌"),
    "user.create": N_("增加用户"),
    "user.delete": N_("删除用户"),
    "user.locked": N_("账户锁定"),
    "user.unlock": N_("解除锁定"),
    "user.update": N_("修改用户"),
}


#: the detail's fields that no form has (the forms' labels: ``web.refusals.FIELD_LABELS``)
FIELDS: dict[str, str] = {
    "amount_t": N_("数量 (t)"),
    "applied_by": N_("申请人"),
    "bytes": N_("字节数"),
    "cites": N_("依据"),
    "decision": N_("决定"),
    "declared_by": N_("申报人"),
    "declared_end": N_("申报结束时间"),
    "document": N_("文件"),
    "evidence": N_("证据"),
    "fault": N_("故障"),
    "file_name": N_("文件名"),
    "fingerprint": N_("指纹"),
    "gaps": N_("缺号"),
    "id": N_("编号"),
    "ids": N_("编号"),
    "level": N_("级别"),
    "media_type": N_("文件类型"),
    "mines": N_("矿井"),
    "must_change_password": N_("须改密码"),
    "owner": N_("所属"),
    "password_reset": N_("重置密码"),
    "permissions": N_("权限"),
    "pre_restore": N_("恢复前备份"),
    "previous": N_("原值"),
    "pruned": N_("已清理"),
    "rate_limit_per_min": N_("限流（次/分钟）"),
    "recovered_at": N_("恢复时间"),
    "reduction_t": N_("核减量 (t)"),
    "ref": N_("编号"),
    "reported_at": N_("上报时间"),
    "resume_at": N_("复产时间"),
    "retention_days": N_("保留天数"),
    "revision": N_("修订版本"),
    "role": N_("角色"),
    "roles": N_("角色"),
    "size_bytes": N_("字节数"),
    "source": N_("来源"),
    "table": N_("数据表"),
    "types": N_("类型"),
    "unlocked": N_("解除锁定"),
    "until": N_("截至"),
    "verified": N_("已校验"),
    "version": N_("版本"),
    "via": N_("途径"),
    "was_locked": N_("原已锁定"),
    "write": N_("读写"),
}


def action_name(code: str, label: Callable[[str], str]) -> str:
    """The action's name in the reader's language (``label``: the page's); an unknown
    code as it is."""
    name = ACTIONS.get(code)
    return label(name) if name else code


def detail_fields(detail: str | None, labels: Callable[[str], str]) -> list[tuple[str, str]]:
    """The detail's fields as (label, value): a list joined by 、, an empty one as —, a
    nested object as compact JSON; a detail that is not a JSON object as one field."""
    if not detail:
        return []
    try:
        found: Any = json.loads(detail)
    except ValueError:
        return [("", detail)]
    if not isinstance(found, dict):
        return [("", detail)]
    return [(labels(key), _shown(value)) for key, value in found.items()]


def _shown(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
