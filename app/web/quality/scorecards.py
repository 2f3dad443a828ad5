"""The Scorecards page (/quality/scorecards) and its JSON API (docs/quality.md "Scorecards and evaluations").

Evaluators (qa, supervisors, admins) read every scorecard and its version history; supervisors build and
change their departments' scorecards, admins any (app/services/scope.py `may_edit_scorecard`); a `qa`
user never changes one (403). Saving changed content adds a version (app/services/scorecards.py).

    GET  /api/quality/scorecards          → {scorecards: […], departments, categories, checks, may_create}
    POST /api/quality/scorecards          {name, description, department_id, category_id, active, sections}
    POST /api/quality/scorecards/{id}     the same: a new version when the content changed
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.i18n import N_
from app.models import Department, Scorecard, ScorecardVersion, User, WorkCategory
from app.quality import checks, scoring
from app.services import ServiceError, scope, scorecards
from app.web import jsonapi
from app.web.admin.common import digits
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

MAX_JSON = 256 * 1024
MAX_JSON_DEPTH = 8


async def page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    if not scope.may_evaluate(user):
        return Response("Not found", status_code=404, media_type="text/plain")
    request.state.user = user
    return console_templates.TemplateResponse(request, "quality/scorecards.html", {
        "user": user, "csrf_token": csrf_token(request)})


def _read():
    return jsonapi.endpoint(scope.may_evaluate, N_("Scorecards are for evaluators."), post=False)


def _write():
    return jsonapi.endpoint(lambda u: u.role in scope.SCORECARD_ROLES,
                            N_("Only supervisors and admins change scorecards."), post=True)


async def _listing(user: User) -> dict[str, Any]:
    cards = await Scorecard.all().order_by("name", "id")
    versions = await ScorecardVersion.all().order_by("scorecard_id", "-number") \
        .values("id", "scorecard_id", "number", "sections", "created_at", "created_by__display_name")
    by_card: dict[int, list[dict]] = {}
    for v in versions:
        by_card.setdefault(v["scorecard_id"], []).append(v)
    departments = await Department.all().order_by("name").values("id", "name", "site__name")
    categories = await WorkCategory.filter(active=True).order_by("position", "name").values("id", "name", "parent_id")
    names = {d["id"]: d["name"] for d in departments}
    category_names = {c["id"]: c["name"] for c in await WorkCategory.all().values("id", "name")}
    out = []
    for card in cards:
        history = by_card.get(card.id, [])
        latest = history[0] if history else None
        out.append({
            "id": card.id, "name": card.name, "description": card.description, "active": card.active,
            "department_id": card.department_id, "department": names.get(card.department_id),
            "category_id": card.category_id, "category": category_names.get(card.category_id),
            "version": latest["number"] if latest else None, "sections": latest["sections"] if latest else [],
            "editable": await scope.may_edit_scorecard(user, card.department_id),
            "versions": [{"number": v["number"], "at": v["created_at"].isoformat(),
                          "by": v["created_by__display_name"] or "",
                          "criteria": len(scoring.criteria(v["sections"]))} for v in history],
        })
    editable_departments = [d for d in departments if await scope.may_edit_scorecard(user, d["id"])]
    return {
        "scorecards": out,
        "departments": [{"id": d["id"], "name": d["name"], "site": d["site__name"]} for d in editable_departments],
        "categories": categories,
        "may_create": user.role in scope.SCORECARD_ROLES,
        "may_center": await scope.may_edit_scorecard(user, None),
        "checks": list(scoring.AUTO_CHECKS),
        "default_gap": checks.DEFAULT_GAP_SECONDS,
        "phrases": {kind: lists for kind, lists in checks.PHRASES.items()},
    }


@_read()
async def listing(request: Request, user: User) -> Response:
    return jsonapi.ok(await _listing(user))


async def _save(request: Request, user: User, scorecard_id: int | None) -> Response:
    body = await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ServiceError("invalid", "Active is yes or no.", field="active")
    card, version = await scorecards.save(
        user, name=body.get("name"), sections=body.get("sections"), department_id=body.get("department_id"),
        category_id=body.get("category_id"), description=body.get("description", ""), scorecard_id=scorecard_id,
        active=active)
    return jsonapi.ok({"scorecard": scorecards.describe(card, version)}, status=201 if scorecard_id is None else 200)


@_write()
async def create(request: Request, user: User) -> Response:
    return await _save(request, user, None)


@_write()
async def change(request: Request, user: User) -> Response:
    raw = request.path_params["scorecard_id"]
    if not digits(raw, 9):
        raise ServiceError("not_found", "No such scorecard.")
    return await _save(request, user, int(raw))


ROUTES: list[Route] = [
    Route("/quality/scorecards", page, methods=["GET"]),
    Route("/api/quality/scorecards", listing, methods=["GET"]),
    Route("/api/quality/scorecards", create, methods=["POST"]),
    Route("/api/quality/scorecards/{scorecard_id:str}", change, methods=["POST"]),
]
