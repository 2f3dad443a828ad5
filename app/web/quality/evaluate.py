"""The evaluation form: an evaluator scores a draft — the transcript (messages, internal notes, transfers,
the visitor's trail at the time, comments pinned to messages) beside the scorecard, its automatic checks
pre-filled (app/quality/checks.py) — and its JSON API (docs/quality.md "Scorecards and evaluations"):

    POST /api/quality/evaluations                      {conversation_id[, calibration_id]} → {id, url}
    PUT|POST /api/quality/evaluations/{id}/draft       {answers, automatic, notes}
    POST /api/quality/evaluations/{id}/submit          {answers, automatic, notes} → {score, url}
    POST /api/quality/evaluations/{id}/comments        {message_id, body} → {comment}

`transcript_context(evaluation)` builds what agent_ui/templates/quality/_transcript.html shows (the
result page includes it too)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import i18n, runtime
from app.i18n import N_
from app.models import (
    CalibrationSession, Conversation, ConversationEvent, Department, Evaluation, EvaluationComment, Message,
    PageView, ScorecardVersion, User,
)
from app.services import ServiceError, autochecks, evaluations, qa_comments, scope
from app.web import jsonapi
from app.web.admin.common import digits
from app.web.auth import check_csrf, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

MAX_JSON = 64 * 1024
MAX_JSON_DEPTH = 6
TRAIL_BEFORE = timedelta(minutes=30)  # the visitor's trail: from half an hour before the chat …
TRAIL_AFTER = timedelta(minutes=5)  # … to a few minutes after it
MAX_TRAIL = 50
MAX_MESSAGES = 2000


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(runtime.current().settings.center_time_zone)
    except Exception:  # noqa: BLE001 — no runtime (a script): UTC
        return ZoneInfo("UTC")


def _when(value: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    if value is None:
        return None
    local = value.astimezone(zone)
    return {"iso": value.isoformat(), "time": local.strftime("%H:%M:%S"), "date": local.strftime("%Y-%m-%d %H:%M")}


def _comment(c: dict, names: dict[int, str], zone: ZoneInfo) -> dict[str, Any]:
    return {"id": c["id"], "body": c["body"], "author": names.get(c["author_id"], ""),
            "at": _when(c["created_at"], zone)}


async def transcript_context(evaluation: Evaluation, *, commenting: bool = False) -> dict[str, Any]:
    """{"transcript": …} for quality/_transcript.html: the chat's messages (sender, time, internal notes,
    transfer notes) and transfers in order, the comments pinned to each message, and the visitor's page
    views around the chat. `commenting`: show "Comment on this message" (the evaluator's draft form)."""
    chat = await Conversation.get(id=evaluation.conversation_id)
    return await _transcript(chat, evaluation.id, commenting)


async def _transcript(chat: Conversation, evaluation_id: int | None, commenting: bool) -> dict[str, Any]:
    zone = _zone()
    messages = await Message.filter(conversation_id=chat.id).order_by("seq").limit(MAX_MESSAGES) \
        .values("id", "seq", "sender_kind", "author_name", "body", "created_at")
    transfers = await ConversationEvent.filter(conversation_id=chat.id, kind="transferred").order_by("at") \
        .values("at", "data")
    comments = await EvaluationComment.filter(evaluation_id=evaluation_id).order_by("id") \
        .values("id", "message_id", "author_id", "body", "created_at") if evaluation_id is not None else []
    user_ids = {chat.agent_id} if chat.agent_id else set()
    for t in transfers:
        user_ids |= {x for x in (t["data"].get("from_agent_id"), t["data"].get("to_agent_id")) if isinstance(x, int)}
    user_ids |= {c["author_id"] for c in comments if c["author_id"]}
    names = dict(await User.filter(id__in=list(user_ids)).values_list("id", "display_name")) if user_ids else {}
    departments = {t["data"].get("to_department_id") for t in transfers} - {None}
    department_names = dict(await Department.filter(id__in=list(departments)).values_list("id", "name")) \
        if departments else {}
    pinned: dict[int, list[dict]] = {}
    for c in comments:
        if c["message_id"] is not None:
            pinned.setdefault(c["message_id"], []).append(_comment(c, names, zone))

    items: list[tuple[datetime, int, dict]] = []
    for m in messages:
        kind = m["sender_kind"]
        sender = m["author_name"] or ""
        if kind == "visitor":
            sender = ""  # shown as "Visitor"
        items.append((m["created_at"], 1, {
            "type": "message", "id": m["id"], "seq": m["seq"], "kind": kind, "sender": sender, "body": m["body"],
            "at": _when(m["created_at"], zone), "comments": pinned.get(m["id"], [])}))
    for t in transfers:
        data = t["data"] or {}
        to = names.get(data.get("to_agent_id")) or department_names.get(data.get("to_department_id")) or ""
        items.append((t["at"], 0, {"type": "transfer", "from": names.get(data.get("from_agent_id"), ""), "to": to,
                                   "has_note": bool(data.get("has_note")), "at": _when(t["at"], zone)}))
    items.sort(key=lambda x: (x[0], x[1]))

    start = chat.requested_at - TRAIL_BEFORE
    end = (chat.closed_at or chat.requested_at) + TRAIL_AFTER
    views = await PageView.filter(visitor_id=chat.visitor_id, at__gte=start, at__lte=end).order_by("at") \
        .limit(MAX_TRAIL).values("url", "title", "at")
    trail = [{"url": v["url"], "title": v["title"] or "", "at": _when(v["at"], zone),
              "during": chat.requested_at <= v["at"] <= (chat.closed_at or v["at"])} for v in views]
    return {"transcript": {
        "evaluation_id": evaluation_id, "conversation_id": chat.id, "agent": names.get(chat.agent_id, ""),
        "requested": _when(chat.requested_at, zone), "closed": _when(chat.closed_at, zone),
        "items": [i[2] for i in items], "trail": trail, "commenting": commenting,
        "loose_comments": [_comment(c, names, zone) for c in comments if c["message_id"] is None]}}


async def form_context(evaluation: Evaluation) -> dict[str, Any]:
    """The scorecard as the form shows it: each criterion with its answer so far (saved, else the automatic
    check's, marked automatic) and note."""
    version = await ScorecardVersion.get(id=evaluation.scorecard_version_id).prefetch_related("scorecard")
    saved = await evaluations.answers_of(evaluation.id)
    automatic = await autochecks.for_evaluation(evaluation)
    sections = []
    for section in version.sections:
        criteria = []
        for c in section["criteria"]:
            answer = saved.get(c["key"])
            if answer is not None:
                value, auto, note = answer["value"], answer["automatic"], answer["note"]
            elif c["key"] in automatic:
                value, auto, note = automatic[c["key"]], True, ""
            else:
                value, auto, note = "", False, ""
            choices = ["yes", "no", "na"] if c["scale"] == "yes_no" else ["1", "2", "3", "4", "5", "na"]
            criteria.append({**c, "value": value, "automatic": auto, "note": note, "choices": choices})
        sections.append({"title": section["title"], "criteria": criteria})
    return {"scorecard": {"name": version.scorecard.name, "version": version.number}, "sections": sections}


async def page(request: Request, user: User, evaluation: Evaluation) -> Response:
    context = {"user": user, "csrf_token": csrf_token(request), "evaluation": evaluation}
    context.update(await transcript_context(evaluation, commenting=True))
    context.update(await form_context(evaluation))
    return console_templates.TemplateResponse(request, "quality/evaluate.html", context)


async def chat_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """/quality/chats/{id}: any closed chat in the evaluator's reach, its transcript and "Start evaluation"
    (for a chat in no queue); a chat out of reach is 404 like one that does not exist."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    raw = request.path_params["conversation_id"]
    chat = await Conversation.get_or_none(id=int(raw)) if digits(raw, 9) else None
    if chat is None or not scope.may_evaluate(user) or not await scope.evaluates(user, chat.site_id, chat.department_id):
        return Response(i18n.gettext("No such conversation."), status_code=404, media_type="text/plain")
    request.state.user = user
    solo = await Evaluation.filter(conversation_id=chat.id, calibration_id=None).first()
    existing = None
    if solo is not None and (solo.evaluator_id == user.id or solo.status == "submitted"):
        existing = {"url": _url(solo.id), "draft": solo.status == "draft"}
    context = {"user": user, "csrf_token": csrf_token(request), "chat": chat, "existing": existing,
               "taken": solo is not None and existing is None, "error": error}
    context.update(await _transcript(chat, None, False))
    return console_templates.TemplateResponse(request, "quality/chat.html", context, status_code=status)


async def chat_start(request: Request) -> Response:
    """The page's "Start evaluation" form: a draft, then its form (errors shown on the page)."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    said = i18n.translations(staff_language(request)).gettext
    raw = request.path_params["conversation_id"]
    form = await request.form()
    if not check_csrf(request, form.get("csrf_token")):
        return Response(said("The page expired; reload it and try again."), status_code=403, media_type="text/plain")
    if not scope.may_evaluate(user) or not digits(raw, 9):
        return Response(said("No such conversation."), status_code=404, media_type="text/plain")
    try:
        evaluation = await evaluations.start(user, int(raw))
    except ServiceError as exc:
        if exc.code == "not_found":
            return Response(exc.said(said), status_code=404, media_type="text/plain")
        return await chat_page(request, exc.said(said), status=409 if exc.code == "conflict" else 400)
    return RedirectResponse(_url(evaluation.id), status_code=303)


# ---- the JSON API ------------------------------------------------------------------------------------------

def api(post: bool = True):
    return jsonapi.endpoint(scope.may_evaluate, N_("Evaluations are for evaluators."), post=post)


async def _json(request: Request) -> dict[str, Any]:
    return await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)


def _evaluation_id(request: Request) -> int:
    raw = request.path_params["evaluation_id"]
    if not digits(raw, 9):
        raise ServiceError("not_found", "No such evaluation.")
    return int(raw)


def _url(evaluation_id: int) -> str:
    return f"/quality/evaluations/{evaluation_id}"


async def _calibration(user: User, calibration_id: object, conversation_id: object) -> CalibrationSession | None:
    """The open calibration session `user` scores `conversation_id` in (else not_found)."""
    if calibration_id is None:
        return None
    if isinstance(calibration_id, bool) or not isinstance(calibration_id, int):
        raise ServiceError("invalid", "A calibration id is a number.", field="calibration_id")
    session = await CalibrationSession.get_or_none(id=calibration_id, status="open")
    if session is None or conversation_id not in (session.conversation_ids or []) \
            or not await session.evaluators.filter(id=user.id).exists():
        raise ServiceError("not_found", "No such calibration session.")
    return session


@api()
async def start(request: Request, user: User) -> Response:
    """"Start evaluation": a draft of the chat (the evaluator's own draft again if they have one)."""
    body = await _json(request)
    if "conversation_id" not in body:
        raise ServiceError("invalid", "Which chat? Give conversation_id.", field="conversation_id")
    session = await _calibration(user, body.get("calibration_id"), body["conversation_id"])
    if session is not None:
        version = await ScorecardVersion.get(id=session.scorecard_version_id)
        evaluation = await evaluations.start(user, body["conversation_id"], session.id, version=version)
    else:
        evaluation = await evaluations.start(user, body["conversation_id"])
    return jsonapi.ok({"id": evaluation.id, "url": _url(evaluation.id)}, status=201)


def _answers_of(body: dict) -> tuple[Any, Any, Any]:
    return body.get("answers", {}), body.get("automatic"), body.get("notes")


@api()
async def save_draft(request: Request, user: User) -> Response:
    evaluation_id = _evaluation_id(request)
    answers, automatic, notes = _answers_of(await _json(request))
    await evaluations.save(user, evaluation_id, answers, automatic, notes)
    return jsonapi.ok({"id": evaluation_id})


@api()
async def submit(request: Request, user: User) -> Response:
    evaluation_id = _evaluation_id(request)
    answers, automatic, notes = _answers_of(await _json(request))
    done = await evaluations.submit(user, evaluation_id, answers, automatic, notes)
    return jsonapi.ok({"id": done.id, "score": done.score, "critical_failed": done.critical_failed,
                       "url": _url(done.id)})


@api()
async def comment(request: Request, user: User) -> Response:
    evaluation_id = _evaluation_id(request)
    body = await _json(request)
    created = await qa_comments.add(user, evaluation_id, body.get("message_id"), body.get("body"))
    return jsonapi.ok({"comment": {"id": created.id, "message_id": created.message_id, "body": created.body,
                                   "author": user.display_name, "at": _when(created.created_at, _zone())}},
                      status=201)


ROUTES: list[Route] = [
    Route("/quality/chats/{conversation_id:str}", chat_page, methods=["GET"]),
    Route("/quality/chats/{conversation_id:str}", chat_start, methods=["POST"]),
    Route("/api/quality/evaluations", start, methods=["POST"]),
    Route("/api/quality/evaluations/{evaluation_id:str}/draft", save_draft, methods=["PUT", "POST"]),
    Route("/api/quality/evaluations/{evaluation_id:str}/submit", submit, methods=["POST"]),
    Route("/api/quality/evaluations/{evaluation_id:str}/comments", comment, methods=["POST"]),
]
