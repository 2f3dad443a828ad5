"""Coaching sessions: a coach's session with a CSR — date, topics, goals, linked evaluations of that
CSR, a follow-up date.

- Supervisors (for the staff they oversee, `scope.evaluation_reach`) and admins (anyone) create and
  edit them; a supervisor never coaches themselves.
- A CSR reads their own, read-only; a `qa` user reads everyone's (they read every evaluation), read-only.
  Anything else is `not_found`, like an id that does not exist.
- Linked evaluations are submitted evaluations (outside calibration) of that same CSR.
- Creating one appends a `coached` QualityEvent, changing one a `coaching_edited`, each in the
  transaction of its write.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.models import CoachingSession, Evaluation, User
from app.services import ServiceError, evaluations, scope, text_field

EDITOR_ROLES = ("supervisor", "admin")
COACHED_ROLES = ("agent", "supervisor")
MAX_TEXT = 4000
MAX_LINKED = 20


def may_edit(user: User) -> bool:
    return user.role in EDITOR_ROLES


async def coachable(user: User) -> list[dict[str, Any]]:
    """The staff `user` may coach: [{id, name}] by name."""
    if not may_edit(user):
        return []
    _, staff = await scope.evaluation_reach(user)
    query = User.filter(is_active=True, role__in=COACHED_ROLES).exclude(id=user.id)
    if staff is not None:
        query = query.filter(id__in=list(staff))
    return [{"id": u["id"], "name": u["display_name"]}
            for u in await query.order_by("display_name", "id").values("id", "display_name")]


async def _reads(user: User, agent_id: int) -> bool:
    if user.role == "agent":
        return agent_id == user.id
    everyone, staff = await scope.evaluation_reach(user)
    return everyone and (staff is None or agent_id in staff)


async def _may_coach(user: User, agent_id: int) -> bool:
    if not may_edit(user) or agent_id == user.id:
        return False
    everyone, staff = await scope.evaluation_reach(user)
    return everyone and (staff is None or agent_id in staff)


def _date(value: object, field: str, *, required: bool) -> date | None:
    if value in (None, ""):
        if required:
            raise ServiceError("bad_request", "Pick a date.", field)
        return None
    if not isinstance(value, str) or len(value) != 10:
        raise ServiceError("bad_request", "A date is YYYY-MM-DD.", field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError("bad_request", "A date is YYYY-MM-DD.", field) from None


async def _parse(user: User, data: dict[str, Any]) -> dict[str, Any]:
    agent_id = data.get("agent_id")
    if isinstance(agent_id, bool) or not isinstance(agent_id, int):
        raise ServiceError("bad_request", "Choose the CSR.", "agent_id")
    agent = await User.get_or_none(id=agent_id, is_active=True, role__in=COACHED_ROLES)
    if agent is None or not await _may_coach(user, agent.id):
        raise ServiceError("bad_request", "Choose a CSR you coach.", "agent_id")
    held_on = _date(data.get("held_on"), "held_on", required=True)
    follow_up = _date(data.get("follow_up_on"), "follow_up_on", required=False)
    if follow_up is not None and follow_up < held_on:
        raise ServiceError("bad_request", "The follow-up comes after the session.", "follow_up_on")
    topics = text_field(data.get("topics"), "topics", most=MAX_TEXT, required="Say what you talked about.")
    goals = text_field(data.get("goals"), "goals", most=MAX_TEXT)
    linked = data.get("evaluation_ids") or []
    if not isinstance(linked, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in linked):
        raise ServiceError("bad_request", "Linked evaluations are a list of ids.", "evaluation_ids")
    linked = sorted(set(linked))
    if len(linked) > MAX_LINKED:
        raise ServiceError("bad_request", "At most %(n)s linked evaluations.", "evaluation_ids", n=MAX_LINKED)
    if linked:
        found = await Evaluation.filter(id__in=linked, agent_id=agent.id, status="submitted",
                                        calibration_id=None).count()
        if found != len(linked):
            raise ServiceError("bad_request", "Link only submitted evaluations of this CSR.", "evaluation_ids")
    return {"agent_id": agent.id, "held_on": held_on, "follow_up_on": follow_up, "topics": topics, "goals": goals,
            "evaluation_ids": linked}


async def create(user: User, data: dict[str, Any]) -> CoachingSession:
    if not may_edit(user):
        raise ServiceError("forbidden", "Supervisors and admins hold coaching sessions.")
    fields = await _parse(user, data)
    async with in_transaction() as db:
        session = await CoachingSession.create(coach_id=user.id, using_db=db, **fields)
        await evaluations.record("coached", actor_id=user.id, agent_id=fields["agent_id"], at=utcnow(), using_db=db,
                                 coaching_id=session.id, evaluation_ids=fields["evaluation_ids"],
                                 follow_up_on=fields["follow_up_on"] and fields["follow_up_on"].isoformat())
    return session


async def get(user: User, session_id: object) -> CoachingSession:
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise ServiceError("not_found", "No such coaching session.")
    session = await CoachingSession.get_or_none(id=session_id).select_related("agent", "coach")
    if session is None or not await _reads(user, session.agent_id):
        raise ServiceError("not_found", "No such coaching session.")
    return session


async def change(user: User, session_id: object, data: dict[str, Any]) -> CoachingSession:
    session = await get(user, session_id)
    if not await _may_coach(user, session.agent_id):
        raise ServiceError("forbidden", "Supervisors and admins hold coaching sessions.")
    fields = await _parse(user, {**data, "agent_id": session.agent_id})
    async with in_transaction() as db:
        await CoachingSession.filter(id=session.id).using_db(db).update(**{k: v for k, v in fields.items()
                                                                          if k != "agent_id"})
        await evaluations.record("coaching_edited", actor_id=user.id, agent_id=session.agent_id, at=utcnow(),
                                 using_db=db, coaching_id=session.id)
    return await get(user, session.id)


async def may_change(user: User, session: CoachingSession) -> bool:
    return await _may_coach(user, session.agent_id)


async def sessions(user: User, today: date | None = None, agent_id: int | None = None) -> list[dict[str, Any]]:
    """The coaching sessions `user` reads: follow-ups due (on or before today) first, soonest first;
    then the rest, latest session first."""
    today = today or utcnow().date()
    query = CoachingSession.all()
    if user.role == "agent":
        query = query.filter(agent_id=user.id)
    else:
        everyone, staff = await scope.evaluation_reach(user)
        if not everyone:
            return []
        if staff is not None:
            query = query.filter(agent_id__in=list(staff))
    if agent_id is not None:
        query = query.filter(agent_id=agent_id)
    rows = await query.limit(1000).values("id", "agent_id", "agent__display_name", "coach__display_name", "held_on",
                                          "topics", "goals", "follow_up_on", "evaluation_ids")
    out = [{"id": r["id"], "agent_id": r["agent_id"], "agent": r["agent__display_name"],
            "coach": r["coach__display_name"], "held_on": r["held_on"], "topics": r["topics"], "goals": r["goals"],
            "follow_up_on": r["follow_up_on"], "evaluation_ids": r["evaluation_ids"] or [],
            "due": r["follow_up_on"] is not None and r["follow_up_on"] <= today} for r in rows]
    due = sorted((r for r in out if r["due"]), key=lambda r: (r["follow_up_on"], r["id"]))
    rest = sorted((r for r in out if not r["due"]), key=lambda r: (r["held_on"], r["id"]), reverse=True)
    return due + rest


async def evaluations_of(user: User, agent_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Submitted evaluations of a CSR one may coach, latest first (what a session may link)."""
    if not await _may_coach(user, agent_id):
        return []
    return await Evaluation.filter(agent_id=agent_id, status="submitted", calibration_id=None) \
        .order_by("-submitted_at").limit(limit).values("id", "score", "submitted_at", "conversation_id")
