"""Every error leaves as JSON with a stable ``code``, a message and the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from opsdesk.api.body_limits import BodyTooLarge, body_too_large_handler
from opsdesk.api.coc import envelope as coc
from opsdesk.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OpsdeskError,
    PreconditionFailed,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)

STATUS_OF: dict[type[OpsdeskError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
    PreconditionFailed: 412,
    TooManyAttempts: 429,
}


def error_body(
    code: str, message: str, field: str | None = None, details: Any = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if details:
        error["details"] = details
    return {"error": error}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts)


def _message_of(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "missing":
        return "is required"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


async def _opsdesk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpsdeskError)
    if coc.is_coc(request):
        return coc.from_opsdesk_error(exc)
    status = next((s for kind, s in STATUS_OF.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    details: Any = exc.details or None
    if isinstance(exc, ValidationFailed) and exc.problems:
        details = exc.problems  # the same shape as a request validation error's details
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field, details),
        status_code=status,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if coc.is_coc(request):
        first = errors[0] if errors else {}
        field = _field_of(tuple(first.get("loc", ()))) or "body"
        reason = "is not valid JSON" if first.get("type") == "json_invalid" else _message_of(first)
        return coc.error_response(coc.PARAMETER_ERROR, f"Parameter error: {field}: {reason}")
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(
            error_body("malformed_json", "the request body is not valid JSON", "body"),
            status_code=400,
        )
    details = []
    for error in errors:
        field = _field_of(tuple(error.get("loc", ())))
        details.append({"field": field or "body", "message": _message_of(error)})
    first = details[0] if details else {"field": "body", "message": "is invalid"}
    message = f"{first['field']}: {first['message']}"
    return JSONResponse(
        error_body("validation_error", message, first["field"], details), status_code=422
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if coc.is_coc(request):
        if exc.status_code == 401:
            return coc.error_response(coc.UNAUTHENTICATED, "Token missing or invalid.", status=401)
        if exc.status_code in (404, 405):
            return coc.no_such_api(request.method, request.url.path, exc.headers)
        return coc.error_response(coc.PARAMETER_ERROR, str(exc.detail), status=exc.status_code)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
    code = codes.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.status_code != 404 else "no such resource"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetail] | dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """Every native error body: ``{"error": {code, message, field?, details?}}``."""

    error: ErrorInfo


def document_errors(app: FastAPI) -> None:
    """Declare the 422 body the handlers above send instead of FastAPI's ``{"detail": …}``
    (the COC routes answer bad input with a 400 in their envelope, never a 422)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components["ErrorOut"] = schema
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "422" not in responses:
                    continue
                if path.startswith(coc.COC_PREFIXES):
                    del responses["422"]
                else:
                    responses["422"] = {
                        "description": "Validation error: the message and field name the part",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorOut"}
                            }
                        },
                    }
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OpsdeskError, _opsdesk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(BodyTooLarge, body_too_large_handler)
    document_errors(app)
