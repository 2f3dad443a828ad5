"""Admin page: the widget's appearance per site (app/services/widget_settings.py), with a live
preview of the real widget next to the form.

    GET  /admin/widget?site=ID                  the form and the preview frame
    POST /admin/widget/{site_id}                save (audited as widget_update)
    GET  /admin/widget/preview/{site_id}?lang=  the page inside the preview frame

The preview page loads the real widget.js with `data-preview` (the session it shows: the saved
settings and the site's departments) and opens no socket: it makes no visitor and sends nothing.
The admin page's script (agent_ui/src/pages/admin_widget.js) posts the form's unsaved values to
the frame as they change (postMessage, same origin only); docs/widget.md, "Preview".
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.models import Department, Site, User
from app.i18n import N_
from app.services import ServiceError, widget_settings as ws
from app.web.admin.common import FieldError, Label, admin_form, admin_user, form_values, render, site_named
from app.web.templating import console_templates

PATH = "/admin/widget"
TEMPLATE = "admin/widget.html"
MAX_FIELD = 2000  # characters of any one posted field (the service's limits are far below)
# The preview page: the widget's own files from this origin; no connection (it opens none); only
# this origin may frame it.
PREVIEW_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; object-src 'none'"
)


def _field(form: Any, name: str) -> str:
    value = str(form.get(name) or "")
    if len(value) > MAX_FIELD:
        raise FieldError(name, N_("%(field)s is far too long."), field=Label(ws.LABELS[name]))
    return value


def _flag(form: Any, name: str) -> bool:
    value = form.get(name)
    if value is None:
        return False
    if value != "on":
        raise FieldError(name, N_("%(field)s is a checkbox: on or off."), field=Label(ws.LABELS[name]))
    return True


def parse_form(form: Any) -> dict[str, Any]:
    """The form as `widget_settings.update` takes it (every value is checked there)."""
    return {
        "accent_color": _field(form, "accent_color"),
        "launcher_position": _field(form, "launcher_position"),
        "title": {lang: _field(form, f"title_{ws.SUFFIX[lang]}") for lang in ws.LANGUAGES},
        "greeting": {lang: _field(form, f"greeting_{ws.SUFFIX[lang]}") for lang in ws.LANGUAGES},
        "prechat": {f: _field(form, f"prechat_{f}") for f in ws.PRECHAT_FIELDS},
        "topics": _flag(form, "topics"),
        "offline_form": _flag(form, "offline_form"),
    }


async def _page(request: Request, user: User, *, status: int = 200, site: Site | None = None,
                **context: Any) -> Response:
    all_sites = await Site.all().order_by("name", "id")
    if site is None and all_sites and status == 200:
        site = all_sites[0]
    if site is not None:
        context.setdefault("values", ws.flat(ws.settings_of(site)))
    done = request.query_params.get("done")
    return render(request, user, TEMPLATE, PATH, status=status, sites=all_sites, site=site,
                  done=done if done == "saved" else None, positions=ws.POSITIONS, prechat=ws.PRECHAT,
                  # Not `languages` nor `lang`: the staff pages' context gives those (the admin's own language).
                  widget_languages=[(ws.SUFFIX[lang], lang, ws.LANGUAGE_NAMES[lang]) for lang in ws.LANGUAGES],
                  max_title=ws.MAX_TITLE, max_greeting=ws.MAX_GREETING, defaults=ws.flat(ws.DEFAULTS),
                  min_contrast=ws.MIN_CONTRAST, **context)


async def page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    raw = request.query_params.get("site")
    site = None
    if raw is not None:
        site = await site_named(raw)
        if site is None:
            return await _page(request, user, status=404, errors={"form": N_("No such site.")})
    return await _page(request, user, site=site)


async def save(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    site = await site_named(request.path_params["site_id"])
    if site is None:
        return await _page(request, user, status=404, errors={"form": N_("No such site.")})
    try:
        await ws.update(user, site.id, parse_form(form))
    except ServiceError as exc:
        typed = form_values(form)
        for name in ("topics", "offline_form"):
            typed[name] = form.get(name) is not None
        return await _page(request, user, status=404 if exc.code == "not_found" else 400, site=site,
                           values=typed, errors={exc.field or "form": exc.message})
    return RedirectResponse(f"{PATH}?{urlencode({'site': site.id, 'done': 'saved'})}", status_code=303)


async def preview(request: Request) -> Response:
    """The page in the preview frame: the real widget of the site, on a made-up session."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    site = await site_named(request.path_params["site_id"])
    if site is None:
        return Response("No such site.", status_code=404, media_type="text/plain")
    lang = request.query_params.get("lang")
    lang = lang if lang in ws.LANGUAGES else "en"
    departments = await Department.filter(site_id=site.id).order_by("name").values("id", "name", "max_wait_seconds")
    session = {"visitor_id": "preview", "token": None, "conversation": None, "departments": departments,
               "invitation": None, "invitation_rules": [], "tracking": {"enabled": False},
               "widget": ws.settings_of(site)}
    response = console_templates.TemplateResponse(
        request, "admin/widget_preview.html",
        {"site": site, "widget_lang": lang, "session_json": json.dumps(session, ensure_ascii=False)})
    # Set here, so that app/web/security_headers.py keeps them instead of the console's (which
    # forbid framing).
    response.headers["content-security-policy"] = PREVIEW_CSP
    response.headers["x-frame-options"] = "SAMEORIGIN"
    response.headers["cache-control"] = "no-store"
    return response


ROUTES = [
    Route(PATH, page, methods=["GET"]),
    Route(PATH + "/{site_id:int}", save, methods=["POST"]),
    Route(PATH + "/preview/{site_id:int}", preview, methods=["GET"]),
]
