"""COC's response envelope and error codes.

Success: ``{"provider_code": "049", "error_code": "GOM.00000000", "error_msg": null,
"data": …}``. Business errors: HTTP 400 with the same envelope and a ``GOM.*`` code;
``GOM.00007256`` ("Parameter error") is COC's, and names the offending field in
``error_msg``. Codes COC does not publish are ours, listed in ``docs/coc-api.md``. A
missing or bad token is HTTP 401 with COC's gateway code ``common.01010001``; a path (or
method) that is no COC route is HTTP 404 with the gateway's ``APIG.0101``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from opsdesk.auth.signing import SignatureRejected
from opsdesk.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OpsdeskError,
    PreconditionFailed,
    Unauthenticated,
)

PROVIDER_CODE = "049"
OK = "GOM.00000000"
PARAMETER_ERROR = "GOM.00007256"
# Ours: COC publishes no GOM code for these.
FORBIDDEN = "GOM.10000403"
NOT_FOUND = "GOM.10000404"
NOT_ALLOWED_NOW = "GOM.10000409"
STALE_VERSION = "GOM.10000412"
BODY_TOO_LARGE = "GOM.10000413"
INTERNAL_ERROR = "GOM.10000500"
DATABASE_UNAVAILABLE = "GOM.10000503"
UNAUTHENTICATED = "common.01010001"
# What Huawei Cloud's API gateway answers, in front of COC, for a path or method it does not
# publish: a client that handles "this API is not here" keeps working unchanged.
NO_SUCH_API = "APIG.0101"
NO_SUCH_API_MESSAGE = "The API does not exist or has not been published in the environment."

COC_PREFIXES = ("/v1/", "/v2/")


def is_coc(request: Request) -> bool:
    return request.url.path.startswith(COC_PREFIXES)


def envelope(data: Any, *, code: str = OK, message: str | None = None) -> dict[str, Any]:
    return {"provider_code": PROVIDER_CODE, "error_code": code, "error_msg": message, "data": data}


def envelope_response(data: Any) -> Response:
    """The success envelope, serialised at once: lists of hundreds of rows skip FastAPI's
    generic encoder, which costs as much as the query (bench/coc_query.py)."""
    return Response(orjson.dumps(envelope(data)), media_type="application/json")


def error_response(
    code: str, message: str, *, status: int = 400, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        envelope(None, code=code, message=message), status_code=status, headers=headers
    )


def from_opsdesk_error(exc: OpsdeskError) -> JSONResponse:
    if isinstance(exc, SignatureRejected):  # says which: key, date or signature
        return error_response(UNAUTHENTICATED, exc.message, status=401)
    if isinstance(exc, Unauthenticated):
        return error_response(UNAUTHENTICATED, "Token missing or invalid.", status=401)
    code = PARAMETER_ERROR
    if isinstance(exc, Forbidden):
        code = FORBIDDEN
    elif isinstance(exc, NotFound):
        code = NOT_FOUND
    elif isinstance(exc, Conflict):
        code = NOT_ALLOWED_NOW
    elif isinstance(exc, PreconditionFailed):
        code = STALE_VERSION
    message = exc.message if code != PARAMETER_ERROR else f"Parameter error: {exc.message}"
    return error_response(code, message)


def no_such_api(method: str, path: str, headers: Mapping[str, str] | None) -> JSONResponse:
    """A path no COC route has, or a method its route does not take: 404, as the gateway."""
    allowed = (headers or {}).get("Allow")
    message = NO_SUCH_API_MESSAGE
    if allowed:
        message = f"{message} {path} takes {allowed}, not {method}."
    return error_response(NO_SUCH_API, message, status=404)
