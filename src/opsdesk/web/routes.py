"""Server-rendered pages: sign-in, the incident list, the create form and the incident detail.

Routes only translate between HTML forms and services: every rule lives in the services.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.templating import Jinja2Templates

from opsdesk import __version__
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.sessions import SESSION_USER_KEY
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.incidents import service as incident_service
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    LEVEL_LABELS,
    OWNERSHIP_LABELS,
    SCALE_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    TITLE_MAX,
    Channel,
    Label,
    OwnerType,
    Status,
    history_action_label,
)
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.queries import parse_list_params
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.incidents.service import IncidentRules

router = APIRouter(include_in_schema=False)


SESSION_CSRF_KEY = "csrf_token"
SESSION_FLASH_KEY = "flash"
CSRF_FIELD = "csrf_token"

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    # Pages show what one signed-in user may see: never keep them in a shared cache.
    "Cache-Control": "no-store",
}

ROLE_LABELS: dict[Role, str] = {
    Role.END_USER: "End user",
    Role.TECHNICIAN: "Technician",
    Role.INCIDENT_MANAGER: "Incident manager",
    Role.ADMIN: "Administrator",
}
STATUS_CLASSES: dict[str, str] = {
    Status.DRAFT: "draft",
    Status.TRIGGERED: "new",
    Status.ACKNOWLEDGED: "progress",
    Status.REJECTED: "rejected",
    Status.RESOLVED: "resolved",
    Status.COMPLETED: "closed",
}
OWNER_TYPE_LABELS: dict[str, str] = {OwnerType.INDIVIDUAL: "Individual", OwnerType.SHIFT: "Shift"}
FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "description": "Description",
    "level": "Level",
    "impact": "Impact",
    "urgency": "Urgency",
    "ownership": "Ownership",
    "category": "Category",
    "region": "Region",
    "enterprise_project": "Enterprise project",
    "application": "Application",
    "fault_occurred_at": "Fault occurred at",
    "service_interrupted": "Service interrupted",
    "owner_type": "Owner type",
    "assignee_id": "Assignee",
    "assignee_scene": "Shift scene",
    "assignee_role": "Shift role",
    "source": "Source",
    "channel": "Channel",
    "reporter_id": "Reporter",
    "status": "Status",
}
CATALOG_FIELDS: dict[str, Kind] = {
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}
USER_FIELDS = frozenset({"assignee_id", "reporter_id"})
LIST_FILTERS = ("q", "level", "status")
SORT_COLUMNS = ("number", "title", "level", "status", "category", "application", "created_at")
NEW_FORM_FIELDS = (
    "title",
    "description",
    "level",
    "impact",
    "urgency",
    "category",
    "application",
    "region",
    "fault_occurred_at",
)
EMPTY = "—"


def _format_time(value: datetime | None) -> str:
    if value is None:
        return EMPTY
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _format_time
    return env


templates = Jinja2Templates(env=_environment())


# --- plumbing: the unit of work, the caller, CSRF, rendering ---------------------------


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def _rules(request: Request) -> IncidentRules:
    rules: IncidentRules = request.app.state.incident_rules
    return rules


async def _caller(request: Request, session: AsyncSession) -> Caller | None:
    user_id = request.session.get(SESSION_USER_KEY)
    if not isinstance(user_id, str):
        return None
    return await auth_service.caller_by_id(session=session, user_id=user_id)


async def _signed_in(request: Request) -> Caller | None:
    async with _db(request).read() as session:
        return await _caller(request, session)


def _csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF_KEY] = token
    return token


def _csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get(SESSION_CSRF_KEY)
    given = form.get(CSRF_FIELD)
    if not isinstance(expected, str) or not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _safe_next(target: str | None) -> str:
    """A local path to return to after sign-in; anything else becomes the incident list."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return "/incidents"


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def _redirect(url: str) -> Response:
    return _secure(RedirectResponse(url, status_code=303))


def _to_login(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return _redirect("/login?" + urlencode({"next": target}))


def _render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    caller: Caller | None,
    status_code: int = 200,
) -> Response:
    flash = request.session.pop(SESSION_FLASH_KEY, None) if caller is not None else None
    context = {
        "caller": caller,
        "role_label": ROLE_LABELS[caller.role] if caller is not None else "",
        "csrf_token": _csrf_token(request),
        "flash": flash if isinstance(flash, str) else None,
        "version": __version__,
        "request_path": request.url.path,
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return _secure(response)


def _error_page(
    request: Request, *, caller: Caller | None, status_code: int, title: str, message: str
) -> Response:
    return _render(
        request,
        "error.html",
        {"title": title, "message": message, "status_code": status_code},
        caller=caller,
        status_code=status_code,
    )


def _csrf_failed(request: Request, caller: Caller | None) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title="Form expired",
        message="This form has expired or did not come from opsdesk. Go back, reload the page "
        "and try again.",
    )


# --- display values: labels, catalog names and user names --------------------------------


def _label(labels: Mapping[Any, Label], key: str | None) -> str:
    if key is None or key == "":
        return EMPTY
    label = labels.get(key)
    return label.en if label is not None else key


def _level_label(level: str) -> str:
    return _label(LEVEL_LABELS, level)


def _level_class(level: str) -> str:
    label = LEVEL_LABELS.get(level)
    return label.en.lower() if label is not None else "unknown"


def _status_label(status: str) -> str:
    return _label(STATUS_LABELS, status)


async def _catalog_names(
    session: AsyncSession, kinds: Iterable[Kind]
) -> dict[Kind, dict[str, str]]:
    names: dict[Kind, dict[str, str]] = {}
    for kind in kinds:
        items = await catalog_service.list_items(session=session, kind=kind)
        names[kind] = {item.key: item.name_en for item in items}
    return names


async def _user_names(session: AsyncSession, user_ids: Iterable[str | None]) -> dict[str, str]:
    names: dict[str, str] = {}
    for user_id in {uid for uid in user_ids if uid}:
        try:
            user = await auth_service.get_user(session=session, user_id=user_id)
        except NotFound:
            names[user_id] = user_id
        else:
            names[user_id] = user.name
    return names


def _owner(incident: Incident, users: Mapping[str, str]) -> str:
    if incident.owner_type == OwnerType.SHIFT:
        return f"Shift: {incident.assignee_scene or EMPTY} / {incident.assignee_role or EMPTY}"
    if incident.assignee_id:
        return users.get(incident.assignee_id, incident.assignee_id)
    return "Unassigned"


def _name(names: Mapping[str, str], key: str | None) -> str:
    if key is None or key == "":
        return EMPTY
    return names.get(key, key)


# --- the pages -----------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    caller = await _signed_in(request)
    return _redirect("/incidents" if caller is not None else "/login")


@router.get("/login")
async def login_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    caller = await _signed_in(request)
    if caller is not None:
        return _redirect(_safe_next(next_path))
    return _render(
        request,
        "login.html",
        {"email": "", "error": None, "next": _safe_next(next_path)},
        caller=None,
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    email, password = _text(form, "email"), _text(form, "password")
    target = _safe_next(_text(form, "next"))
    if not _csrf_ok(request, form):
        return _csrf_failed(request, None)
    try:
        async with _db(request).read() as session:
            caller = await auth_service.authenticate_password(
                session=session, email=email, password=password
            )
    except ValidationFailed:
        return _render(
            request,
            "login.html",
            {"email": email, "error": "Wrong email or password.", "next": target},
            caller=None,
            status_code=401,
        )
    request.session.clear()
    request.session[SESSION_USER_KEY] = caller.user_id
    request.session[SESSION_CSRF_KEY] = secrets.token_urlsafe(32)
    return _redirect(target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    if SESSION_USER_KEY in request.session and not _csrf_ok(request, form):
        return _csrf_failed(request, await _signed_in(request))
    request.session.clear()
    return _redirect("/login")


@dataclass(frozen=True)
class IncidentRow:
    number: str
    title: str
    level_label: str
    level_class: str
    status_label: str
    status_class: str
    category: str
    application: str
    assignee: str
    created_at: datetime


@dataclass(frozen=True)
class SortLink:
    url: str
    direction: str  # "ascending", "descending" or "none", as aria-sort wants it


def _list_url(pairs: Iterable[tuple[str, str]]) -> str:
    query = urlencode(list(pairs))
    return "/incidents" + (f"?{query}" if query else "")


def _with(pairs: list[tuple[str, str]], **changes: str | None) -> str:
    kept = [(key, value) for key, value in pairs if key not in changes]
    kept += [(key, value) for key, value in changes.items() if value is not None]
    return _list_url(kept)


def _sort_links(pairs: list[tuple[str, str]]) -> dict[str, SortLink]:
    sorts = [value for key, value in pairs if key == "sort"]
    current = sorts[-1].split(",")[0].strip() if sorts else "-created_at"
    links = {}
    for column in SORT_COLUMNS:
        if current == column:
            links[column] = SortLink(_with(pairs, sort=f"-{column}", page=None), "ascending")
        elif current == f"-{column}":
            links[column] = SortLink(_with(pairs, sort=column, page=None), "descending")
        else:
            first = f"-{column}" if column == "created_at" else column
            links[column] = SortLink(_with(pairs, sort=first, page=None), "none")
    return links


@router.get("/incidents")
async def incident_list(request: Request) -> Response:
    # An empty form field means "no filter", not "match the empty value".
    pairs = [(key, value) for key, value in request.query_params.multi_items() if value.strip()]
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    rows: list[IncidentRow] = []
    total, page, per_page = 0, 1, 20
    error: str | None = None
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        try:
            spec = parse_list_params(params)
        except ValidationFailed as exc:
            error = exc.message
        else:
            result = await incident_service.list_incidents(
                session=session, caller=caller, spec=spec
            )
            total, page, per_page = result.total, result.page, result.per_page
            names = await _catalog_names(session, (Kind.CATEGORY, Kind.APPLICATION))
            users = await _user_names(session, (item.assignee_id for item in result.items))
            rows = [
                IncidentRow(
                    number=item.number,
                    title=item.title,
                    level_label=_level_label(item.level),
                    level_class=_level_class(item.level),
                    status_label=_status_label(item.status),
                    status_class=STATUS_CLASSES.get(item.status, "unknown"),
                    category=_name(names[Kind.CATEGORY], item.category),
                    application=_name(names[Kind.APPLICATION], item.application),
                    assignee=_owner(item, users),
                    created_at=item.created_at,
                )
                for item in result.items
            ]
    pages = max(1, math.ceil(total / per_page))
    filters = {name: (params.get(name) or [""])[-1] for name in LIST_FILTERS}
    hidden = [(key, value) for key, value in pairs if key not in (*LIST_FILTERS, "page")]
    return _render(
        request,
        "incidents.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "first_shown": (page - 1) * per_page + 1 if rows else 0,
            "last_shown": (page - 1) * per_page + len(rows),
            "prev_url": _with(pairs, page=str(page - 1)) if page > 1 else None,
            "next_url": _with(pairs, page=str(page + 1)) if page < pages else None,
            "error": error,
            "filters": filters,
            "filtered": any(filters.values()),
            "hidden": hidden,
            "sort_links": _sort_links(pairs),
            "level_options": [label.en for label in LEVEL_LABELS.values()],
            "status_options": [(status.value, label.en) for status, label in STATUS_LABELS.items()],
        },
        caller=caller,
        status_code=422 if error else 200,
    )


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass
class FormState:
    """What the create form shows: the entered values and the errors by field."""

    values: dict[str, str] = field(default_factory=lambda: dict.fromkeys(NEW_FORM_FIELDS, ""))
    service_interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    error_fields: set[str] = field(default_factory=set)


async def _form_options(session: AsyncSession) -> dict[str, list[Option]]:
    options: dict[str, list[Option]] = {}
    for name, kind in (
        ("category", Kind.CATEGORY),
        ("application", Kind.APPLICATION),
        ("region", Kind.REGION),
    ):
        items = await catalog_service.list_items(session=session, kind=kind, include_disabled=False)
        options[name] = [Option(item.key, item.name_en) for item in items]
    levels = await catalog_service.list_items(
        session=session, kind=Kind.LEVEL, include_disabled=False
    )
    options["level"] = [
        Option(item.key, f"{_level_label(item.key)} · {item.description}".rstrip(" ·"))
        for item in levels
    ]
    options["scale"] = [Option(str(value), label.en) for value, label in SCALE_LABELS.items()]
    return options


async def _render_new(
    request: Request, caller: Caller, state: FormState, *, status_code: int = 200
) -> Response:
    async with _db(request).read() as session:
        options = await _form_options(session)
    return _render(
        request,
        "incident_new.html",
        {"form": state, "options": options, "title_max": TITLE_MAX},
        caller=caller,
        status_code=status_code,
    )


def _fault_time(raw: str) -> datetime | None:
    """A ``datetime-local`` value, which carries no zone, read as UTC."""
    if not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            "fault_occurred_at: enter a date and time, e.g. 2024-05-01T09:30",
            field="fault_occurred_at",
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _create_input(state: FormState) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": state.values["title"],
        "description": state.values["description"],
        "service_interrupted": state.service_interrupted,
    }
    for name in ("level", "impact", "urgency", "category", "application", "region"):
        if state.values[name].strip():
            data[name] = state.values[name].strip()
    fault = _fault_time(state.values["fault_occurred_at"])
    if fault is not None:
        data["fault_occurred_at"] = fault
    return data


def _pydantic_errors(exc: ValidationError) -> tuple[list[str], set[str]]:
    messages, fields = [], set()
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "form"
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        messages.append(f"{name}: {message}")
        fields.add(name)
    return messages, fields


@router.get("/incidents/new")
async def new_incident_page(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _render_new(request, caller, FormState())


@router.post("/incidents/new")
async def new_incident(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    state = FormState(
        values={name: _text(form, name).replace("\r\n", "\n") for name in NEW_FORM_FIELDS},
        service_interrupted=_text(form, "service_interrupted") in ("yes", "on", "true"),
    )
    try:
        data = IncidentCreate(**_create_input(state))
        async with _db(request).write() as session:
            incident = await incident_service.create_incident(
                session=session,
                caller=caller,
                data=data,
                now=_clock(request).now(),
                rules=_rules(request),
                # the service records end users' reports as self-service
                default_channel=Channel.TECHNICIAN_PORTAL,
            )
    except ValidationError as exc:
        state.errors, state.error_fields = _pydantic_errors(exc)
        return await _render_new(request, caller, state, status_code=422)
    except OpsdeskError as exc:
        state.errors = [exc.message]
        state.error_fields = {exc.field} if exc.field else set()
        return await _render_new(request, caller, state, status_code=422)
    request.session[SESSION_FLASH_KEY] = f"Incident {incident.number} created."
    return _redirect(f"/incidents/{incident.number}")


@dataclass(frozen=True)
class ChangeView:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryView:
    time: datetime
    operator: str
    action: str
    status_label: str
    status_class: str
    comment: str
    changes: list[ChangeView]


class _Names:
    """Turns stored keys into what a person reads, for fields and history values."""

    def __init__(self, catalog: Mapping[Kind, Mapping[str, str]], users: Mapping[str, str]) -> None:
        self.catalog = catalog
        self.users = users

    def value(self, name: str, raw: Any) -> str:
        if raw is None or raw == "":
            return EMPTY
        if isinstance(raw, bool):
            return "Yes" if raw else "No"
        text = str(raw)
        if name in CATALOG_FIELDS:
            return _name(self.catalog[CATALOG_FIELDS[name]], text)
        if name in USER_FIELDS:
            return _name(self.users, text)
        if name == "level":
            return _level_label(text)
        if name == "status":
            return _status_label(text)
        if name in ("impact", "urgency") and isinstance(raw, int):
            label = SCALE_LABELS.get(raw)
            return label.en if label is not None else text
        if name == "fault_occurred_at":
            try:
                return _format_time(datetime.fromisoformat(text))
            except ValueError:
                return text
        labels: dict[str, Mapping[Any, Label]] = {
            "ownership": OWNERSHIP_LABELS,
            "source": SOURCE_LABELS,
            "channel": CHANNEL_LABELS,
        }
        if name in labels:
            return _label(labels[name], text)
        if name == "owner_type":
            return OWNER_TYPE_LABELS.get(text, text)
        return text


def _history_view(row: IncidentHistory, names: _Names) -> HistoryView:
    return HistoryView(
        time=row.start_time,
        operator=_name(names.users, row.operator_id) if row.operator_id else "System",
        action=history_action_label(row.action).en,
        status_label=_status_label(row.status),
        status_class=STATUS_CLASSES.get(row.status, "unknown"),
        comment=row.comment,
        changes=[
            ChangeView(
                field=FIELD_LABELS.get(str(change.get("field")), str(change.get("field"))),
                old=names.value(str(change.get("field")), change.get("old")),
                new=names.value(str(change.get("field")), change.get("new")),
            )
            for change in row.changes
        ],
    )


def _detail_fields(incident: Incident, names: _Names) -> list[tuple[str, str]]:
    return [
        ("Impact", names.value("impact", incident.impact)),
        ("Urgency", names.value("urgency", incident.urgency)),
        ("Category", names.value("category", incident.category)),
        ("Application", names.value("application", incident.application)),
        ("Region", names.value("region", incident.region)),
        ("Enterprise project", names.value("enterprise_project", incident.enterprise_project)),
        ("Ownership", names.value("ownership", incident.ownership)),
        ("Fault occurred at", _format_time(incident.fault_occurred_at)),
        ("Service interrupted", "Yes" if incident.service_interrupted else "No"),
        ("Assignee", _owner(incident, names.users)),
        ("Source", names.value("source", incident.source)),
        ("Channel", names.value("channel", incident.channel)),
        ("Reporter", _name(names.users, incident.reporter_id)),
        ("Created by", _name(names.users, incident.creator_id)),
        ("Created", _format_time(incident.created_at)),
        ("Updated", _format_time(incident.updated_at)),
        ("Version", str(incident.version)),
    ]


@router.get("/incidents/{number}")
async def incident_detail(request: Request, number: str) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        try:
            incident = await incident_service.access_incident(
                session=session, caller=caller, number=number
            )
            history = await incident_service.list_history(
                session=session, caller=caller, number=number
            )
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Incident not found",
                message=f"There is no incident {number}, or you may not see it.",
            )
        user_ids: list[str | None] = [
            incident.creator_id,
            incident.reporter_id,
            incident.assignee_id,
        ]
        for row in history:
            user_ids.append(row.operator_id)
            for change in row.changes:
                if change.get("field") in USER_FIELDS:
                    user_ids += [change.get("old"), change.get("new")]
        names = _Names(
            await _catalog_names(session, CATALOG_FIELDS.values()),
            await _user_names(session, user_ids),
        )
    return _render(
        request,
        "incident_detail.html",
        {
            "incident": incident,
            "level_label": _level_label(incident.level),
            "level_class": _level_class(incident.level),
            "status_label": _status_label(incident.status),
            "status_class": STATUS_CLASSES.get(incident.status, "unknown"),
            "fields": _detail_fields(incident, names),
            "history": [_history_view(row, names) for row in reversed(history)],
        },
        caller=caller,
    )
