"""Admin page: departments (queues) — list, create, edit (strategy, members and skill levels,
capacity, offers, stickiness, SL threshold, priority, maximum wait, routing patterns and languages,
business hours in the department's own time zone, holidays) — and the general queue's hours per
site. Everything goes through app/services/departments.py, as the CLI does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import runtime
from app.models import Department, Site, User
from app.routing import hours
from app.routing.policy import STRATEGIES
from app.i18n import N_
from app.services import ServiceError, departments
from app.services.accounts import ROLE_LABELS
from app.web.admin.common import FieldError, Label, admin_form, admin_user, digits, form_values, render

PATH = "/admin/departments"
STRATEGY_LABELS = {
    "longest_idle": N_("Longest idle CSR first"), "least_busy": N_("Least busy CSR first"), "round_robin": N_("Round robin"),
    "skills": N_("Highest skill level first"), "manual": N_("Manual (CSRs pick from the queue)"),
}
NUMBER_FIELDS = {name: label for name, label, *_ in departments.NUMBERS}


def _number(form: Any, name: str) -> int | None | str:
    value = str(form.get(name) or "").strip()
    if not value:
        return None if dict((n, o) for n, *_, o in departments.NUMBERS)[name] else departments.DEFAULTS[name]
    if not digits(value.removeprefix("-")):
        raise FieldError(name, N_("%(field)s must be a whole number."), field=Label(NUMBER_FIELDS[name]))
    return int(value)


def _values(form: Any) -> tuple[dict[str, Any], dict[int, int]]:
    """The form as `departments.save` takes it: (values, members {user id: level})."""
    values: dict[str, Any] = {
        "name": str(form.get("name") or ""), "routing_strategy": str(form.get("routing_strategy") or ""),
        "classification": str(form.get("classification") or ""),
        "accept_after_hours": form.get("accept_after_hours") == "on",
        "business_hours": str(form.get("business_hours") or ""), "time_zone": str(form.get("time_zone") or ""),
        "holidays": str(form.get("holidays") or ""),
        "route_pages": str(form.get("route_pages") or "").splitlines(),
        "route_languages": str(form.get("route_languages") or "").replace(";", ",").split(","),
    }
    for name in NUMBER_FIELDS:
        values[name] = _number(form, name)
    members: dict[int, int] = {}
    for key in form.keys():
        if key.startswith("member_") and digits(key[7:]):
            raw = str(form.get(f"level_{key[7:]}") or "1").strip()
            if not digits(raw, 2):
                raise FieldError("members", N_("A skill level is a whole number from 1 to 10."))
            members[int(key[7:])] = int(raw)
    return values, members


async def _staff() -> list[User]:
    return await User.filter(is_active=True, role__in=departments.STAFF_ROLES).order_by("display_name")


async def _list_context() -> dict[str, Any]:
    sites = await Site.all().order_by("name")
    rows = await Department.all().order_by("name").prefetch_related("users")
    by_site: dict[int, list[Department]] = {}
    for d in rows:
        by_site.setdefault(d.site_id, []).append(d)
    general = {s.id: await departments.general_hours(s) for s in sites}
    return {"sites": sites, "by_site": by_site, "general": general, "strategy_labels": STRATEGY_LABELS,
            "center_zone": runtime.current().settings.center_time_zone, "holidays_text": hours.holidays_text}


def _form_context(values: dict, members: dict[int, int], staff: list[User]) -> dict[str, Any]:
    return {"values": values, "members": members, "staff": staff, "strategies": STRATEGIES,
            "strategy_labels": STRATEGY_LABELS, "role_labels": ROLE_LABELS, "zones": hours.zone_names(),
            "center_zone": runtime.current().settings.center_time_zone}


def _as_form(department: Department) -> dict[str, Any]:
    values = {k: getattr(department, k) for k in departments.DEFAULTS}
    values["route_pages"] = "\n".join(department.route_pages or [])
    values["route_languages"] = ", ".join(department.route_languages or [])
    values["holidays"] = hours.holidays_text(department.holidays)
    values["site_id"] = department.site_id
    return values


async def list_page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    return render(request, user, "admin/departments.html", PATH, saved=request.query_params.get("saved"),
                  **await _list_context())


async def edit_page(request: Request) -> Response:
    """/admin/departments/new?site=ID and /admin/departments/{id}."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    sites = await Site.all().order_by("name")
    raw = request.path_params.get("department_id")
    if raw is None:
        if not sites:
            return RedirectResponse("/admin/sites", status_code=303)
        values = {**departments.DEFAULTS, "site_id": _site_param(request, sites)}
        return render(request, user, "admin/department_form.html", PATH, department=None, sites=sites,
                      **_form_context(values, {}, await _staff()))
    department = await Department.get_or_none(id=raw)
    if department is None:
        return Response("No such department.", status_code=404, media_type="text/plain")
    return render(request, user, "admin/department_form.html", PATH, department=department, sites=sites,
                  **_form_context(_as_form(department), await departments.members_of(department.id), await _staff()))


def _site_param(request: Request, sites: list[Site]) -> int:
    raw = request.query_params.get("site", "")
    ids = [s.id for s in sites]
    return int(raw) if digits(raw) and int(raw) in ids else ids[0]


async def save(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    raw = request.path_params.get("department_id")
    department = await Department.get_or_none(id=raw) if raw is not None else None
    if raw is not None and department is None:
        return Response("No such department.", status_code=404, media_type="text/plain")
    sites = await Site.all().order_by("name")
    site_raw = str(form.get("site_id") or "")
    site_id = department.site_id if department else (int(site_raw) if digits(site_raw) else -1)
    members: dict[int, int] = {}
    try:
        values, members = _values(form)
        if department is None and site_id not in [s.id for s in sites]:
            raise FieldError("site_id", N_("Choose one of the sites."))
        saved = await departments.save(user, site_id, values, members,
                                       department_id=department.id if department else None)
    except ServiceError as exc:
        shown = form_values(form)
        shown.setdefault("site_id", site_id)
        if department is not None:
            shown["site_id"] = department.site_id
        field = exc.field or "form"
        return render(request, user, "admin/department_form.html", PATH, status=400 if exc.code != "not_found" else 404,
                      department=department, sites=sites, errors={field: exc.message},
                      **_form_context(shown, _members_typed(form), await _staff()))
    return RedirectResponse(f"{PATH}?saved={saved.id}", status_code=303)


def _members_typed(form: Any) -> dict[int, int]:
    out = {}
    for key in form.keys():
        if key.startswith("member_") and digits(key[7:]):
            level = str(form.get(f"level_{key[7:]}") or "1")
            out[int(key[7:])] = int(level) if digits(level, 3) else 1
    return out


async def general_page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    site = await Site.get_or_none(id=request.path_params["site_id"])
    if site is None:
        return Response("No such site.", status_code=404, media_type="text/plain")
    stored = await departments.general_hours(site)
    values = {**stored, "holidays": hours.holidays_text(stored["holidays"])}
    return render(request, user, "admin/general_hours.html", PATH, site=site, values=values, zones=hours.zone_names(),
                  center_zone=runtime.current().settings.center_time_zone)


async def general_save(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    site = await Site.get_or_none(id=request.path_params["site_id"])
    if site is None:
        return Response("No such site.", status_code=404, media_type="text/plain")
    values = {k: str(form.get(k) or "") for k in ("business_hours", "time_zone", "holidays")}
    try:
        await departments.save_general_hours(user, site.id, values)
    except ServiceError as exc:
        return render(request, user, "admin/general_hours.html", PATH, status=400, site=site, values=values,
                      zones=hours.zone_names(), center_zone=runtime.current().settings.center_time_zone,
                      errors={exc.field or "form": exc.message})
    return RedirectResponse(f"{PATH}?saved=general-{site.id}", status_code=303)


ROUTES = [
    Route(PATH, list_page, methods=["GET"]),
    Route(f"{PATH}/new", edit_page, methods=["GET"]),
    Route(f"{PATH}/new", save, methods=["POST"]),
    Route(PATH + "/{department_id:int}", edit_page, methods=["GET"]),
    Route(PATH + "/{department_id:int}", save, methods=["POST"]),
    Route(PATH + "/general/{site_id:int}", general_page, methods=["GET"]),
    Route(PATH + "/general/{site_id:int}", general_save, methods=["POST"]),
]
