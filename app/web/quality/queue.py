"""The Quality page (/quality): the signed-in evaluator's queue — each chat with its CSR, department, date,
why it is there and its status — with "Start evaluation" (a form POST: app/services/evaluations.py `start`,
then the evaluation's page); supervisors and admins may show every evaluator's items within their scope.
Also the console's "Flag for review": POST /api/quality/flags {conversation_id, reason?} (JSON, the
X-CSRF-Token header), a supervisor's or admin's, scope checked by app/services/sampling.py `flag`."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import i18n, runtime
from app.i18n import N_
from app.models import Department, SampleItem, User
from app.quality import sampling as pure
from app.services import ServiceError, evaluations, sampling, scope
from app.web import jsonapi
from app.web.admin.common import digits
from app.web.auth import check_csrf, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

STATUSES = ("open", "done", "all")


async def in_scope(user: User, rows: list[SampleItem]) -> list[SampleItem]:
    """The items whose chat `user` may evaluate (app/services/scope.py `evaluates`)."""
    if user.role in ("qa", "admin"):
        return rows
    reach = await scope.reach(user)
    return [r for r in rows if reach.covers(r.conversation.site_id, r.conversation.department_id)]


def _filters(request: Request, user: User) -> tuple[dict[str, Any], dict[str, str]]:
    q = request.query_params
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"who": q.get("who") or "me", "reason": q.get("reason") or "",
                              "agent": q.get("agent") or "", "status": q.get("status") or "open"}
    if values["who"] not in ("me", "all") or (values["who"] == "all" and user.role not in ("supervisor", "admin")):
        errors["who"] = i18n.gettext("Choose your queue or all evaluators.")
        values["who"] = "me"
    if values["reason"] and values["reason"] not in pure.REASONS:
        errors["reason"] = i18n.gettext("Unknown reason.")
        values["reason"] = ""
    if values["agent"] and not digits(values["agent"]):
        errors["agent"] = i18n.gettext("Choose a CSR from the list.")
        values["agent"] = ""
    if values["status"] not in STATUSES:
        errors["status"] = i18n.gettext("Unknown status.")
        values["status"] = "open"
    return values, errors


async def items_for(user: User, values: dict[str, Any]) -> list[SampleItem]:
    query = SampleItem.all().select_related("conversation")
    if values["who"] == "me":
        query = query.filter(evaluator_id=user.id)
    if values["status"] != "all":
        query = query.filter(status=values["status"])
    if values["reason"]:
        query = query.filter(reason=values["reason"])
    if values["agent"]:
        query = query.filter(agent_id=int(values["agent"]))
    return await in_scope(user, await query.order_by("-created_at", "-id"))


async def page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    if not scope.may_evaluate(user):
        return Response(i18n.gettext("The Quality pages are for evaluators, supervisors and admins."),
                        status_code=403, media_type="text/plain")
    request.state.user = user
    values, errors = _filters(request, user)
    items = await items_for(user, values)
    # One row per chat, its reasons together (a chat may be queued for several).
    grouped: dict[int, dict[str, Any]] = {}
    zone = ZoneInfo(runtime.current().settings.center_time_zone)
    for item in items:
        row = grouped.get(item.conversation_id)
        if row is None:
            chat = item.conversation
            at = chat.closed_at or chat.requested_at
            row = grouped[item.conversation_id] = {
                "conversation_id": item.conversation_id, "agent_id": item.agent_id, "evaluator_id": item.evaluator_id,
                "department_id": item.department_id, "date": at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "closed": chat.status == "closed", "status": item.status, "reasons": []}
        row["reasons"].append({"reason": item.reason, "label": i18n.gettext(pure.REASON_LABELS.get(item.reason, item.reason)),
                               "detail": pure.localize(item.detail, i18n.gettext)})
        if item.status == "open":
            row["status"] = "open"
    people_ids = {r["agent_id"] for r in grouped.values()} | {r["evaluator_id"] for r in grouped.values()}
    names = dict(await User.filter(id__in=[i for i in people_ids if i]).values_list("id", "display_name"))
    departments = dict(await Department.all().values_list("id", "name"))
    # The CSR filter offers the CSRs of the queue shown (without the CSR filter).
    agent_ids = await SampleItem.filter(**({"evaluator_id": user.id} if values["who"] == "me" else {})) \
        .distinct().values_list("agent_id", flat=True)
    agents = await User.filter(id__in=[a for a in agent_ids if a]).order_by("display_name").values("id", "display_name")
    response = console_templates.TemplateResponse(request, "quality/queue.html", {
        "user": user, "csrf_token": csrf_token(request), "rows": list(grouped.values()), "names": names,
        "departments": departments, "values": values, "errors": errors, "error": error, "agents": agents,
        "reasons": [(r, pure.REASON_LABELS[r]) for r in pure.REASONS],
        "may_switch": user.role in ("supervisor", "admin"),
        "may_edit_rules": user.role in ("supervisor", "admin"),
    }, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    return response


async def queue_page(request: Request) -> Response:
    return await page(request)


async def start(request: Request) -> Response:
    """"Start evaluation": a draft for the chat (or the evaluator's own draft), then its page."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    form = await request.form()
    if not check_csrf(request, form.get("csrf_token")):
        return await page(request, i18n.gettext("The page expired; reload it and try again."), 403)
    if not scope.may_evaluate(user):
        return Response(i18n.gettext("The Quality pages are for evaluators, supervisors and admins."),
                        status_code=403, media_type="text/plain")
    raw = form.get("conversation_id")
    if not isinstance(raw, str) or not digits(raw, 12):
        return await page(request, i18n.gettext("Choose a chat of the queue."), 400)
    try:
        evaluation = await evaluations.start(user, int(raw))
    except ServiceError as error:
        return await page(request, error.said(i18n.gettext), jsonapi.STATUS.get(error.code, 400))
    return RedirectResponse(f"/quality/evaluations/{evaluation.id}", status_code=303)


@jsonapi.endpoint(lambda user: user.role in sampling.FLAG_ROLES, N_("Only supervisors and admins flag chats for review."),
                  post=True)
async def flag(request: Request, user: User) -> Response:
    body = await jsonapi.read_json(request, max_bytes=4096, max_depth=4)
    item = await sampling.flag(user, body.get("conversation_id"), body.get("reason"))
    return jsonapi.ok({"item": {"id": item.id, "conversation_id": item.conversation_id, "reason": item.reason,
                                "detail": item.detail}}, status=201)


ROUTES = [
    Route("/quality", queue_page, methods=["GET"]),
    Route("/quality/start", start, methods=["POST"]),
    Route("/api/quality/flags", flag, methods=["POST"]),
]
