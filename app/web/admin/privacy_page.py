"""Admin page: privacy, per site — its tracking settings (what `site-settings` edits: the trail on
or off, Do Not Track, IP anonymisation, stripped URL parameters, visit timeout, retention,
conversion events, what makes a page in the explorer: hash routes, kept query parameters) and the visitor data request tools: find a visitor by id or e-mail, export
everything held about them (GET /api/admin/visitors/{id}/export), erase it after a confirmation.

    GET  /admin/privacy?site=ID[&q=…][&erase=VISITOR]
    POST /admin/privacy/{site_id}          save the tracking settings (app/services/sites.py)
    POST /admin/privacy/{site_id}/erase    erase one visitor (app/services/privacy.py)
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.models import Site, User
from app.i18n import N_
from app.services import ServiceError, privacy, sites
from app.web.admin.common import FieldError, Label, Message, admin_form, admin_user, form_values, render, site_named

PATH = "/admin/privacy"
TEMPLATE = "admin/privacy.html"
MAX_QUERY = 254
MAX_LIST_TEXT = 6000  # the stripped parameters or conversion events as typed
NUMBERS = {"visit_timeout_minutes": N_("Visit timeout"), "retention_days": N_("Retention")}


def _flag(form: Any, name: str) -> bool:
    value = form.get(name)
    if value is None:
        return False
    if value != "on":
        raise FieldError(name, f"{sites.TRACKING_LABELS[name]} is a checkbox: on or off.")
    return True


def _list(form: Any, name: str) -> list[str]:
    text = str(form.get(name) or "")
    if len(text) > MAX_LIST_TEXT:
        raise FieldError(name, f"{sites.TRACKING_LABELS[name]}: at most {MAX_LIST_TEXT} characters.")
    return [item for item in re.split(r"[\s,]+", text) if item]


def _number(form: Any, name: str) -> int:
    value = str(form.get(name) or "").strip()
    if not value:
        raise FieldError(name, N_("%(field)s is required."), field=Label(NUMBERS[name]))
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise FieldError(name, N_("%(field)s must be a whole number."), field=Label(NUMBERS[name]))
    return int(value)


def parse_form(form: Any) -> dict[str, Any]:
    """The form as `sites.update_tracking` takes it (each value is checked there too)."""
    values: dict[str, Any] = {name: _flag(form, name) for name in sites.TRACKING_FLAGS}
    values["strip_params"] = _list(form, "strip_params")
    values["conversion_events"] = _list(form, "conversion_events")
    values["route_params"] = _list(form, "route_params")
    for name in NUMBERS:
        values[name] = _number(form, name)
    return values


def _as_form(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "strip_params": ", ".join(settings["strip_params"]),
            "conversion_events": ", ".join(settings["conversion_events"]),
            "route_params": ", ".join(settings["route_params"])}


async def _page(request: Request, user: User, *, status: int = 200, site: Site | None = None,
                **context: Any) -> Response:
    all_sites = await Site.all().order_by("name", "id")
    if site is None and all_sites:
        site = all_sites[0]
    query = request.query_params.get("q", "")[:MAX_QUERY]
    found, total, confirming = None, 0, None
    if site is not None:
        context.setdefault("values", _as_form(sites.tracking_values(site)))
        if query.strip():
            found, total = await privacy.find(user, site.id, query)
        erase = request.query_params.get("erase")
        if erase and len(erase) <= 40:  # "Erase" asks first: this visitor, with a confirmation button
            matches, _ = await privacy.find(user, site.id, erase)
            confirming = next((v for v in matches if v["id"] == erase), None)
    done = request.query_params.get("done")
    return render(request, user, TEMPLATE, PATH, status=status, sites=all_sites, site=site, query=query,
                  found=found, total=total, confirming=confirming, max_found=privacy.MAX_FOUND,
                  done=done if done in ("saved", "erased") else None,
                  erased=request.query_params.get("erased", "")[:40], **context)


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
        await sites.update_tracking(user, site.id, parse_form(form))
    except ServiceError as exc:
        typed = form_values(form)
        for name in sites.TRACKING_FLAGS:
            typed[name] = form.get(name) is not None
        return await _page(request, user, status=404 if exc.code == "not_found" else 400, site=site,
                           values=typed, errors={exc.field or "form": exc.message})
    return RedirectResponse(f"{PATH}?{urlencode({'site': site.id, 'done': 'saved'})}", status_code=303)


async def erase(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    site = await site_named(request.path_params["site_id"])
    if site is None:
        return await _page(request, user, status=404, errors={"form": N_("No such site.")})
    visitor_id = str(form.get("visitor_id") or "")
    if not visitor_id or len(visitor_id) > 40:
        return await _page(request, user, status=400, site=site, errors={"form": N_("Which visitor? Find them first.")})
    if form.get("confirm") != "yes":
        return await _page(request, user, status=400, site=site,
                           errors={"form": N_("Confirm the erasure with “Erase for good”.")})
    found, _ = await privacy.find(user, site.id, visitor_id)
    if not any(v["id"] == visitor_id for v in found):
        return await _page(request, user, status=404, site=site, errors={"form": Message(N_("%(site)s has no such visitor."), site=site.name)})
    try:
        await privacy.erase(user, visitor_id)
    except ServiceError as exc:
        return await _page(request, user, status=404 if exc.code == "not_found" else 400, site=site,
                           errors={"form": exc.message})
    return RedirectResponse(f"{PATH}?{urlencode({'site': site.id, 'done': 'erased', 'erased': visitor_id})}",
                            status_code=303)


ROUTES = [
    Route(PATH, page, methods=["GET"]),
    Route(PATH + "/{site_id:int}", save, methods=["POST"]),
    Route(PATH + "/{site_id:int}/erase", erase, methods=["POST"]),
]
