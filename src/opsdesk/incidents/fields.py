"""The incident's vocabulary: COC keys, display names in English and Chinese, and limits.

COC keys are canonical (they are what we store and what the COC API speaks); ITIL names
are display labels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
SHIFT_ID_MAX = 64


class Label(NamedTuple):
    en: str
    zh: str


class Status(StrEnum):
    DRAFT = "incident_draft"
    TRIGGERED = "INCIDENT_STATUS_TRIGGERED"
    ACKNOWLEDGED = "INCIDENT_STATUS_ACKNOWLEDGED"
    REJECTED = "INCIDENT_STATUS_REJECTED"
    RESOLVED = "INCIDENT_STATUS_RESOLVED"
    COMPLETED = "INCIDENT_STATUS_COMPLETED"


STATUS_LABELS: dict[Status, Label] = {
    Status.DRAFT: Label("Draft", "草稿"),
    Status.TRIGGERED: Label("New", "未受理"),
    Status.ACKNOWLEDGED: Label("In Progress", "已受理"),
    Status.REJECTED: Label("Rejected", "被驳回"),
    Status.RESOLVED: Label("Resolved", "已解决待验证"),
    Status.COMPLETED: Label("Closed", "已完成"),
}

LEVELS = ("level_10", "level_20", "level_30", "level_40", "level_50")
LEVEL_LABELS: dict[str, Label] = {key: Label(f"P{i}", f"P{i}") for i, key in enumerate(LEVELS, 1)}


def parse_level(value: str) -> str | None:
    """``level_10`` or ``P1`` (any case) to the stored key; None when it is neither."""
    text = value.strip()
    if text in LEVEL_LABELS:
        return text
    upper = text.upper()
    for key, label in LEVEL_LABELS.items():
        if label.en == upper:
            return key
    return None


class Ownership(StrEnum):
    ALARM_DETECTION = "alarm_detection"
    CUSTOMER_REPORT = "customer_report"
    PROACTIVE_OM = "proactive_om"
    OTHER = "other"


OWNERSHIP_LABELS: dict[Ownership, Label] = {
    Ownership.ALARM_DETECTION: Label("Alarm detection", "告警发现"),
    Ownership.CUSTOMER_REPORT: Label("Customer fault reporting", "客户报障"),
    Ownership.PROACTIVE_OM: Label("Proactive O&M", "主动运维"),
    Ownership.OTHER: Label("Other", "其他"),
}


class Source(StrEnum):
    """COC's incident source: who made the ticket."""

    MANUAL = "incident_source_manual"
    FORWARDING = "incident_source_forwarding"
    ALARM = "incident_source_alarm"


SOURCE_LABELS: dict[Source, Label] = {
    Source.MANUAL: Label("Manual Creation", "人工创建"),
    Source.FORWARDING: Label("Transfer creation", "流转创建"),
    Source.ALARM: Label("Alarm", "告警"),
}


class Channel(StrEnum):
    """The way in: every channel ends in the same create call."""

    TECHNICIAN_PORTAL = "technician_portal"
    SELF_SERVICE = "self_service"
    API = "api"
    COC_API = "coc_api"
    EMAIL = "email"
    CHATBOT = "chatbot"
    VIRTUAL_AGENT = "virtual_agent"
    MONITORING = "monitoring"
    FAILED_CHANGE = "failed_change"
    FAILED_SERVICE_REQUEST = "failed_service_request"
    PHONE = "phone"


CHANNEL_LABELS: dict[Channel, Label] = {
    Channel.TECHNICIAN_PORTAL: Label("Technician portal", "技术员门户"),
    Channel.SELF_SERVICE: Label("Self-service portal", "自助门户"),
    Channel.API: Label("REST API", "REST API"),
    Channel.COC_API: Label("COC API", "COC API"),
    Channel.EMAIL: Label("Email", "邮件"),
    Channel.CHATBOT: Label("Chatbot", "聊天机器人"),
    Channel.VIRTUAL_AGENT: Label("Virtual agent", "虚拟座席"),
    Channel.MONITORING: Label("Monitoring", "监控"),
    Channel.FAILED_CHANGE: Label("Failed change", "失败的变更"),
    Channel.FAILED_SERVICE_REQUEST: Label("Failed service request", "失败的服务请求"),
    Channel.PHONE: Label("Phone", "电话"),
}


class OwnerType(StrEnum):
    INDIVIDUAL = "individual"
    SHIFT = "shift"


# Impact and urgency share one three-step scale; 1 is the highest.
SCALE_LABELS: dict[int, Label] = {
    1: Label("High", "高"),
    2: Label("Medium", "中"),
    3: Label("Low", "低"),
}
DEFAULT_IMPACT = 2
DEFAULT_URGENCY = 2


class HistoryAction(StrEnum):
    """Keys of history rows: COC's vocabulary where it has one (coc-api.md §5.3)."""

    CREATE = "create_incident"
    UPDATE = "update_incident"
    ACCEPT = "incident_accept"
    REJECT = "incident_reject"
    FORWARD = "incident_forward"
    REMARK = "incident_remark"
    PAUSE = "incident_pause"
    APPROVE = "incident_approve"
    DENY = "incident_deny"
    RESUME = "incident_recover"
    CHANGE_LEVEL = "incident_change_level"
    RESOLVE = "incident_solution"
    CONFIRM = "incident_confirm"
    REOPEN = "incident_reopen"
    CLOSE = "incident_close"
    WITHDRAW = "incident_withdraw"
    AUTO_COMPLETE = "incident_auto_complete"
    REPLY = "incident_reply"
    NOTE = "incident_note"
    WORK_LOG = "incident_work_log"
    ATTACH = "incident_attachment"
    FEEDBACK = "incident_feedback"
    ASSIGN = "incident_assign"
    WATCH = "incident_watch"
    UNWATCH = "incident_unwatch"
    # A step of an automated runbook (COC: contingency plan) reported by the automation itself.
    AUTOMATION_STEP = "automation_step"
    # The SLA clock crossed a warning threshold or its goal (sla/ writes these, no operator).
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    # Working together (collaboration/ and relations/): rows on the incident they touch.
    TASK = "incident_task"
    WORK_ORDER = "incident_work_order"
    MERGE = "incident_merge"  # on the primary: secondaries merged into it
    MERGED = "incident_merged"  # on a secondary: merged into the primary
    UNMERGE = "incident_unmerge"  # on both sides when a merge is undone
    SPLIT = "incident_split"  # on the original: a part split off into a new incident
    SPLIT_FROM = "incident_split_from"  # on the new incident
    LINK = "incident_link"
    UNLINK = "incident_unlink"
    # A stakeholder update posted (reviews/status_updates.py): internal, the text is public.
    STATUS_UPDATE = "incident_status_update"
    # Major incidents (reviews/): declared, downgraded, the team and the war room.
    MAJOR_DECLARE = "incident_major_declare"
    MAJOR_DOWNGRADE = "incident_major_downgrade"
    MAJOR_TEAM = "incident_major_team"
    WAR_ROOM = "incident_war_room"


HISTORY_ACTION_LABELS: dict[str, Label] = {
    HistoryAction.CREATE: Label("create incident", "创建事件单"),
    HistoryAction.UPDATE: Label("update incident", "修改事件单"),
    HistoryAction.ACCEPT: Label("accept incident", "受理事件单"),
    HistoryAction.REJECT: Label("reject incident", "驳回事件单"),
    HistoryAction.FORWARD: Label("forward incident", "转派事件单"),
    HistoryAction.REMARK: Label("add remark", "添加备注"),
    HistoryAction.PAUSE: Label("request pause", "申请暂停"),
    HistoryAction.APPROVE: Label("approve request", "审批通过"),
    HistoryAction.DENY: Label("deny request", "审批驳回"),
    HistoryAction.RESUME: Label("resume handling", "恢复处理"),
    HistoryAction.CHANGE_LEVEL: Label("change level", "变更级别"),
    HistoryAction.RESOLVE: Label("commit solution", "提交解决方案"),
    HistoryAction.CONFIRM: Label("confirm resolution", "验证结果"),
    HistoryAction.REOPEN: Label("reopen incident", "重新打开事件单"),
    HistoryAction.CLOSE: Label("close incident", "关闭事件单"),
    HistoryAction.WITHDRAW: Label("withdrawn by the reporter", "报障人撤回"),
    HistoryAction.AUTO_COMPLETE: Label("auto-complete", "自动完成"),
    HistoryAction.REPLY: Label("public reply", "公开回复"),
    HistoryAction.NOTE: Label("internal note", "内部备注"),
    HistoryAction.WORK_LOG: Label("work log", "工作日志"),
    HistoryAction.ATTACH: Label("add attachment", "添加附件"),
    HistoryAction.FEEDBACK: Label("feedback", "满意度评价"),
    HistoryAction.ASSIGN: Label("assign incident", "分派事件单"),
    HistoryAction.WATCH: Label("add watcher", "添加关注人"),
    HistoryAction.UNWATCH: Label("remove watcher", "移除关注人"),
    HistoryAction.AUTOMATION_STEP: Label("automation step", "自动化步骤"),
    HistoryAction.SLA_WARNING: Label("SLA warning", "SLA预警"),
    HistoryAction.SLA_BREACH: Label("SLA breached", "SLA超时"),
    HistoryAction.TASK: Label("task", "任务"),
    HistoryAction.WORK_ORDER: Label("work order", "工单"),
    HistoryAction.MERGE: Label("merge incidents", "合并事件单"),
    HistoryAction.MERGED: Label("merged into another incident", "已合并到其他事件单"),
    HistoryAction.UNMERGE: Label("undo merge", "撤销合并"),
    HistoryAction.SPLIT: Label("split incident", "拆分事件单"),
    HistoryAction.SPLIT_FROM: Label("split from another incident", "从其他事件单拆分"),
    HistoryAction.LINK: Label("link incident", "关联事件单"),
    HistoryAction.UNLINK: Label("remove link", "取消关联"),
    HistoryAction.STATUS_UPDATE: Label("status update", "发布状态通告"),
    HistoryAction.MAJOR_DECLARE: Label("declare major incident", "升级为重大事件"),
    HistoryAction.MAJOR_DOWNGRADE: Label("downgrade major incident", "取消重大事件"),
    HistoryAction.MAJOR_TEAM: Label("response team", "响应团队"),
    HistoryAction.WAR_ROOM: Label("war room", "WarRoom"),
}

# Keys of the ``changes`` entries that describe an automation step on its history row.
STEP_ID, STEP_NAME_EN, STEP_NAME_ZH, STEP_OUTCOME = (
    "automation_step",
    "automation_name_en",
    "automation_name_zh",
    "automation_outcome",
)


def history_action_label(action: str) -> Label:
    return HISTORY_ACTION_LABELS.get(action, Label(action, action))


def _change_value(changes: list[dict[str, Any]], field: str) -> str | None:
    for change in changes:
        if change.get("field") == field and isinstance(change.get("new"), str):
            return str(change["new"])
    return None


def automation_step_id(changes: list[dict[str, Any]]) -> str | None:
    """The step id of an automation-step history row (COC's ``action_id``), else None."""
    return _change_value(changes, STEP_ID)


def history_row_label(action: str, changes: list[dict[str, Any]]) -> Label:
    """The display name of a history row: an automation step is named by the step itself."""
    if action == HistoryAction.AUTOMATION_STEP:
        en = _change_value(changes, STEP_NAME_EN)
        if en is not None:
            return Label(en, _change_value(changes, STEP_NAME_ZH) or en)
    return history_action_label(action)
