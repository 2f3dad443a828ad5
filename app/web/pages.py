"""Pages: the agent console, the demo site, the widget bundle, health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from app import i18n, runtime
from app.i18n import N_
from app.models import Site
from app.models.org import CHAT_ROLES
from app.paths import WIDGET_BUNDLE, WIDGET_CHAT_BUNDLE
from app.services import ServiceError, accounts, agents, sessions, workorders
from app.web.auth import (
    PASSWORD_CHECK_LIMIT, SESSION_TOKEN_KEY, check_csrf, csrf_token, current_session, current_user, home_of,
    login_redirect, socket_token, supervisor_page,
)
from app.web.templating import console_templates, site_templates, staff_language

DEMO_PAGES = {
    "": ("index.html", "Acme Outdoor — Home"),
    "pricing": ("pricing.html", "Acme Outdoor — Pricing"),
    "support": ("support.html", "Acme Outdoor — Support"),
}


async def home(request: Request) -> Response:
    user = await current_user(request)
    return RedirectResponse(home_of(user) if user else "/login", status_code=303)


async def console(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in CHAT_ROLES:
        return PlainTextResponse("The chat console is for CSRs, supervisors and admins.", status_code=403)
    response = console_templates.TemplateResponse(
        request, "console.html", {"user": user, **socket_context(request), "csrf_token": csrf_token(request),
                                  "away_reasons": await agents.away_reasons()}
    )
    response.headers["cache-control"] = "no-store"
    return response


async def refusal(request: Request, message: str) -> str:
    """A plain-text refusal (`message`, marked with N_) in the language of the signed-in user, else
    of the browser."""
    await current_user(request)
    staff_language(request)
    return i18n.gettext(message)


async def supervise(request: Request) -> Response:
    """The supervisors' live board: agents, queues, chats in progress; monitor, whisper, barge, take over."""
    refused = await supervisor_page(request, await refusal(request, N_("The live board is for supervisors and admins.")))
    if refused is not None:
        return refused
    user = request.state.user
    response = console_templates.TemplateResponse(
        request, "supervise.html", {"user": user, **socket_context(request), "csrf_token": csrf_token(request)}
    )
    response.headers["cache-control"] = "no-store"
    return response


async def visitors(request: Request) -> Response:
    """The Visitors view: everyone on the sites now, live; profiles with the whole trail; invitations."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in ("agent", "supervisor", "admin"):
        return PlainTextResponse(await refusal(request, N_("The Visitors view is for CSRs, supervisors and admins.")),
                                 status_code=403)
    response = console_templates.TemplateResponse(
        request, "visitors.html", {"user": user, **socket_context(request), "csrf_token": csrf_token(request)}
    )
    response.headers["cache-control"] = "no-store"
    return response


def socket_context(request: Request) -> dict:
    """What a page that opens /agent or /notices needs: a socket token of this session and its lifetime (the
    page renews it from `POST /api/socket-token` before it runs out)."""
    return {"socket_token": socket_token(request),
            "socket_token_seconds": runtime.current().settings.socket_token_seconds}


def _api_error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"code": code, "message": message}}, status_code=status,
                        headers={"cache-control": "no-store"})


async def socket_token_api(request: Request) -> Response:
    """POST /api/socket-token (header X-CSRF-Token): a fresh socket token for the session of the
    cookie; 401 once the session has ended. Consoles call it before their token runs out."""
    user = await current_user(request)
    if user is None:
        return _api_error("unauthorized", sessions.ENDED_MESSAGE, 401)
    if not check_csrf(request, request.headers.get("x-csrf-token")):
        return _api_error("bad_request", "The X-CSRF-Token header is missing or does not match.", 400)
    if user.role not in workorders.STAFF_ROLES:  # the console's roles, and handlers (their /notices)
        return _api_error("forbidden", "Live pages are for CSRs, supervisors, admins and handlers.", 403)
    return JSONResponse({"ok": True, "token": socket_token(request),
                         "expires_in": runtime.current().settings.socket_token_seconds},
                        headers={"cache-control": "no-store"})


def _account_page(request: Request, user, *, error: str | None = None, notice: str | None = None,
                  status_code: int = 200) -> Response:
    response = console_templates.TemplateResponse(
        request, "account.html",
        {"user": user, "csrf_token": csrf_token(request), "error": error, "notice": notice,
         "min_password": sessions.MIN_PASSWORD_CHARS, "language_choice": user.language or ""},
        status_code=status_code,
    )
    response.headers["cache-control"] = "no-store"
    return response


ACCOUNT_NOTICES = {"password": N_("Your password was changed. Every other session of yours was signed out."),
                   "language": N_("Your language was saved.")}


async def account(request: Request) -> Response:
    """GET /account: change my password; sign out everywhere."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return _account_page(request, user, notice=ACCOUNT_NOTICES.get(request.query_params.get("done", "")))


async def _account_form(request: Request):
    """A form posted on the account page: (session, form), or the response when signed out or when
    the CSRF token does not match."""
    session = await current_session(request)
    if session is None:
        return login_redirect(request)
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return _account_page(request, session.user, error=N_("The form expired. Please try again."), status_code=400)
    return session, form


async def change_password(request: Request) -> Response:
    """POST /account/password: every session of mine ends; this browser gets a new one."""
    posted = await _account_form(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    current = str(form.get("current_password") or "")[:1024]
    new, repeated = form.get("new_password"), form.get("repeat_password")
    if not current or not isinstance(new, str) or not new:
        return _account_page(request, session.user, error=N_("Enter your current and your new password."),
                             status_code=400)
    if new != repeated:
        return _account_page(request, session.user, error=N_("The new passwords do not match."), status_code=400)
    limiter = runtime.current().rate_limiter
    key = f"password:{session.user_id}"
    if await limiter.hit(key, *PASSWORD_CHECK_LIMIT) is not None:
        return _account_page(request, session.user, error=N_("Too many attempts. Wait a few minutes and try again."),
                             status_code=429)
    try:
        token = await sessions.change_password(session, current, new)
    except ServiceError as exc:
        if exc.code != "forbidden":  # only a wrong current password counts as a guess
            await limiter.release(key)
        return _account_page(request, session.user, error=exc.message,
                             status_code=403 if exc.code == "forbidden" else 400)
    await limiter.release(key)
    request.session[SESSION_TOKEN_KEY] = token  # the CSRF token stays: this browser's other tabs go on
    return RedirectResponse("/account?done=password", status_code=303)


async def change_language(request: Request) -> Response:
    """POST /account/language: the language of my staff pages (English, 简体中文, or the browser's)."""
    posted = await _account_form(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    chosen = form.getlist("language")
    try:
        await accounts.set_language(session.user, chosen[0] if len(chosen) == 1 else None)
    except ServiceError as exc:
        return _account_page(request, session.user, error=exc.message, status_code=400)
    return RedirectResponse("/account?done=language", status_code=303)


async def sign_out_everywhere(request: Request) -> Response:
    """POST /account/sign-out-everywhere: every session of mine ends, this one too."""
    posted = await _account_form(request)
    if isinstance(posted, Response):
        return posted
    session, _ = posted
    await sessions.end_all(session.user_id, "signed_out_everywhere")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def demo(request: Request) -> Response:
    page = request.path_params.get("page", "")
    if page not in DEMO_PAGES:
        return PlainTextResponse("No such demo page.", status_code=404)
    site = await Site.filter(name="Demo").first()
    if site is None:
        return PlainTextResponse("The demo site does not exist yet: run `python -m app demo`.", status_code=404)
    template, title = DEMO_PAGES[page]
    return site_templates.TemplateResponse(
        request, f"demo/{template}", {"site_key": site.key, "title": title, "page": page, "base_url": str(request.base_url).rstrip("/")}
    )


def _widget_file(path) -> Response:
    if not path.exists():
        return PlainTextResponse("// The widget is not built: run `make widget`.\n", status_code=503,
                                 media_type="application/javascript")
    return FileResponse(
        path, media_type="application/javascript",
        headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"},
    )


async def widget_js(request: Request) -> Response:
    """The widget's entry: tracking, launcher, invitations (on every page of a site)."""
    return _widget_file(WIDGET_BUNDLE)


async def widget_chat_js(request: Request) -> Response:
    """The chat panel, loaded by widget.js when the visitor opens the chat."""
    return _widget_file(WIDGET_CHAT_BUNDLE)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})
