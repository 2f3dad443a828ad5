"""Coaching pages: /quality/coaching (the sessions one reads — follow-ups due first — and, for
supervisors and admins, "New coaching session") and /quality/coaching/{id} (a session; its coach's
supervisors and admins edit it, the CSR reads it). A refusal draws the form again with the message
beside its field (400), nothing stored; a session one may not read is 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import i18n
from app.i18n import N_
from app.services import ServiceError, coaching
from app.web.quality import forms

NOTICES = {"created": N_("Coaching session saved."), "changed": N_("Changes saved.")}
ROLES = ("agent", "qa", "supervisor", "admin")
NOT_FOR_YOU = N_("Coaching is for CSRs and their supervisors.")


def _data(form: Any, *, with_agent: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {k: str(form.get(k) or "") for k in ("agent_id", "held_on", "follow_up_on", "topics", "goals")}
    values["evaluation_ids"] = [str(v) for v in form.getlist("evaluation_ids")]
    linked = forms.numbers(values["evaluation_ids"])
    data = {"held_on": values["held_on"], "follow_up_on": values["follow_up_on"], "topics": form.get("topics"),
            "goals": form.get("goals"), "evaluation_ids": linked if linked is not None else ["?"]}
    if with_agent:
        data["agent_id"] = forms.number(values["agent_id"])
    return data, values


async def _index(request: Request, user, *, status: int = 200, errors=None, values=None) -> Response:
    agent = forms.number(request.query_params.get("agent"))
    picked = agent if agent is not None else forms.number((values or {}).get("agent_id"))
    notice = NOTICES.get(request.query_params.get("done") or "") if status == 200 else None
    return forms.render(request, user, "quality/coaching.html", status=status,
                        rows=await coaching.sessions(user, agent_id=agent), may_edit=coaching.may_edit(user),
                        staff=await coaching.coachable(user),
                        linkable=await coaching.evaluations_of(user, picked) if picked else [],
                        picked=picked, notice=notice, errors=errors or {}, values=values or {})


async def index(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    if user.role not in ROLES:
        return forms.plain(i18n.gettext(NOT_FOR_YOU), 403)
    return await _index(request, user)


async def create(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    if not coaching.may_edit(user):
        return forms.plain(i18n.gettext("Supervisors and admins hold coaching sessions."), 403)
    data, values = _data(form, with_agent=True)
    try:
        session = await coaching.create(user, data)
    except ServiceError as error:
        return await _index(request, user, status=forms.status_of(error), errors=forms.error_of(error), values=values)
    return RedirectResponse(f"/quality/coaching/{session.id}?done=created", status_code=303)


async def _one(request: Request, user, session_id: int, *, status: int = 200, errors=None, values=None) -> Response:
    try:
        session = await coaching.get(user, session_id)
    except ServiceError as error:
        return forms.refusal(error)
    editable = await coaching.may_change(user, session)
    if values is None:
        values = {"held_on": session.held_on.isoformat(), "topics": session.topics, "goals": session.goals,
                  "follow_up_on": session.follow_up_on.isoformat() if session.follow_up_on else "",
                  "evaluation_ids": [str(i) for i in session.evaluation_ids or []]}
    notice = NOTICES.get(request.query_params.get("done") or "") if status == 200 else None
    return forms.render(request, user, "quality/coaching_session.html", status=status, session=session,
                        editable=editable, linkable=await coaching.evaluations_of(user, session.agent_id),
                        notice=notice, errors=errors or {}, values=values)


async def one(request: Request) -> Response:
    user, refused = await forms.signed_in(request)
    if refused is not None:
        return refused
    return await _one(request, user, request.path_params["session_id"])


async def change(request: Request) -> Response:
    user, form, refused = await forms.posted(request)
    if refused is not None:
        return refused
    session_id = request.path_params["session_id"]
    data, values = _data(form, with_agent=False)
    try:
        await coaching.change(user, session_id, data)
    except ServiceError as error:
        if error.code == "not_found":
            return forms.refusal(error)
        return await _one(request, user, session_id, status=forms.status_of(error), errors=forms.error_of(error),
                          values=values)
    return RedirectResponse(f"/quality/coaching/{session_id}?done=changed", status_code=303)


ROUTES = [
    Route("/quality/coaching", index, methods=["GET"]),
    Route("/quality/coaching", create, methods=["POST"]),
    Route("/quality/coaching/{session_id:int}", one, methods=["GET"]),
    Route("/quality/coaching/{session_id:int}", change, methods=["POST"]),
]
