"""Server-rendered pages: sign-in, the incident list and the create form.

Routes only translate between HTML forms and services: every rule lives in the services.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import signin
from opsdesk.auth.events import EventKind, record_event
from opsdesk.auth.roles import Caller
from opsdesk.auth.sessions import SESSION_ID_KEY, end_session, session_policy_of, start_session
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import OpsdeskError, TooManyAttempts, ValidationFailed
from opsdesk.incidents import access, creation
from opsdesk.incidents.fields import (
    LEVEL_LABELS,
    SCALE_LABELS,
    STATUS_LABELS,
    TITLE_MAX,
    Channel,
)
from opsdesk.incidents.queries import parse_list_params
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.sla import display as sla_display
from opsdesk.sla import queries as sla_queries
from opsdesk.web.common import (
    LIST_FILTERS,
    NEW_FORM_FIELDS,
    SESSION_CSRF_KEY,
    SESSION_FLASH_KEY,
    SORT_COLUMNS,
    STATUS_CLASSES,
    _caller,
    _catalog_names,
    _client,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _fault_time,
    _level_class,
    _level_label,
    _name,
    _owner,
    _pydantic_errors,
    _redirect,
    _render,
    _rules,
    _safe_next,
    _signed_in,
    _size,
    _status_label,
    _store_uploads,
    _text,
    _to_login,
    _uploads,
    _user_names,
)

router = APIRouter(include_in_schema=False)


# --- the pages -----------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _redirect("/login")
    # Staff start their day in "My work"; end users in the incidents they reported.
    return _redirect("/my-work" if caller.is_staff else "/incidents")


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
    settings = request.app.state.settings
    client = _client(request)
    now = _clock(request).now()
    try:
        caller = await signin.check_password(
            db=_db(request),
            email=email,
            password=password,
            client=client,
            rules=signin.throttle_rules_of(settings),
            now=now,
            purpose="web sign-in",
        )
    except TooManyAttempts as exc:
        refused = _render(
            request,
            "login.html",
            {
                "email": email,
                "error": f"Too many failed sign-ins. Try again in {exc.retry_after_s} seconds.",
                "next": target,
            },
            caller=None,
            status_code=429,
        )
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    except ValidationFailed:
        return _render(
            request,
            "login.html",
            {"email": email, "error": "Wrong email or password.", "next": target},
            caller=None,
            status_code=401,
        )
    previous = request.session.get(SESSION_ID_KEY)
    async with _db(request).write() as session:
        if isinstance(previous, str) and previous:
            # Signing in again in the same browser: the old session id must die with it.
            await end_session(session=session, secret=previous, now=now)
        _row, secret = await start_session(
            session=session,
            user_id=caller.user_id,
            now=now,
            policy=session_policy_of(settings),
            client_address=client.address,
            user_agent=client.user_agent,
        )
        await record_event(
            session=session,
            kind=EventKind.SIGN_IN,
            email=email,
            user_id=caller.user_id,
            client=client,
            now=now,
            reason="web sign-in",
        )
    # A new session id at every sign-in: a cookie planted before sign-in is worth nothing.
    request.session.clear()
    request.session[SESSION_ID_KEY] = secret
    request.session[SESSION_CSRF_KEY] = secrets.token_urlsafe(32)
    return _redirect(target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    secret = request.session.get(SESSION_ID_KEY)
    if isinstance(secret, str) and secret:
        caller = await _signed_in(request)
        if not _csrf_ok(request, form):
            return _csrf_failed(request, caller)
        async with _db(request).write() as session:
            user_id = await end_session(session=session, secret=secret, now=_clock(request).now())
            if user_id is not None and caller is not None:
                await record_event(
                    session=session,
                    kind=EventKind.SIGN_OUT,
                    email=caller.email,
                    user_id=user_id,
                    client=_client(request),
                    now=_clock(request).now(),
                    reason="web sign-out",
                )
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
    sla_due: datetime | None = None
    sla_breached: bool = False


# The list's SLA choice, as the SLA list parameters it stands for.
SLA_CHOICES = {"due_1h": "Breaching within an hour", "breached": "Breached"}


def _sla_params(choice: str, now: datetime) -> dict[str, list[str]]:
    if choice == "due_1h":
        return {"sla_due_before": [(now + timedelta(hours=1)).isoformat()]}
    if choice == "breached":
        return {"sla_breached": ["true"]}
    raise ValidationFailed(f"sla: choose one of {', '.join(SLA_CHOICES)}", field="sla")


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
            native = {key: values for key, values in params.items() if key != "sla"}
            for choice in params.get("sla", []):
                native.update(_sla_params(choice, _clock(request).now()))
            native, sla_params = sla_queries.take_list_params(native)
            spec = sla_queries.narrow(parse_list_params(native), sla_params)
        except ValidationFailed as exc:
            error = exc.message
        else:
            result = await access.list_incidents(session=session, caller=caller, spec=spec)
            total, page, per_page = result.total, result.page, result.per_page
            names = await _catalog_names(session, (Kind.CATEGORY, Kind.APPLICATION))
            users = await _user_names(session, (item.assignee_id for item in result.items))
            clocks = await sla_display.stored_clocks(session, [item.id for item in result.items])
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
                    sla_due=min(
                        (c.due_at for c in clocks[item.id] if c.state == "running" and c.due_at),
                        default=None,
                    ),
                    sla_breached=any(c.breached for c in clocks[item.id]),
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
            "sla_options": list(SLA_CHOICES.items()),
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
        {
            "form": state,
            "options": options,
            "title_max": TITLE_MAX,
            "attachment_max": _size(_rules(request).attachment_max_bytes),
            "attachment_count": _rules(request).attachment_max_count,
        },
        caller=caller,
        status_code=status_code,
    )


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
    form = await request.form(max_files=_rules(request).attachment_max_count)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    state = FormState(
        values={name: _text(form, name).replace("\r\n", "\n") for name in NEW_FORM_FIELDS},
        service_interrupted=_text(form, "service_interrupted") in ("yes", "on", "true"),
    )
    try:
        data = IncidentCreate(**_create_input(state))
        async with _db(request).write() as session:
            incident = await creation.create_incident(
                session=session,
                caller=caller,
                data=data,
                now=_clock(request).now(),
                rules=_rules(request),
                # the service records end users' reports as self-service
                default_channel=Channel.TECHNICIAN_PORTAL,
            )
            # In the same transaction: a refused file leaves no incident behind either.
            await _store_uploads(
                request,
                session,
                caller,
                incident.number,
                _uploads(form, "files"),
                internal=False,
                context="incident",
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
