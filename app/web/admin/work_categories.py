"""Admin page: the two-level category taxonomy of work orders (and of contacts) — add, rename,
deactivate, reactivate — and the SLA policies by category × priority (add, edit, delete).
Everything goes through app/services/work_setup.py, as the CLI (`work-setup`) does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.models import SlaPolicy, WorkCategory
from app.i18n import N_
from app.services import ServiceError, work_setup
from app.web.admin.common import (
    FieldError,
    Label,
    admin_form,
    admin_user,
    digits,
    form_values,
    render,
)
from app.workorders.workflow import PRIORITIES, PRIORITY_LABELS

PATH = "/admin/work-categories"
MINUTE_FIELDS = {"first_response_minutes": N_("First response"), "resolution_minutes": N_("Resolution")}
# The priorities' names (app/workorders/workflow.py PRIORITY_LABELS), translated where this page shows them.
PRIORITY_NAMES = (N_("Low"), N_("Normal"), N_("High"), N_("Urgent"))


def _tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level categories, each with its `children`, in the service's order."""
    tops = [{**c, "children": []} for c in rows if c["parent_id"] is None]
    by_id = {c["id"]: c for c in tops}
    for c in rows:
        if c["parent_id"] is not None and c["parent_id"] in by_id:
            by_id[c["parent_id"]]["children"].append(c)
    return tops


async def _context() -> dict[str, Any]:
    rows = await work_setup.categories()
    paths = {c["id"]: c["path"] for c in rows}
    active = {c["id"] for c in rows if c["active"]}
    policies = [{**p, "category": paths.get(p["category_id"]) if p["category_id"] is not None else None,
                 "category_active": p["category_id"] is None or p["category_id"] in active}
                for p in await work_setup.policies()]
    policies.sort(key=lambda p: ((p["category"] or "").lower(), PRIORITIES.index(p["priority"])
                                 if p["priority"] in PRIORITIES else -1, p["id"]))
    return {"tree": _tree(rows), "parents": [c for c in rows if c["parent_id"] is None and c["active"]],
            "pickable": await work_setup.categories(active_only=True), "policies": policies,
            "priorities": [(p, PRIORITY_LABELS[p]) for p in PRIORITIES], "priority_labels": PRIORITY_LABELS,
            "minute_fields": MINUTE_FIELDS}


async def page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    return render(request, user, "admin/work_categories.html", PATH, saved=request.query_params.get("saved"),
                  **await _context())


def _id_or_none(form: Any, name: str, message: str) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    if not digits(raw):
        raise FieldError(name, message)
    return int(raw)


async def _refused(request: Request, user: Any, form: Any, exc: ServiceError, failed: str) -> Response:
    """The page again (400), the message next to the field of the form `failed` (category | policy)."""
    return render(request, user, "admin/work_categories.html", PATH, status=400, values=form_values(form),
                  errors={exc.field or "form": exc.message}, failed=failed, **await _context())


# -- categories ------------------------------------------------------------------------------------

async def add_category(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    try:
        values = {"name": str(form.get("name") or ""),
                  "parent_id": _id_or_none(form, "parent_id", N_("Pick a top-level category from the list."))}
        saved = await work_setup.save_category(user, values)
    except ServiceError as exc:
        return await _refused(request, user, form, exc, "category")
    return RedirectResponse(f"{PATH}?saved=category-{saved.id}", status_code=303)


async def _category(request: Request) -> WorkCategory | None:
    return await WorkCategory.get_or_none(id=request.path_params["category_id"])


async def category_page(request: Request) -> Response:
    """/admin/work-categories/{id}: rename a category."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    category = await _category(request)
    if category is None:
        return Response("No such category.", status_code=404, media_type="text/plain")
    return render(request, user, "admin/work_categories.html", PATH, editing_category=await _category_view(category),
                  values={"name": category.name})


async def _category_view(category: WorkCategory) -> dict[str, Any]:
    return next(c for c in await work_setup.categories() if c["id"] == category.id)


async def rename_category(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    category = await _category(request)
    if category is None:
        return Response("No such category.", status_code=404, media_type="text/plain")
    try:
        await work_setup.save_category(user, {"name": str(form.get("name") or ""), "parent_id": category.parent_id,
                                              "active": category.active}, category_id=category.id)
    except ServiceError as exc:
        return render(request, user, "admin/work_categories.html", PATH, status=400,
                      editing_category=await _category_view(category), values=form_values(form),
                      errors={exc.field or "form": exc.message})
    return RedirectResponse(f"{PATH}?saved=category-{category.id}", status_code=303)


async def _set_active(request: Request, active: bool) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    category = await _category(request)
    if category is None:
        return Response("No such category.", status_code=404, media_type="text/plain")
    try:
        await work_setup.save_category(user, {"name": category.name, "parent_id": category.parent_id,
                                              "active": active}, category_id=category.id)
    except ServiceError as exc:
        return await _refused(request, user, form, exc, "category")
    return RedirectResponse(f"{PATH}?saved=category-{category.id}", status_code=303)


async def deactivate(request: Request) -> Response:
    return await _set_active(request, False)


async def reactivate(request: Request) -> Response:
    return await _set_active(request, True)


# -- SLA policies ----------------------------------------------------------------------------------

def _policy_values(form: Any) -> dict[str, Any]:
    """The form as `work_setup.save_policy` takes it: ids and minutes as numbers."""
    values: dict[str, Any] = {
        "category_id": _id_or_none(form, "category_id", N_("Pick a category from the list.")),
        "priority": str(form.get("priority") or "").strip() or None,
    }
    for name, label in MINUTE_FIELDS.items():
        raw = str(form.get(name) or "").strip()
        if not raw:
            values[name] = None
        elif digits(raw.removeprefix("-"), 12):
            values[name] = int(raw)  # the service says when it is out of range
        else:
            raise FieldError(name, N_("%(field)s is a whole number of minutes from 1 to %(most)s."), field=Label(label),
                             most=work_setup.MAX_MINUTES)
    return values


async def add_policy(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    try:
        saved = await work_setup.save_policy(user, _policy_values(form))
    except ServiceError as exc:
        return await _refused(request, user, form, exc, "policy")
    return RedirectResponse(f"{PATH}?saved=policy-{saved.id}", status_code=303)


def _policy_form(policy: SlaPolicy) -> dict[str, Any]:
    return {"category_id": str(policy.category_id or ""), "priority": policy.priority or "",
            **{name: "" if getattr(policy, name) is None else str(getattr(policy, name)) for name in MINUTE_FIELDS}}


async def policy_page(request: Request) -> Response:
    """/admin/work-categories/policies/{id}: edit a policy."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    policy = await SlaPolicy.get_or_none(id=request.path_params["policy_id"])
    if policy is None:
        return Response("No such policy.", status_code=404, media_type="text/plain")
    return render(request, user, "admin/work_categories.html", PATH, editing_policy=policy,
                  values=_policy_form(policy), **await _context())


async def save_policy(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    policy = await SlaPolicy.get_or_none(id=request.path_params["policy_id"])
    if policy is None:
        return Response("No such policy.", status_code=404, media_type="text/plain")
    try:
        await work_setup.save_policy(user, _policy_values(form), policy_id=policy.id)
    except ServiceError as exc:
        return render(request, user, "admin/work_categories.html", PATH, status=400, editing_policy=policy,
                      values=form_values(form), errors={exc.field or "form": exc.message}, **await _context())
    return RedirectResponse(f"{PATH}?saved=policy-{policy.id}", status_code=303)


async def delete_policy(request: Request) -> Response:
    user, _, refused = await admin_form(request)
    if refused is not None:
        return refused
    try:
        await work_setup.delete_policy(user, request.path_params["policy_id"])
    except ServiceError as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    return RedirectResponse(f"{PATH}?saved=policy-deleted", status_code=303)


ROUTES = [
    Route(PATH, page, methods=["GET"]),
    Route(PATH, add_category, methods=["POST"]),
    Route(PATH + "/{category_id:int}", category_page, methods=["GET"]),
    Route(PATH + "/{category_id:int}", rename_category, methods=["POST"]),
    Route(PATH + "/{category_id:int}/deactivate", deactivate, methods=["POST"]),
    Route(PATH + "/{category_id:int}/reactivate", reactivate, methods=["POST"]),
    Route(PATH + "/policies", add_policy, methods=["POST"]),
    Route(PATH + "/policies/{policy_id:int}", policy_page, methods=["GET"]),
    Route(PATH + "/policies/{policy_id:int}", save_policy, methods=["POST"]),
    Route(PATH + "/policies/{policy_id:int}/delete", delete_policy, methods=["POST"]),
]
