"""What the result, dispute, calibration and coaching pages share: the signed-in user, the CSRF check
of a posted form, and rendering a page with what a refusal says translated beside its field (the admin
pages' way, app/web/admin/common.py). A refused form answers 400 (403 for CSRF, 404 for what one may not
read) and stores nothing."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app import i18n
from app.models import User
from app.services import ServiceError
from app.web.admin.common import shown
from app.web.auth import check_csrf, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

STATUS = {"bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409}
MAX_FORM = 64 * 1024


async def signed_in(request: Request) -> tuple[User | None, Response | None]:
    user = await current_user(request)
    if user is None:
        return None, login_redirect(request)
    staff_language(request)
    request.state.user = user
    return user, None


async def posted(request: Request) -> tuple[User | None, Any, Response | None]:
    """A posted form: (user, form, None) or (…, the refusal): sign in first, 413 over 64 KiB, 403 without
    this session's CSRF token."""
    user, refused = await signed_in(request)
    if refused is not None:
        return None, None, refused
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        return user, None, plain(i18n.gettext("The form is too large."), 413)
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return user, form, plain(i18n.gettext("The form expired; reload the page and try again."), 403)
    return user, form, None


def plain(text: str, status: int) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers={"cache-control": "no-store"})


def refusal(error: ServiceError) -> Response:
    """A refusal that is no form's: not found (404) or a plain message."""
    return plain(error.said(i18n.gettext), STATUS.get(error.code, 400))


def render(request: Request, user: User, template: str, *, status: int = 200, **context: Any) -> Response:
    context["errors"] = {k: shown(v) for k, v in (context.get("errors") or {}).items()}
    for key in ("error", "notice"):
        if context.get(key):
            context[key] = shown(context[key])
    context.setdefault("values", {})
    response = console_templates.TemplateResponse(
        request, template, {"user": user, "csrf_token": csrf_token(request), **context}, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def error_of(error: ServiceError, default_field: str = "form") -> dict[str, Any]:
    return {error.field or default_field: error.message}


def status_of(error: ServiceError) -> int:
    return STATUS.get(error.code, 400)


def number(raw: object) -> int | None:
    """A form's id field: ASCII digits (at most 18), else None."""
    text = str(raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def numbers(values: list) -> list[int] | None:
    out = []
    for raw in values:
        n = number(raw)
        if n is None:
            return None
        out.append(n)
    return out
