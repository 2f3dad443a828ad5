"""Sampling rules (/quality/sampling): per department (or the general queues), how many random closed chats
per CSR per week, which triggers queue a chat (a bad rating, a handle time above the department's 90th
percentile, a transfer, complaint categories) and the evaluators whose queues they fill. Supervisors
edit their departments' rules, admins any (app/services/scope.py `may_edit_scorecard`); `qa` users read
them. A form POST with the CSRF token; errors beside the fields, nothing stored."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from tortoise.transactions import in_transaction

from app import i18n
from app.models import Department, SamplingRule, User, WorkCategory
from app.services import evaluations, scope
from app.web.admin.common import digits
from app.web.auth import check_csrf, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

MAX_PER_WEEK = 50


async def _departments(user: User) -> list[dict[str, Any]]:
    """Every department (and the general queues as id None) with whether `user` may edit its rule."""
    out = [{"id": None, "name": i18n.gettext("General queues (no department)"),
            "editable": await scope.may_edit_scorecard(user, None)}]
    for d in await Department.all().order_by("name").values("id", "name", "site_id"):
        out.append({"id": d["id"], "name": d["name"], "site_id": d["site_id"],
                    "editable": await scope.may_edit_scorecard(user, d["id"])})
    if user.role == "supervisor":  # only what they oversee
        out = [d for d in out if d["editable"]]
    return out


async def _render(request: Request, user: User, errors: dict[str, dict[str, str]] | None = None,
                  posted: dict[str, Any] | None = None, saved: str | None = None, status_code: int = 200) -> Response:
    departments = await _departments(user)
    rules = {r.department_id: r for r in await SamplingRule.all().prefetch_related("evaluators").order_by("id")}
    evaluators = await User.filter(is_active=True, role__in=scope.QA_ROLES).order_by("display_name") \
        .values("id", "display_name", "role")
    categories = await WorkCategory.filter(active=True).order_by("parent_id", "position", "name") \
        .values("id", "name", "parent_id")
    names = {c["id"]: c["name"] for c in categories}
    for c in categories:
        c["label"] = f"{names[c['parent_id']]} / {c['name']}" if c["parent_id"] in names else c["name"]
    sections = []
    for d in departments:
        key = "general" if d["id"] is None else str(d["id"])
        rule = rules.get(d["id"])
        if posted is not None and posted.get("key") == key:
            values = posted
        elif rule is not None:
            values = {"per_week": str(rule.per_agent_per_week), "on_bad_rating": rule.on_bad_rating,
                      "on_long_handle": rule.on_long_handle, "on_transfer": rule.on_transfer,
                      "categories": [c for c in rule.complaint_categories if isinstance(c, int)],
                      "evaluators": [e.id for e in rule.evaluators], "active": rule.active}
        else:
            values = {"per_week": "2", "on_bad_rating": True, "on_long_handle": True, "on_transfer": False,
                      "categories": [], "evaluators": [], "active": False}
        sections.append({"key": key, "department": d, "values": values, "exists": rule is not None,
                         "errors": (errors or {}).get(key, {})})
    response = console_templates.TemplateResponse(request, "quality/sampling.html", {
        "user": user, "csrf_token": csrf_token(request), "sections": sections, "evaluators": evaluators,
        "categories": categories, "saved": saved, "max_per_week": MAX_PER_WEEK,
    }, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    return response


async def _user(request: Request) -> User | Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    if not scope.may_evaluate(user):
        return Response(i18n.gettext("The Quality pages are for evaluators, supervisors and admins."),
                        status_code=403, media_type="text/plain")
    request.state.user = user
    return user


async def rules_page(request: Request) -> Response:
    user = await _user(request)
    if isinstance(user, Response):
        return user
    saved = request.query_params.get("saved")
    return await _render(request, user, saved=saved if saved and len(saved) < 12 else None)


def _ids(raw: list[str]) -> list[int] | None:
    if not all(isinstance(v, str) and digits(v) for v in raw):
        return None
    return sorted({int(v) for v in raw})


async def save_rule(request: Request) -> Response:
    user = await _user(request)
    if isinstance(user, Response):
        return user
    form = await request.form()
    key = form.get("department")
    if not isinstance(key, str) or not (key == "general" or digits(key)):
        return Response(i18n.gettext("No such department."), status_code=404, media_type="text/plain")
    department_id = None if key == "general" else int(key)
    department = None
    if department_id is not None:
        department = await Department.get_or_none(id=department_id)
        if department is None:
            return Response(i18n.gettext("No such department."), status_code=404, media_type="text/plain")
    if not await scope.may_edit_scorecard(user, department_id):
        if user.role == "supervisor" and department_id is not None:  # not theirs: like a missing one
            return Response(i18n.gettext("No such department."), status_code=404, media_type="text/plain")
        return Response(i18n.gettext("Only supervisors and admins change sampling rules."), status_code=403,
                        media_type="text/plain")
    posted: dict[str, Any] = {
        "key": key, "per_week": str(form.get("per_week") or "")[:12],
        "on_bad_rating": form.get("on_bad_rating") == "1", "on_long_handle": form.get("on_long_handle") == "1",
        "on_transfer": form.get("on_transfer") == "1", "active": form.get("active") == "1",
        "categories": [], "evaluators": []}
    errors: dict[str, str] = {}
    if not check_csrf(request, form.get("csrf_token")):
        errors["form"] = i18n.gettext("The page expired; reload it and try again.")
    raw = posted["per_week"].strip()
    if not digits(raw, 3) or int(raw) > MAX_PER_WEEK:
        errors["per_week"] = i18n.gettext("A whole number from 0 to %(most)s.") % {"most": MAX_PER_WEEK}
    categories = _ids(form.getlist("categories"))
    if categories is None:
        errors["categories"] = i18n.gettext("Choose categories from the list.")
    else:
        posted["categories"] = categories
        known = set(await WorkCategory.filter(id__in=categories).values_list("id", flat=True))
        if known != set(categories):
            errors["categories"] = i18n.gettext("Choose categories from the list.")
    evaluator_ids = _ids(form.getlist("evaluators"))
    if evaluator_ids is None or len(evaluator_ids or []) > 100:
        errors["evaluators"] = i18n.gettext("Choose evaluators from the list.")
    else:
        posted["evaluators"] = evaluator_ids
        people = await User.filter(id__in=evaluator_ids, is_active=True, role__in=scope.QA_ROLES)
        if len(people) != len(evaluator_ids):
            errors["evaluators"] = i18n.gettext("Choose evaluators from the list.")
        else:
            for person in people:
                if person.role != "supervisor":
                    continue
                # A supervisor evaluates their departments' chats (the general queues: one in no department).
                fits = (await scope.evaluates(person, department.site_id, department_id) if department is not None
                        else await scope.may_edit_scorecard(person, None))
                if not fits:
                    errors["evaluators"] = i18n.gettext("%(name)s does not supervise this department.") % {
                        "name": person.display_name}
                    break
    if posted["active"] and not evaluator_ids and "evaluators" not in errors:
        errors["evaluators"] = i18n.gettext("An active rule needs at least one evaluator.")
    if errors:
        return await _render(request, user, errors={key: errors}, posted=posted, status_code=400)
    async with in_transaction() as db:
        rule = await SamplingRule.filter(department_id=department_id).using_db(db).order_by("id").first()
        fields = {"per_agent_per_week": int(raw), "on_bad_rating": posted["on_bad_rating"],
                  "on_long_handle": posted["on_long_handle"], "on_transfer": posted["on_transfer"],
                  "complaint_categories": posted["categories"], "active": posted["active"]}
        if rule is None:
            rule = await SamplingRule.create(department_id=department_id, using_db=db, **fields)
        else:
            await SamplingRule.filter(id=rule.id).using_db(db).update(**fields)
        await rule.evaluators.clear(using_db=db)
        if evaluator_ids:
            await rule.evaluators.add(*await User.filter(id__in=evaluator_ids).using_db(db), using_db=db)
        await evaluations.record("sampling_rule_saved", actor_id=user.id, using_db=db, rule_id=rule.id,
                                 department_id=department_id, evaluators=evaluator_ids, **fields)
    return RedirectResponse(f"/quality/sampling?saved={key}#rule-{key}", status_code=303)


ROUTES = [
    Route("/quality/sampling", rules_page, methods=["GET"]),
    Route("/quality/sampling", save_rule, methods=["POST"]),
]
