"""What every admin page shares: the admin check, form validation and errors beside the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import OpsdeskError
from opsdesk.web.common import (
    FlashKind,
    _flash,
    _redirect,
    _render,
)

# The admin guards live in web/common.py (every admin page uses them); re-exported here.
from opsdesk.web.common import admin_for_page as admin_for_page
from opsdesk.web.common import admin_for_post as admin_for_post
from opsdesk.web.common import not_admin as not_admin

ModelT = TypeVar("ModelT", bound=BaseModel)

FORM_ERROR = "form"


class FormValues(dict[str, Any]):
    """What the form shows; an input never filled in is blank, not an error."""

    def __missing__(self, key: str) -> str:
        return ""


class FormInvalid(Exception):
    """A form the service or the schema refused: input name → message shown beside it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in errors.items()))
        self.errors = errors


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _input_name(field: str | None, names: Mapping[str, str]) -> str:
    if not field:
        return FORM_ERROR
    parts = field.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in names:
            return names[prefix]
    return parts[0]


def errors_of(exc: OpsdeskError, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """A service error as {form input: message}; ``names`` maps service fields to inputs."""
    names = names or {}
    message = exc.message
    if exc.field and message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2 :]
    return {_input_name(exc.field, names): _sentence(message)}


def validated(
    model: type[ModelT], data: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> ModelT:
    """The form data as ``model``; every refused field becomes a message beside its input."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            location = ".".join(str(part) for part in error.get("loc", ()))
            name = _input_name(location, names or {})
            text = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
            errors.setdefault(name, _sentence(text))
        raise FormInvalid(errors) from None


def done(request: Request, message: str, url: str, *, kind: FlashKind = "success") -> Response:
    """Post-redirect-get with a one-line notice of ``kind`` on the next page."""
    _flash(request, message, kind=kind)
    return _redirect(url)


def render_admin(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    caller: Caller,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    """An admin page; with ``errors`` it answers 422 and shows them beside the inputs."""
    errors = dict(errors or {})
    return _render(
        request,
        name,
        {"errors": errors, "values": FormValues(values or {}), **context},
        caller=caller,
        status_code=422 if errors else 200,
    )
