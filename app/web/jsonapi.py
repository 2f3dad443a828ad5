"""The staff JSON APIs' one shape (work orders, the knowledge base, canned responses): replies,
errors, request bodies and the endpoint wrapper.

A reply is `{"ok": true, …}`; an error `{"ok": false, "error": {"code", "message", "field"}}` with
the HTTP status of its code (`STATUS`). Neither is ever cached. A JSON body is read up to a size
(no further: `too_large`) and a depth, with finite numbers only (app/jsonsafe.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import i18n, jsonsafe
from app.i18n import N_
from app.models import User
from app.services import ServiceError
from app.web.auth import check_csrf, current_user
from app.web.templating import staff_language

STATUS = {"bad_request": 400, "unauthorized": 401, "forbidden": 403, "csrf": 403, "not_found": 404,
          "conflict": 409, "invalid_state": 409, "too_large": 413, "unsupported_type": 415, "rate_limited": 429,
          "busy": 503}
_NO_STORE = {"cache-control": "no-store"}


def ok(data: Any = None, status: int = 200) -> JSONResponse:
    return JSONResponse({"ok": True, **(data or {})}, status_code=status, headers=_NO_STORE)


def error(code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"ok": False, "error": body}, status_code=STATUS.get(code, 400), headers=_NO_STORE)


async def read_json(request: Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object: at most `max_bytes` (read no further: `too_large`), nested at most
    `max_depth` deep, finite numbers only."""
    too_large = f"The request is larger than {max_bytes // 1024} KiB."
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise ServiceError("too_large", too_large)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ServiceError("too_large", too_large)
        chunks.append(chunk)
    try:
        data = jsonsafe.loads(b"".join(chunks) or b"{}", max_depth=max_depth)
    except jsonsafe.UnsafeJSON as exc:
        raise ServiceError("bad_request", "The body is not JSON we take: %(error)s", error=str(exc)) from None
    if not isinstance(data, dict):
        raise ServiceError("bad_request", "The body is a JSON object.")
    return data


Handler = Callable[[Request, User], Awaitable[Response]]
SIGN_IN = N_("Sign in first.")
EXPIRED = N_("The page expired; reload it and try again.")


def endpoint(allowed: Callable[[User], bool], refusal: str, *, post: bool) -> Callable[[Handler], Callable]:
    """A staff JSON endpoint: signed in (401), `allowed` (403 with `refusal`), the CSRF header on a
    POST (403); a ServiceError the handler raises is its error reply."""
    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            user = await current_user(request)
            said = i18n.translations(staff_language(request)).gettext  # refusals in the user's language
            if user is None:
                return error("unauthorized", said(SIGN_IN))
            if not allowed(user):
                return error("forbidden", said(refusal))
            if post and not check_csrf(request, request.headers.get("x-csrf-token")):
                return error("csrf", said(EXPIRED))
            try:
                return await fn(request, user)
            except ServiceError as exc:
                return error(exc.code, exc.said(said), exc.field)
        handle.__name__ = fn.__name__
        return handle
    return wrap
