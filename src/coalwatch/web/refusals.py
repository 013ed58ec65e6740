"""What a page says of a form pydantic refused: each field by the label its form gives it,
and what is wrong with it in the reader's language ("年生产能力 (t)：请输入数字"), instead
of pydantic's English with the schema's field names (which the API keeps saying)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from coalwatch.errors import N_

#: the label of each field the forms post, as their pages show it (a name several forms
#: use with different labels has the one that fits them all); a field not here is named
#: as posted
FIELD_LABELS: dict[str, str] = {
    "access": N_("权限"),
    "ack_hours": N_("签收时限（小时）"),
    "action": N_("操作"),
    "actor": N_("操作人"),
    "after": N_("检查后"),
    "again": N_("确认新密码"),
    "analysis": N_("影响因素分析"),
    "annual_capacity_t": N_("年生产能力 (t)"),
    "at": N_("时间"),
    "auth": N_("认证方式"),
    "before": N_("检查前"),
    "calibrated_by": N_("调校人"),
    "calibrated_on": N_("首次标定日期"),
    "carried_out_on": N_("停产整顿/暂扣执行日期"),
    "changed_on": N_("变更日期"),
    "checked": N_("巡检内容"),
    "code": N_("编码"),
    "content": N_("检修内容"),
    "criterion": N_("报废依据"),
    "day": N_("日期"),
    "day_t": N_("日计划 (t)"),
    "deadline": N_("期限"),
    "decided_on": N_("日期"),
    "dekad": N_("旬"),
    "description": N_("说明"),
    "done_at": N_("时间"),
    "early_minutes": N_("提前到岗（分钟）"),
    "effective_from": N_("生效日期"),
    "effective_to": N_("截止日期"),
    "end": N_("结束"),
    "enterprise_fine": N_("企业罚款 (元)"),
    "equipment": N_("设备"),
    "ex_certificate": N_("防爆合格证编号"),
    "facts": N_("违法事实"),
    "file": N_("文件"),
    "files": N_("附件"),
    "findings": N_("发现问题"),
    "first_actual_t": N_("实物重量 (t)"),
    "first_indicated_t": N_("显示重量 (t)"),
    "found_on": N_("发现日期"),
    "from": N_("开始日期"),
    "gross_t": N_("毛煤 (t)"),
    "hour": N_("小时"),
    "hour_t": N_("时计划 (t)"),
    "id_number": N_("身份证号"),
    "incoming": N_("接班人（账号）"),
    "inspection_due": N_("下次年检日期"),
    "installed_on": N_("安装日期"),
    "issues": N_("本班遗留问题（每行一条）"),
    "item": N_("收费项目"),
    "kind": N_("类别"),
    "licence_date": N_("核定文件日期"),
    "licence_no": N_("核定文件文号"),
    "ma_mark": N_("MA 安全标志编号"),
    "manner": N_("情形（人为造成不能正常运行时）"),
    "manufacturer": N_("生产厂家"),
    "max_flow_tph": N_("最大流量 (t/h)"),
    "measures": N_("整改措施"),
    "min_staff": N_("每班至少（人）"),
    "min_trip_t": N_("最小输煤量 (t)"),
    "mine": N_("矿井"),
    "minutes": N_("备用电源供电时长（分钟）"),
    "minutes_on_backup": N_("备用电源运行 (分钟)"),
    "model": N_("型号"),
    "month": N_("月份"),
    "month_t": N_("月计划 (t)"),
    "name": N_("名称"),
    "new": N_("新密码"),
    "note": N_("备注"),
    "number": N_("编号"),
    "occurred_at": N_("发生时间"),
    "offence": N_("违法行为"),
    "old": N_("原密码"),
    "old_interval": N_("原间隔值"),
    "org": N_("单位"),
    "original_value": N_("设备原值 (元)"),
    "paid_on": N_("缴款日期"),
    "parent": N_("上级单位"),
    "passed": N_("结论"),
    "password": N_("密码"),
    "patrolled_by": N_("巡检人"),
    "percent": N_("系数 (%%)"),
    "performed_by": N_("执行人"),
    "period": N_("周期"),
    "person": N_("人员"),
    "phenomenon": N_("现象"),
    "point": N_("计量点"),
    "position": N_("岗位"),
    "principal_fine": N_("主要负责人罚款 (元)"),
    "principal_name": N_("主要负责人"),
    "problem": N_("存在问题"),
    "public_key": N_("公钥"),
    "q": N_("查询"),
    "quarter": N_("季度"),
    "rate_limit": N_("限流（次/分钟）"),
    "reason": N_("原因"),
    "record_no": N_("验收记录编号"),
    "repair_cost": N_("一次修理费用 (元)"),
    "replaces": N_("替换文件编号"),
    "report": N_("书面报告"),
    "responsible_fine": N_("直接责任人罚款 (元)"),
    "responsible_name": N_("直接责任人"),
    "result": N_("处理结果"),
    "rollover_t": N_("累计量回零值 (t)"),
    "rtsp_url": N_("RTSP 地址（需 ffmpeg）"),
    "scope": N_("数据范围"),
    "scrapped_on": N_("报废日期"),
    "second_actual_t": N_("复核实物重量 (t)"),
    "second_indicated_t": N_("复核显示重量 (t)"),
    "serial": N_("出厂编号"),
    "severity": N_("级别"),
    "shift": N_("班次"),
    "site_measurement": N_("现场实测"),
    "snapshot_url": N_("抓图地址"),
    "sort": N_("排序"),
    "start": N_("开始"),
    "state": N_("状态"),
    "status": N_("状态"),
    "taken_back_by": N_("验收值机员"),
    "tested_at": N_("测试时间"),
    "tested_by": N_("测试人"),
    "text": N_("内容"),
    "title": N_("标题"),
    "to": N_("结束日期"),
    "type": N_("类型"),
    "unit": N_("单位"),
    "user": N_("用户"),
    "username": N_("帐号"),
    "valid_until": N_("有效期至"),
    "window_min": N_("监测窗口 (分钟) / 窗口最小量 (t)"),
    "witness": N_("见证人"),
    "year": N_("年份"),
    "yuan_per_t": N_("费率 (元/t)"),
}

#: what is wrong with a field, by the type of pydantic's error (its context fills the
#: blanks); a type not here says 输入有误
REFUSALS: dict[str, str] = {
    "missing": N_("必填"),
    "decimal_parsing": N_("请输入数字"),
    "decimal_type": N_("请输入数字"),
    "float_parsing": N_("请输入数字"),
    "float_type": N_("请输入数字"),
    "finite_number": N_("请输入数字"),
    "int_parsing": N_("请输入整数"),
    "int_type": N_("请输入整数"),
    "int_from_float": N_("请输入整数"),
    "decimal_max_places": N_("最多 %(decimal_places)s 位小数"),
    "decimal_max_digits": N_("最多 %(max_digits)s 位数字"),
    "greater_than": N_("须大于 %(gt)s"),
    "greater_than_equal": N_("不能小于 %(ge)s"),
    "less_than": N_("须小于 %(lt)s"),
    "less_than_equal": N_("不能大于 %(le)s"),
    "string_too_short": N_("至少 %(min_length)s 个字符"),
    "string_too_long": N_("最多 %(max_length)s 个字符"),
    "string_pattern_mismatch": N_("格式不正确"),
    "date_parsing": N_("请输入日期"),
    "date_from_datetime_parsing": N_("请输入日期"),
    "date_type": N_("请输入日期"),
    "datetime_parsing": N_("请输入日期和时间"),
    "datetime_from_date_parsing": N_("请输入日期和时间"),
    "datetime_type": N_("请输入日期和时间"),
    "timezone_aware": N_("请输入日期和时间"),
    "literal_error": N_("请从列表中选择"),
    "enum": N_("请从列表中选择"),
    "bool_parsing": N_("请选择是或否"),
    "extra_forbidden": N_("不是此表单的字段"),
}
#: the services' own checks of a field or a form (their English is the API's), as a form
#: says them
CHECKS: dict[str, str] = {
    "must not be negative": N_("不能为负数"),
    "end must be after start": N_("结束须晚于开始"),
    "end must not be before start": N_("结束不能早于开始"),
    "effective_to is before effective_from": N_("截止日期早于生效日期"),
}
_INVALID = N_("输入有误")
#: one field's refusal, and between two
_FIELD = N_("%(field)s：%(wrong)s")
_BETWEEN = N_("；")


def describe(errors: Iterable[Mapping[str, Any]], gettext: Callable[[str], str]) -> str:
    """Every refused field of a form or a page's address (pydantic's ``errors()``),
    "<label>：<what is wrong>", joined by "；" (in Chinese)."""
    return gettext(_BETWEEN).join(_one(error, gettext) for error in errors) or gettext(_INVALID)


def _one(error: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    context = error.get("ctx") or {}
    if error["type"] == "value_error":
        text = str(context.get("error", ""))
        wrong = gettext(CHECKS[text]) if text in CHECKS else text or gettext(_INVALID)
    else:
        template = REFUSALS.get(error["type"], _INVALID)
        try:
            wrong = gettext(template) % {k: str(v) for k, v in context.items()}
        except (TypeError, KeyError, ValueError):
            wrong = gettext(_INVALID)
    names = [str(part) for part in error["loc"] if not isinstance(part, int)]
    if not names:  # the form as a whole
        return wrong
    field = names[-1]
    label = gettext(FIELD_LABELS[field]) if field in FIELD_LABELS else field
    return gettext(_FIELD) % {"field": label, "wrong": wrong}
