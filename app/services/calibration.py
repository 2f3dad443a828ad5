"""Calibration sessions: several evaluators score the same closed chats blind, then the session's
lead compares their answers and sets the agreed answer (app/quality/calibration.py for the math).

- Who leads: whoever created the session, an admin, or a supervisor whose queues cover every chat of
  it. Evaluators (`qa` users, supervisors, admins) each score each chat with a calibration evaluation
  of their own (`evaluations.start(…, calibration_id=…)`, against the session's scorecard version),
  on the evaluation form. Anyone else: `not_found`.
- While the session is open an evaluator who does not lead it sees only their own answers; the lead
  sees, per chat and criterion, every evaluator's submitted answer, the spread and the agreed answer,
  which they set (`CalibrationSession.agreed`). Closing the session shows the table to its evaluators.
- Events: calibration_created, calibration_agreed, calibration_closed (QualityEvent).
- `deviation_report`: per evaluator and week or month, the share of their calibration answers that
  differ from the agreed answer and the mean |score − agreed score|.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.i18n import N_
from app.models import CalibrationSession, Conversation, Evaluation, EvaluationAnswer, ScorecardVersion, Scorecard, User
from app.quality import calibration as math
from app.quality import scoring
from app.services import ServiceError, evaluations, scope

MAX_NAME = 100
MAX_CHATS = 20
MAX_EVALUATORS = 20


def _ids(value: object, field: str, *, least: int, most: int, what: str) -> list[int]:
    """`what` is the whole refusal ("Choose the chats.")."""
    if not isinstance(value, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in value):
        raise ServiceError("bad_request", what, field)
    ids = list(dict.fromkeys(value))
    if len(ids) < least:
        raise ServiceError("bad_request", "Choose at least %(n)s.", field, n=least)
    if len(ids) > most:
        raise ServiceError("bad_request", "Choose at most %(n)s.", field, n=most)
    return ids


async def versions() -> list[dict[str, Any]]:
    """The latest version of each active scorecard: what a new session scores with."""
    out = []
    for card in await Scorecard.filter(active=True).order_by("name", "id"):
        latest = await ScorecardVersion.filter(scorecard_id=card.id).order_by("-number").first()
        if latest is not None:
            out.append({"id": latest.id, "name": card.name, "number": latest.number})
    return out


async def evaluators() -> list[dict[str, Any]]:
    return [{"id": u["id"], "name": u["display_name"], "role": u["role"]} for u in
            await User.filter(is_active=True, role__in=scope.QA_ROLES).order_by("display_name", "id")
            .values("id", "display_name", "role")]


async def recent_chats(user: User, limit: int = 30) -> list[dict[str, Any]]:
    """Recent closed chats of the user's queues that a CSR handled: what a session may pick."""
    query = Conversation.filter(status="closed", agent_id__isnull=False)
    if user.role == "supervisor":
        mine = scope.queue_filter(await scope.reach(user))
        if mine is not None:
            query = query.filter(mine)
    elif user.role not in ("qa", "admin"):
        return []
    rows = await query.order_by("-closed_at", "-id").limit(limit).values("id", "closed_at", "agent__display_name")
    return [{"id": r["id"], "closed_at": r["closed_at"], "agent": r["agent__display_name"]} for r in rows]


async def create(user: User, name: object, version_id: object, conversation_ids: object,
                 evaluator_ids: object) -> CalibrationSession:
    if not scope.may_evaluate(user):
        raise ServiceError("forbidden", "Evaluators hold calibration sessions.")
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("bad_request", "Name the session.", "name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ServiceError("bad_request", "At most %(n)s characters.", "name", n=MAX_NAME)
    if isinstance(version_id, bool) or not isinstance(version_id, int) \
            or (version := await ScorecardVersion.get_or_none(id=version_id)) is None:
        raise ServiceError("bad_request", "Choose a scorecard.", "scorecard_version_id")
    chats = _ids(conversation_ids, "conversation_ids", least=1, most=MAX_CHATS, what=N_("Choose the chats."))
    people = _ids(evaluator_ids, "evaluator_ids", least=2, most=MAX_EVALUATORS, what=N_("Choose the evaluators."))
    found = {c.id: c for c in await Conversation.filter(id__in=chats)}
    for cid in chats:
        chat = found.get(cid)
        if chat is None or not await scope.evaluates(user, chat.site_id, chat.department_id):
            raise ServiceError("bad_request", "Chat %(id)s is not one you may evaluate.", "conversation_ids", id=cid)
        if chat.status != "closed" or chat.agent_id is None:
            raise ServiceError("bad_request", "Chat %(id)s is not a closed chat with a CSR.", "conversation_ids", id=cid)
    staff = {u.id: u for u in await User.filter(id__in=people, is_active=True, role__in=scope.QA_ROLES)}
    for uid in people:
        person = staff.get(uid)
        if person is None:
            raise ServiceError("bad_request", "Choose evaluators (QA, supervisors, admins).", "evaluator_ids")
        for cid in chats:
            chat = found[cid]
            if not await scope.evaluates(person, chat.site_id, chat.department_id):
                raise ServiceError("bad_request", "%(name)s may not evaluate chat %(id)s.", "evaluator_ids",
                                   name=person.display_name, id=cid)
    async with in_transaction() as db:
        session = await CalibrationSession.create(name=name, scorecard_version_id=version.id, conversation_ids=chats,
                                                  created_by_id=user.id, agreed={}, using_db=db)
        await session.evaluators.add(*[staff[uid] for uid in people], using_db=db)
        await evaluations.record("calibration_created", actor_id=user.id, at=utcnow(), using_db=db,
                                 calibration_id=session.id, conversation_ids=chats, evaluator_ids=people,
                                 version_id=version.id)
    return session


async def _evaluator_ids(session: CalibrationSession) -> list[int]:
    return list(await session.evaluators.all().order_by("display_name", "id").values_list("id", flat=True))


async def may_lead(user: User, session: CalibrationSession) -> bool:
    if user.role == "admin" or session.created_by_id == user.id and scope.may_evaluate(user):
        return True
    if user.role != "supervisor":
        return False
    for chat in await Conversation.filter(id__in=session.conversation_ids):
        if not await scope.evaluates(user, chat.site_id, chat.department_id):
            return False
    return True


async def get(user: User, session_id: object) -> tuple[CalibrationSession, bool, bool]:
    """(the session, leads it, is one of its evaluators) — or `not_found`."""
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise ServiceError("not_found", "No such calibration session.")
    session = await CalibrationSession.get_or_none(id=session_id)
    if session is None or not scope.may_evaluate(user):
        raise ServiceError("not_found", "No such calibration session.")
    leads = await may_lead(user, session)
    evaluator = user.id in await _evaluator_ids(session)
    if not leads and not evaluator:
        raise ServiceError("not_found", "No such calibration session.")
    return session, leads, evaluator


async def sessions(user: User) -> list[dict[str, Any]]:
    if not scope.may_evaluate(user):
        return []
    out = []
    for session in await CalibrationSession.all().order_by("-created_at", "-id").limit(200):
        leads = await may_lead(user, session)
        evaluator = user.id in await _evaluator_ids(session)
        if leads or evaluator:
            out.append({"id": session.id, "name": session.name, "status": session.status,
                        "chats": len(session.conversation_ids), "created_at": session.created_at,
                        "leads": leads, "evaluator": evaluator})
    return out


async def start(user: User, session_id: object, conversation_id: object) -> Evaluation:
    session, _, evaluator = await get(user, session_id)
    if not evaluator:
        raise ServiceError("forbidden", "Only the session's evaluators score its chats.")
    if session.status != "open":
        raise ServiceError("conflict", "This calibration session is closed.")
    if conversation_id not in session.conversation_ids:
        raise ServiceError("bad_request", "This chat is not part of the session.", "conversation_id")
    version = await ScorecardVersion.get(id=session.scorecard_version_id)
    return await evaluations.start(user, conversation_id, calibration_id=session.id, version=version)


async def table(user: User, session: CalibrationSession, leads: bool) -> dict[str, Any]:
    """What the session page shows: per chat, each criterion with the answers `user` may see (all of
    them for its lead, or once closed; else only their own), the spread and the agreed answer."""
    version = await ScorecardVersion.get(id=session.scorecard_version_id)
    criteria = scoring.criteria(version.sections)
    reveal = leads or session.status == "closed"
    people = {u["id"]: u["display_name"] for u in
              await session.evaluators.all().order_by("display_name", "id").values("id", "display_name")}
    rows = await Evaluation.filter(calibration_id=session.id).values(
        "id", "conversation_id", "evaluator_id", "status", "score")
    answers: dict[int, dict[str, str]] = {}
    submitted = [r["id"] for r in rows if r["status"] == "submitted"]
    for a in await EvaluationAnswer.filter(evaluation_id__in=submitted).values("evaluation_id", "criterion", "value"):
        answers.setdefault(a["evaluation_id"], {})[a["criterion"]] = a["value"]
    shown = [uid for uid in people if reveal or uid == user.id]
    chats = []
    agents = {c["id"]: c["agent__display_name"] for c in
              await Conversation.filter(id__in=session.conversation_ids).values("id", "agent__display_name")}
    for cid in session.conversation_ids:
        by_person = {r["evaluator_id"]: r for r in rows if r["conversation_id"] == cid}
        agreed = (session.agreed or {}).get(str(cid), {})
        lines = []
        for c in criteria:
            values = {uid: answers.get(by_person[uid]["id"], {}).get(c["key"]) if uid in by_person else None
                      for uid in shown}
            spread = math.spread(c["scale"], [v for v in values.values() if v]) if reveal else None
            lines.append({"criterion": c, "answers": values, "spread": spread, "agreed": agreed.get(c["key"])})
        scores = {uid: by_person[uid]["score"] if uid in by_person and by_person[uid]["status"] == "submitted"
                  else None for uid in shown}
        mine = by_person.get(user.id)
        chats.append({"id": cid, "agent": agents.get(cid), "lines": lines, "scores": scores,
                      "score_spread": math.score_spread(scores.values()) if reveal else None,
                      "agreed_score": math.agreed_score(version.sections, agreed),
                      "mine": mine and {"id": mine["id"], "status": mine["status"]},
                      "done": sum(1 for r in by_person.values() if r["status"] == "submitted")})
    return {"people": [(uid, people[uid]) for uid in shown], "chats": chats, "reveal": reveal,
            "evaluator_count": len(people), "version": version}


async def set_agreed(user: User, session_id: object, conversation_id: object, answers: object) -> CalibrationSession:
    """The agreed answers of one chat ({criterion: answer}; an empty value clears one)."""
    session, leads, _ = await get(user, session_id)
    if not leads:
        raise ServiceError("forbidden", "The session's lead sets the agreed answers.")
    if conversation_id not in session.conversation_ids:
        raise ServiceError("bad_request", "This chat is not part of the session.", "conversation_id")
    if not isinstance(answers, dict):
        raise ServiceError("bad_request", "Answers are an object of criterion → answer.", "answers")
    version = await ScorecardVersion.get(id=session.scorecard_version_id)
    known = {c["key"]: c for c in scoring.criteria(version.sections)}
    parsed: dict[str, str | None] = {}
    for key, value in answers.items():
        if key not in known:
            raise ServiceError("bad_request", "Unknown criterion %(key)s.", "answers", key=str(key)[:40])
        if value in (None, ""):
            parsed[key] = None
            continue
        try:
            parsed[key] = scoring.check_answer(known[key], value)
        except scoring.ScorecardError as error:
            raise ServiceError("bad_request", error.message, f"agreed-{key}", **error.values) from None
    async with in_transaction() as db:
        locked = await CalibrationSession.filter(id=session.id).using_db(db).select_for_update().first()
        agreed = dict(locked.agreed or {})
        chat = dict(agreed.get(str(conversation_id), {}))
        for key, value in parsed.items():
            if value is None:
                chat.pop(key, None)
            else:
                chat[key] = value
        agreed[str(conversation_id)] = chat
        await CalibrationSession.filter(id=session.id).using_db(db).update(agreed=agreed)
        await evaluations.record("calibration_agreed", actor_id=user.id, conversation_id=conversation_id, at=utcnow(),
                                 using_db=db, calibration_id=session.id, agreed=chat)
    session.agreed = agreed
    return session


async def close(user: User, session_id: object) -> CalibrationSession:
    session, leads, _ = await get(user, session_id)
    if not leads:
        raise ServiceError("forbidden", "The session's lead closes it.")
    async with in_transaction() as db:
        if not await CalibrationSession.filter(id=session.id, status="open").using_db(db).update(status="closed"):
            raise ServiceError("conflict", "This calibration session is closed already.")
        await evaluations.record("calibration_closed", actor_id=user.id, at=utcnow(), using_db=db,
                                 calibration_id=session.id)
    session.status = "closed"
    return session


async def deviation_report(user: User, period: str = "week", since: date | None = None) -> list[dict[str, Any]]:
    """Evaluator deviation over the sessions `user` leads (app/quality/calibration.py `deviation`)."""
    if period not in math.PERIODS:
        raise ServiceError("bad_request", "A period is week or month.", "period")
    if not scope.may_evaluate(user):
        return []
    led = [s for s in await CalibrationSession.all() if await may_lead(user, s)]
    by_id = {s.id: s for s in led}
    if not by_id:
        return []
    query = Evaluation.filter(calibration_id__in=list(by_id), status="submitted")
    if since is not None:
        query = query.filter(submitted_at__gte=since)
    evals = await query.values("id", "calibration_id", "conversation_id", "evaluator_id", "score", "submitted_at",
                               "scorecard_version_id")
    answers: dict[int, dict[str, str]] = {}
    for a in await EvaluationAnswer.filter(evaluation_id__in=[e["id"] for e in evals]) \
            .values("evaluation_id", "criterion", "value"):
        answers.setdefault(a["evaluation_id"], {})[a["criterion"]] = a["value"]
    sections = {v.id: v.sections for v in await ScorecardVersion.filter(
        id__in=list({e["scorecard_version_id"] for e in evals}))}
    rows = []
    for e in evals:
        agreed = (by_id[e["calibration_id"]].agreed or {}).get(str(e["conversation_id"]), {})
        rows.append({"evaluator_id": e["evaluator_id"], "day": e["submitted_at"].date(), "answers": answers.get(e["id"], {}),
                     "score": e["score"], "agreed": agreed,
                     "agreed_score": math.agreed_score(sections[e["scorecard_version_id"]], agreed)})
    names = {u["id"]: u["display_name"] for u in
             await User.filter(id__in=list({e["evaluator_id"] for e in evals if e["evaluator_id"]})).values("id", "display_name")}
    return [{"evaluator_id": r.evaluator_id, "evaluator": names.get(r.evaluator_id, "—"), "period": r.period,
             "answers": r.answers, "differing": r.differing, "share": r.share, "chats_scored": r.chats_scored,
             "mean_score_gap": r.mean_score_gap}
            for r in math.deviation([r for r in rows if r["evaluator_id"] is not None], period)]
