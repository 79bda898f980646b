"""Each sender's payload → a list of normalised alerts; errors name the field at fault.

Pure: no web or database imports. Parsing is by hand on plain dicts because this is the hot
path (a Pydantic model per alert costs more than the database upsert of it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsdesk.alerts.fingerprints import label_fingerprint
from opsdesk.core.errors import ValidationFailed

FIRING = "firing"
RESOLVED = "resolved"
ACKNOWLEDGED = "acknowledged"
SEVERITIES = ("critical", "error", "warning", "info")
MAX_ALERTS_PER_POST = 10_000
MAX_KEY = 255
MAX_SUMMARY = 1024


@dataclass(frozen=True)
class NormalisedAlert:
    """One alert as every receiver sees it; ``event`` is firing, resolved or acknowledged."""

    dedup_key: str
    event: str
    severity: str
    summary: str
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    link: str = ""
    # The sender's own group (Alertmanager's groupKey), used when no group_by is configured.
    sender_group: str = ""


def _fail(name: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {problem}", field=name)


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, "must be a JSON object")
    return value


def _refuse_unknown(body: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in body:
        if key not in known:
            raise _fail(f"{prefix}{key}", "unknown field")


def _text(body: Mapping[str, Any], key: str, name: str, *, required: bool, limit: int) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise _fail(name, "is required")
        return ""
    if not isinstance(value, str):
        raise _fail(name, "must be a string")
    if required and not value.strip():
        raise _fail(name, "must not be empty")
    if len(value) > limit:
        raise _fail(name, f"must be at most {limit} characters")
    return value


def _labels(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    labels = _object(value, name)
    for key, item in labels.items():
        if not isinstance(item, str):
            raise _fail(f"{name}.{key}", "must be a string")
    return labels


def severity_of(value: str) -> str:
    """A sender's severity word in our four; unknown words count as warning."""
    word = value.strip().lower()
    return _SEVERITY_WORDS.get(word, "warning")


_SEVERITY_WORDS = {
    "critical": "critical",
    "page": "critical",
    "urgent": "critical",
    "disaster": "critical",
    "fatal": "critical",
    "error": "error",
    "high": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "average": "warning",
    "minor": "warning",
    "info": "info",
    "information": "info",
    "informational": "info",
    "low": "info",
    "none": "info",
}

# Alertmanager's webhook (v4) and Grafana's (version "1", a few more fields) in one parser.
_WEBHOOK_KEYS = frozenset(
    {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
        "orgId",
        "title",
        "state",
        "message",
    }
)
_WEBHOOK_ALERT_KEYS = frozenset(
    {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
        "values",
        "valueString",
        "silenceURL",
        "dashboardURL",
        "panelURL",
        "imageURL",
    }
)


def _alerts_list(body: Mapping[str, Any]) -> list[Any]:
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise _fail("alerts", "is required and must be a list")
    if len(alerts) > MAX_ALERTS_PER_POST:
        raise _fail("alerts", f"at most {MAX_ALERTS_PER_POST} alerts per request")
    return alerts


def parse_webhook(raw: Any) -> list[NormalisedAlert]:
    """Alertmanager webhook v4 or Grafana alerting webhook."""
    body = _object(raw, "body")
    _refuse_unknown(body, _WEBHOOK_KEYS, "")
    group_key = body.get("groupKey", "")
    if not isinstance(group_key, str):
        raise _fail("groupKey", "must be a string")
    common = _labels(body.get("commonLabels"), "commonLabels")
    found: list[NormalisedAlert] = []
    for index, item in enumerate(_alerts_list(body)):
        where = f"alerts[{index}]"
        alert = _object(item, where)
        _refuse_unknown(alert, _WEBHOOK_ALERT_KEYS, f"{where}.")
        status = alert.get("status", body.get("status"))
        if status not in (FIRING, RESOLVED):
            raise _fail(f"{where}.status", "must be firing or resolved")
        labels = _labels(alert.get("labels"), f"{where}.labels")
        if not labels:
            raise _fail(f"{where}.labels", "must have at least one label")
        annotations = alert.get("annotations") or {}
        _object(annotations, f"{where}.annotations")
        fingerprint = _text(alert, "fingerprint", f"{where}.fingerprint", required=False, limit=64)
        summary = str(
            annotations.get("summary")
            or annotations.get("description")
            or labels.get("alertname")
            or common.get("alertname")
            or "alert"
        )
        found.append(
            NormalisedAlert(
                dedup_key=fingerprint or label_fingerprint(labels),
                event=status,
                severity=severity_of(labels.get("severity", "")),
                summary=summary[:MAX_SUMMARY],
                source=labels.get("instance", labels.get("job", "")),
                labels=labels,
                annotations=annotations,
                link=_text(
                    alert, "generatorURL", f"{where}.generatorURL", required=False, limit=4096
                ),
                sender_group=group_key,
            )
        )
    return found


# PagerDuty Events API v2.
_PD_KEYS = frozenset(
    {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    }
)
_PD_PAYLOAD_KEYS = frozenset(
    {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
)
PD_ACTIONS = {"trigger": FIRING, "acknowledge": ACKNOWLEDGED, "resolve": RESOLVED}


def parse_pagerduty(raw: Any) -> tuple[str, NormalisedAlert]:
    """A PagerDuty v2 event → (routing key, alert); a trigger without dedup_key gets one."""
    body = _object(raw, "body")
    _refuse_unknown(body, _PD_KEYS, "")
    routing_key = _text(body, "routing_key", "routing_key", required=True, limit=64)
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        raise _fail("event_action", "must be trigger, acknowledge or resolve")
    dedup_key = _text(body, "dedup_key", "dedup_key", required=False, limit=MAX_KEY)
    if action != "trigger":
        if not dedup_key:
            raise _fail("dedup_key", f"is required for {action}")
        return routing_key, NormalisedAlert(
            dedup_key=dedup_key, event=PD_ACTIONS[action], severity="info", summary=""
        )
    if "payload" not in body:
        raise _fail("payload", "is required for trigger")
    payload = _object(body["payload"], "payload")
    _refuse_unknown(payload, _PD_PAYLOAD_KEYS, "payload.")
    summary = _text(payload, "summary", "payload.summary", required=True, limit=MAX_SUMMARY)
    source = _text(payload, "source", "payload.source", required=True, limit=MAX_KEY)
    severity = payload.get("severity")
    if severity not in SEVERITIES:
        raise _fail("payload.severity", "must be critical, error, warning or info")
    details = payload.get("custom_details") or {}
    if not isinstance(details, dict):
        details = {"details": details}
    labels = {
        name: payload[name]
        for name in ("component", "group", "class")
        if isinstance(payload.get(name), str)
    }
    labels["severity"] = severity
    labels["source"] = source
    link = ""
    links = body.get("links")
    if isinstance(links, list) and links and isinstance(links[0], dict):
        link = str(links[0].get("href", ""))
    return routing_key, NormalisedAlert(
        dedup_key=dedup_key or uuid.uuid4().hex,
        event=FIRING,
        severity=severity,
        summary=summary,
        source=source,
        labels=labels,
        annotations=details,
        link=link or str(body.get("client_url") or ""),
    )


# The generic webhook: one alert object, or {"alerts": [...]} of them.
_GENERIC_KEYS = frozenset(
    {"dedup_key", "status", "severity", "summary", "source", "labels", "details", "link", "group"}
)


def parse_generic(raw: Any) -> list[NormalisedAlert]:
    body = _object(raw, "body")
    if "alerts" in body:
        _refuse_unknown(body, frozenset({"alerts"}), "")
        items, prefix = _alerts_list(body), "alerts"
    else:
        items, prefix = [body], ""
    found = []
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]." if prefix else ""
        alert = _object(item, where.rstrip(".") or "body")
        _refuse_unknown(alert, _GENERIC_KEYS, where)
        summary = _text(alert, "summary", f"{where}summary", required=True, limit=MAX_SUMMARY)
        status = alert.get("status", FIRING)
        if status not in (FIRING, RESOLVED):
            raise _fail(f"{where}status", "must be firing or resolved")
        severity = alert.get("severity", "warning")
        if severity not in SEVERITIES:
            raise _fail(f"{where}severity", "must be critical, error, warning or info")
        labels = _labels(alert.get("labels"), f"{where}labels")
        details = alert.get("details") or {}
        _object(details, f"{where}details")
        source = _text(alert, "source", f"{where}source", required=False, limit=MAX_KEY)
        dedup_key = _text(alert, "dedup_key", f"{where}dedup_key", required=False, limit=MAX_KEY)
        found.append(
            NormalisedAlert(
                dedup_key=dedup_key or label_fingerprint({**labels, "summary": summary}),
                event=status,
                severity=severity,
                summary=summary,
                source=source,
                labels={**labels, "severity": severity},
                annotations=details,
                link=_text(alert, "link", f"{where}link", required=False, limit=4096),
                sender_group=_text(alert, "group", f"{where}group", required=False, limit=MAX_KEY),
            )
        )
    return found


# COC's custom monitoring event (ReportCustomEvent); camelCase, * = required.
_COC_REQUIRED = (
    "alarmId",
    "alarmName",
    "alarmLevel",
    "time",
    "nameSpace",
    "alarmDesc",
    "alarmSource",
)
_COC_KEYS = frozenset(
    {
        *_COC_REQUIRED,
        "regionId",
        "applicationId",
        "resourceName",
        "resourceId",
        "URL",
        "alarmStatus",
        "additional",
    }
)
_COC_LEVELS = {"Critical": "critical", "Major": "error", "Minor": "warning", "Info": "info"}


def parse_coc_event(raw: Any) -> NormalisedAlert:
    """COC's custom event; every missing required field is named, COC-style, at once."""
    body = _object(raw, "body")
    missing = [name for name in _COC_REQUIRED if body.get(name) in (None, "")]
    if missing:
        message = " | ".join(f"{name} must not be null" for name in missing)
        raise ValidationFailed(message, field=missing[0])
    _refuse_unknown(body, _COC_KEYS, "")
    level = body["alarmLevel"]
    if level not in _COC_LEVELS:
        raise _fail("alarmLevel", "must be Critical, Major, Minor or Info")
    status = body.get("alarmStatus", "alarm")
    if status not in ("alarm", "ok"):
        raise _fail("alarmStatus", "must be alarm or ok")
    if not isinstance(body["time"], int) or isinstance(body["time"], bool):
        raise _fail("time", "must be epoch milliseconds")
    additional = body.get("additional") or {}
    _object(additional, "additional")
    labels = {
        name: str(body[name])
        for name in (
            "alarmName",
            "nameSpace",
            "regionId",
            "applicationId",
            "resourceName",
            "resourceId",
        )
        if body.get(name) not in (None, "")
    }
    labels["severity"] = _COC_LEVELS[level]
    return NormalisedAlert(
        dedup_key=_text(body, "alarmId", "alarmId", required=True, limit=MAX_KEY),
        event=FIRING if status == "alarm" else RESOLVED,
        severity=_COC_LEVELS[level],
        summary=_text(body, "alarmDesc", "alarmDesc", required=True, limit=MAX_SUMMARY),
        source=_text(body, "alarmSource", "alarmSource", required=True, limit=MAX_KEY),
        labels=labels,
        annotations=additional,
        link=str(body.get("URL") or ""),
    )
