"""What every page shares: the unit of work, the caller, CSRF, rendering and display names."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, get_args
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.templating import Jinja2Templates

from opsdesk import __version__
from opsdesk.auth import service as auth_service
from opsdesk.auth.events import Client
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.sessions import caller_from_cookie, session_policy_of
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.incidents import attachments
from opsdesk.incidents.attachments import attachments_dir
from opsdesk.incidents.fields import (
    LEVEL_LABELS,
    STATUS_LABELS,
    Label,
    OwnerType,
    Status,
)
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules

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
    "workgroup": "Workgroup",
    "assignment_rule_id": "Assignment rule",
    "assignment_note": "Assigned because",
    "source": "Source",
    "channel": "Channel",
    "reporter_id": "Reporter",
    "status": "Status",
    "sub_status": "Pending",
    "pause_reason": "Pause reason",
    "pause_until": "Paused until",
    "requested_level": "Requested level",
    "reopen_count": "Times reopened",
    "cause": "Cause",
    "solution": "Solution",
    "fault_recovery_at": "Service recovered at",
    "major": "Major incident",
    # Merge and split history rows (relations/merging.py).
    "merged_into": "Merged into",
    "merged": "Merged here",
    "split_to": "Split off into",
    "split_from": "Split from",
}
CATALOG_FIELDS: dict[str, Kind] = {
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}
USER_FIELDS = frozenset({"assignee_id", "reporter_id"})
LIST_FILTERS = ("q", "level", "status", "sla")
SORT_COLUMNS = (
    "number",
    "title",
    "level",
    "status",
    "category",
    "application",
    "created_at",
    "sla_due_at",
)
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
StoredT = TypeVar("StoredT", covariant=True)

FlashKind = Literal["success", "info", "warning", "error"]
FLASH_KINDS: tuple[FlashKind, ...] = get_args(FlashKind)
# Read out before the message (the icon shows it), so the kind is not told by colour alone
# (WCAG 1.4.1). A success, the usual case, is told by its message ("Rotation saved.") alone.
FLASH_LABELS: dict[FlashKind, str] = {
    "success": "",
    "info": "Note",
    "warning": "Warning",
    "error": "Error",
}


@dataclass(frozen=True)
class Flash:
    """The one-time message shown at the top of the next page (templates/base.html)."""

    message: str
    kind: FlashKind = "success"

    @property
    def role(self) -> str:
        # A warning or a refusal interrupts; a plain confirmation waits its turn.
        return "alert" if self.kind in ("warning", "error") else "status"

    @property
    def label(self) -> str:
        return FLASH_LABELS[self.kind]


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
    return await caller_from_cookie(
        session=session,
        cookie=request.session,
        scope=request.scope,
        now=_clock(request).now(),
        policy=session_policy_of(request.app.state.settings),
    )


def _client(request: Request) -> Client:
    address = request.client.host if request.client is not None else "unknown"
    return Client(address=address, user_agent=request.headers.get("user-agent", ""))


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
    """A local path to return to after sign-in; anything else becomes the home page."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return "/"


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
    flash = _flash_of(request.session.pop(SESSION_FLASH_KEY, None)) if caller is not None else None
    context = {
        "caller": caller,
        "role_label": ROLE_LABELS[caller.role] if caller is not None else "",
        "csrf_token": _csrf_token(request),
        "flash": flash,
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


async def _posted(request: Request) -> tuple[Caller, FormData] | Response:
    """The signed-in caller and the form they posted, or the response to send instead: the
    sign-in page, or 403 when the form lacks this session's CSRF token."""
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    # No form takes more files than one upload may carry; refuse more before spooling them.
    form = await request.form(max_files=_rules(request).attachment_max_count)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    return caller, form


def _flash(request: Request, message: str, *, kind: FlashKind = "success") -> None:
    """Keep ``message`` for the next page this session renders, shown once."""
    request.session[SESSION_FLASH_KEY] = {"message": message, "kind": kind}


def _flash_of(stored: object) -> Flash | None:
    """The kept message; a bare string (as kept before kinds existed) is a success."""
    if isinstance(stored, str):
        return Flash(stored)
    if isinstance(stored, dict):
        message, kind = stored.get("message"), stored.get("kind")
        if isinstance(message, str):
            for known in FLASH_KINDS:
                if kind == known:
                    return Flash(message, known)
            return Flash(message)
    return None


def _done(request: Request, url: str, message: str, *, kind: FlashKind = "success") -> Response:
    """After a form was handled: the message shown once on the page at ``url``; ``kind``
    (success, info, warning, error) sets its look and how screen readers announce it."""
    _flash(request, message, kind=kind)
    return _redirect(url)


# --- display values: labels, catalog names and user names --------------------------------


def not_admin(request: Request, caller: Caller) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title="Administrators only",
        message="This page is for administrators. Ask one if a setting needs changing.",
    )


async def admin_for_page(request: Request, session: AsyncSession) -> Caller | Response:
    """The signed-in administrator, or the response to send instead (sign-in or 403)."""
    caller = await _caller(request, session)
    if caller is None:
        return _to_login(request)
    if not caller.can(Role.ADMIN):
        return not_admin(request, caller)
    return caller


async def admin_for_post(
    request: Request, session: AsyncSession, form: FormData
) -> Caller | Response:
    """As :func:`admin_for_page`, and the form must carry this session's CSRF token."""
    caller = await _caller(request, session)
    if caller is None:
        return _to_login(request)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    if not caller.can(Role.ADMIN):
        return not_admin(request, caller)
    return caller


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
        shift = f"Shift: {incident.assignee_scene or EMPTY} / {incident.assignee_role or EMPTY}"
        if incident.assignee_id:
            person = users.get(incident.assignee_id, incident.assignee_id)
            return f"{person} (on duty, {shift})"
        return f"{shift} (nobody on duty yet)"
    if incident.assignee_id:
        return users.get(incident.assignee_id, incident.assignee_id)
    return "Unassigned"


def _name(names: Mapping[str, str], key: str | None) -> str:
    if key is None or key == "":
        return EMPTY
    return names.get(key, key)


def _fault_time(raw: str, name: str = "fault_occurred_at") -> datetime | None:
    """A ``datetime-local`` value, which carries no zone, read as UTC."""
    if not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            f"{name}: enter a date and time, e.g. 2024-05-01T09:30", field=name
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _pydantic_errors(exc: ValidationError) -> tuple[list[str], set[str]]:
    messages, fields = [], set()
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "form"
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        messages.append(f"{name}: {message}")
        fields.add(name)
    return messages, fields


def _uploads(form: FormData, name: str) -> list[UploadFile]:
    """Files chosen in a file input; an input left empty sends one nameless empty part."""
    return [
        item
        for item in form.getlist(name)
        if isinstance(item, UploadFile) and (item.filename or item.size)
    ]


class FileStore(Protocol[StoredT]):
    """A service that checks and keeps one uploaded file; the target (incident, work order,
    article) is already bound, e.g. with :func:`functools.partial`."""

    def __call__(
        self,
        *,
        session: AsyncSession,
        caller: Caller,
        file_name: str,
        data: bytes,
        now: datetime,
        rules: IncidentRules,
        storage_dir: Path,
    ) -> Awaitable[StoredT]: ...


async def _store_each(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    uploads: list[UploadFile],
    store: FileStore[StoredT],
) -> list[StoredT]:
    """Every upload through ``store``, in order; the first refusal stops the rest."""
    rules = _rules(request)
    stored = []
    for upload in uploads:
        # One byte more than allowed is enough to refuse it without reading it all.
        data = await upload.read(rules.attachment_max_bytes + 1)
        stored.append(
            await store(
                session=session,
                caller=caller,
                file_name=upload.filename or "",
                data=data,
                now=_clock(request).now(),
                rules=rules,
                storage_dir=attachments_dir(request.app.state.settings),
            )
        )
    return stored


async def _store_uploads(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    number: str,
    uploads: list[UploadFile],
    *,
    internal: bool,
    context: str,
) -> list[int]:
    store = partial(attachments.store_attachment, number=number, internal=internal, context=context)
    stored = await _store_each(request, session, caller, uploads, store)
    return [attachment.id for attachment in stored]


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def page_links(url: Callable[[int], str], page: int, per_page: int, total: int) -> dict[str, Any]:
    """What templates/_pager.html needs: this page and the links to its neighbours, if any."""
    return {
        "page": page,
        "previous_url": url(page - 1) if page > 1 else None,
        "next_url": url(page + 1) if page * per_page < total else None,
    }
