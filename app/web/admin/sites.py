"""Admin page: sites — list, "New site", edit (name, allowed origins), disable / enable, the
snippet to copy, and key rotation. Everything goes through app/services/sites.py, as the CLI does.

    GET  /admin/sites                      the list (?new=1: the new-site form; ?site=ID: one site)
    POST /admin/sites                      create
    POST /admin/sites/{id}                 save name and origins
    POST /admin/sites/{id}/disable|enable  switch its widget off or on
    POST /admin/sites/{id}/rotate-key      a new key; the old one works for the grace period
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import runtime
from app import i18n
from app.clock import utcnow
from app.i18n import N_
from app.models import Site, User
from app.services import ServiceError, sites
from app.web.admin.common import admin_form, admin_user, form_values, render, site_named
from app.web.templating import staff_language

PATH = "/admin/sites"
TEMPLATE = "admin/sites.html"
MAX_ORIGINS_TEXT = sites.MAX_ORIGINS * (sites.MAX_ORIGIN_CHARS + 2)
STATUS = {"not_found": 404, "conflict": 409}
DONE = {"created", "saved", "disabled", "enabled", "rotated"}


def base_url() -> str:
    """Where the widget is served from: PUBLIC_URL, as `create-site` prints it."""
    return runtime.current().settings.public_url


def grace_text(seconds: float) -> str:
    """How long an old key keeps working, in words, in the request's language: "7 days", "12 hours",
    "90 seconds"."""
    units = (("day", 86400, N_("%(num)s day"), N_("%(num)s days")),
             ("hour", 3600, N_("%(num)s hour"), N_("%(num)s hours")),
             ("minute", 60, N_("%(num)s minute"), N_("%(num)s minutes")))
    for unit, size, one, many in units:
        if seconds >= size and (seconds % size == 0 or unit != "day"):
            count = round(seconds / size, 1)
            count = int(count) if count == int(count) else count
            return i18n.ngettext(one, many, 1 if count == 1 else 2) % {"num": count}
    count = round(seconds)
    return i18n.ngettext("%(num)s second", "%(num)s seconds", count) % {"num": count}


def _row(site: Site) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "origins": list(site.allowed_origins or []),
            "enabled": site.disabled_at is None, "created": site.created_at.strftime("%Y-%m-%d")}


async def _page(request: Request, user: User, *, status: int = 200, selected: Site | None = None,
                new: bool = False, **context: Any) -> Response:
    rows = [_row(s) for s in await Site.all().order_by("name", "id")]
    detail = None
    if selected is not None:
        grace_ends = selected.previous_key_until
        detail = {
            **_row(selected), "key": selected.key, "snippet": sites.snippet(base_url(), selected.key),
            "previous_key": selected.previous_key if grace_ends and grace_ends > utcnow() else None,
            "previous_key_until": grace_ends.strftime("%Y-%m-%d %H:%M UTC") if grace_ends else None,
        }
        context.setdefault("values", {"name": selected.name, "allowed_origins": "\n".join(detail["origins"])})
    done = request.query_params.get("done")
    staff_language(request)  # the grace period below is in words of the page's language
    return render(request, user, TEMPLATE, PATH, status=status, sites=rows, selected=detail, new=new,
                  done=done if done in DONE else None,
                  grace=grace_text(sites.key_grace().total_seconds()), **context)


def _refused(request: Request, user: User, exc: ServiceError, form: Any, **context: Any):
    return _page(request, user, status=STATUS.get(exc.code, 400), values=form_values(form),
                 errors={exc.field or "form": exc.message}, **context)


def _origins_text(form: Any) -> str:
    text = str(form.get("allowed_origins") or "")
    if len(text) > MAX_ORIGINS_TEXT:
        raise ServiceError("bad_request", sites.TOO_LONG, "allowed_origins")
    return text


async def list_page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    raw = request.query_params.get("site")
    if raw is not None:
        site = await site_named(raw)
        if site is None:
            return await _page(request, user, status=404, errors={"form": N_("No such site.")})
        return await _page(request, user, selected=site)
    return await _page(request, user, new=request.query_params.get("new") == "1",
                       values={"name": "", "allowed_origins": ""})


async def create(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    try:
        site = await sites.create_site(str(form.get("name") or ""), _origins_text(form), actor=user)
    except ServiceError as exc:
        return await _refused(request, user, exc, form, new=True)
    return RedirectResponse(f"{PATH}?site={site.id}&done=created", status_code=303)


async def _target(request: Request) -> Site | None:
    return await site_named(request.path_params["site_id"])


async def _no_site(request: Request, user: User) -> Response:
    return await _page(request, user, status=404, errors={"form": N_("No such site.")})


async def update(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    site = await _target(request)
    if site is None:
        return await _no_site(request, user)
    try:
        await sites.update_site(user, site.id, name=str(form.get("name") or ""), origins=_origins_text(form))
    except ServiceError as exc:
        return await _refused(request, user, exc, form, selected=site)
    return RedirectResponse(f"{PATH}?site={site.id}&done=saved", status_code=303)


def _switch(enabled: bool):
    async def handler(request: Request) -> Response:
        user, _, refused = await admin_form(request)
        if refused is not None:
            return refused
        site = await _target(request)
        if site is None:
            return await _no_site(request, user)
        await sites.set_enabled(user, site.id, enabled)
        return RedirectResponse(f"{PATH}?site={site.id}&done={'enabled' if enabled else 'disabled'}",
                                status_code=303)

    return handler


async def rotate_key(request: Request) -> Response:
    user, _, refused = await admin_form(request)
    if refused is not None:
        return refused
    site = await _target(request)
    if site is None:
        return await _no_site(request, user)
    await sites.rotate_key(user, site.id)
    return RedirectResponse(f"{PATH}?site={site.id}&done=rotated", status_code=303)


ROUTES = [
    Route(PATH, list_page, methods=["GET"]),
    Route(PATH, create, methods=["POST"]),
    Route(PATH + "/{site_id:int}", update, methods=["POST"]),
    Route(PATH + "/{site_id:int}/disable", _switch(False), methods=["POST"]),
    Route(PATH + "/{site_id:int}/enable", _switch(True), methods=["POST"]),
    Route(PATH + "/{site_id:int}/rotate-key", rotate_key, methods=["POST"]),
]
