"""The reference data every new installation starts with (COC's keys where COC has them)."""

from __future__ import annotations

from opsdesk.catalog.kinds import Kind

# (key, English name, Chinese name, description)
DEFAULTS: dict[Kind, list[tuple[str, str, str, str]]] = {
    Kind.LEVEL: [
        (
            "level_10",
            "P1",
            "P1",
            "Core service functions are unavailable, affecting all customers.",
        ),
        (
            "level_20",
            "P2",
            "P2",
            "Core service functions are affected, affecting the core services of some customers.",
        ),
        (
            "level_30",
            "P3",
            "P3",
            "An error is reported for non-core service functions, "
            "affecting some customer services.",
        ),
        (
            "level_40",
            "P4",
            "P4",
            "Non-core service functions are faulty. The service latency increases, the performance "
            "deteriorates, and user experience decreases.",
        ),
        (
            "level_50",
            "P5",
            "P5",
            "Non-core service exception occurs, which is customer consultation or request issue.",
        ),
    ],
    Kind.CATEGORY: [
        ("inc_type_p_function_issues", "Function issues", "功能问题", ""),
        ("inc_type_p_reliability_issues", "Reliability issues", "可靠性问题", ""),
        ("inc_type_p_performance_issues", "Performance issues", "性能问题", ""),
        ("inc_type_p_security_issues", "Security issues", "安全问题", ""),
        ("inc_type_p_config_issues", "Configuration issues", "配置问题", ""),
        ("inc_type_p_change_issues", "Change issues", "变更问题", ""),
        ("inc_type_p_middleware_issues", "Middleware issues", "中间件问题", ""),
        ("inc_type_p_network_issues", "Network issues", "网络问题", ""),
        ("inc_type_p_hardware_issues", "Hardware issues", "硬件问题", ""),
        ("inc_type_p_data_issues", "Data issues", "数据问题", ""),
        ("inc_type_p_third_party_issues", "Third-party issues", "第三方问题", ""),
        ("inc_type_p_consultation", "Consultation or request", "咨询或请求", ""),
        ("inc_type_p_other_issues", "Other issues", "其他问题", ""),
    ],
    Kind.APPLICATION: [
        ("app_email", "Email", "邮件", "Mail, calendars and distribution lists"),
        ("app_network", "Network and VPN", "网络与VPN", "Office network, Wi-Fi and remote access"),
        ("app_identity", "Identity and login", "身份与登录", "Accounts, passwords, single sign-on"),
        ("app_website", "Public website", "官网", "Customer-facing website and APIs"),
        ("app_erp", "ERP", "ERP", "Finance, purchasing and inventory"),
        ("app_workplace", "Workplace devices", "办公设备", "Laptops, phones, printers"),
    ],
    Kind.REGION: [
        ("cn-north-4", "CN North-Beijing4", "华北-北京四", ""),
        ("ap-southeast-3", "AP-Singapore", "亚太-新加坡", ""),
        ("eu-west-101", "EU-Dublin", "欧洲-都柏林", ""),
    ],
    Kind.ENTERPRISE_PROJECT: [
        ("0", "default", "默认", "The default enterprise project"),
    ],
}
