"""Pages: the agent console, the demo site, the widget bundle, health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from app import runtime
from app.models import Site
from app.paths import WIDGET_BUNDLE, WIDGET_CHAT_BUNDLE
from app.services import agents
from app.web.auth import csrf_token, current_user, home_of, login_redirect, supervisor_page
from app.web.templating import console_templates, site_templates

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
    if user.role == "marketer":
        return PlainTextResponse("The chat console is for CSRs, supervisors and admins.", status_code=403)
    socket_token = runtime.current().signer.socket_token(user.id)
    response = console_templates.TemplateResponse(
        request, "console.html", {"user": user, "socket_token": socket_token, "csrf_token": csrf_token(request),
                                  "away_reasons": await agents.away_reasons()}
    )
    response.headers["cache-control"] = "no-store"
    return response


async def supervise(request: Request) -> Response:
    """The supervisors' live board: agents, queues, chats in progress; monitor, whisper, barge, take over."""
    refused = await supervisor_page(request, "The live board is for supervisors and admins.")
    if refused is not None:
        return refused
    user = request.state.user
    socket_token = runtime.current().signer.socket_token(user.id)
    response = console_templates.TemplateResponse(
        request, "supervise.html", {"user": user, "socket_token": socket_token, "csrf_token": csrf_token(request)}
    )
    response.headers["cache-control"] = "no-store"
    return response


async def visitors(request: Request) -> Response:
    """The Visitors view: everyone on the sites now, live; profiles with the whole trail; invitations."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in ("agent", "supervisor", "admin"):
        return PlainTextResponse("The Visitors view is for CSRs, supervisors and admins.", status_code=403)
    socket_token = runtime.current().signer.socket_token(user.id)
    response = console_templates.TemplateResponse(
        request, "visitors.html", {"user": user, "socket_token": socket_token, "csrf_token": csrf_token(request)}
    )
    response.headers["cache-control"] = "no-store"
    return response


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
