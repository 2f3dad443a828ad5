"""The routing store's view of the database: read a chat's or a CSR's row as the store needs it,
and write it into the store (`sync_chat`, `sync_agent`).

Every change of a chat or an agent reaches the store through these, called by the event log's
listeners (`app/services/listeners.py`); `app.services.routing` asks the store for decisions and
`app.services.assignment` takes places in it. The database is the record: whatever the store
holds that the database does not say is corrected by `sync_*` and the periodic reconciliation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.expressions import RawSQL

from app import runtime
from app.clock import utcnow
from app.models import Conversation, Department, Participant, Site, User
from app.routing.store import GENERAL, AgentState, ChatState, chat_order, queue_id

DEFAULT_CAPACITY = 3


def _version(table: str, column: str) -> RawSQL:
    """A chat's version: its newest event id, read in the same statement as the row, so a store
    write carrying it is never older than what the row said (app/routing/store.py, `ChatState`)."""
    return RawSQL(f'(SELECT MAX("id") FROM "conversation_event" WHERE "conversation_id" = "{table}"."{column}")')


def ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0


def now_ms() -> int:
    return ms(utcnow())


def capacity(max_chats: int | None, department_defaults: list[int | None]) -> int:
    """A CSR's own capacity, else the largest default of their departments, else 3."""
    if max_chats is not None:
        return max_chats
    defaults = [d for d in department_defaults if isinstance(d, int)]
    return max(defaults) if defaults else DEFAULT_CAPACITY


async def capacities(user_ids: list[int]) -> dict[int, int]:
    users = {u["id"]: u["max_chats"] for u in await User.filter(id__in=user_ids).values("id", "max_chats")}
    defaults: dict[int, list[int | None]] = {}
    if any(v is None for v in users.values()):
        for row in await Department.filter(users__id__in=[i for i, v in users.items() if v is None]) \
                .values("users__id", "default_max_chats"):
            defaults.setdefault(row["users__id"], []).append(row["default_max_chats"])
    return {i: capacity(v, defaults.get(i, [])) for i, v in users.items()}


def _skills(raw) -> dict[int, int]:
    """Skill levels as stored ({"<department id>": level}), with anything malformed left out."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, level in raw.items():
        if str(key).isdigit() and isinstance(level, int) and not isinstance(level, bool):
            out[int(key)] = level
    return out


async def agent_states(agent_ids: list[int] | None = None) -> list[AgentState]:
    """Agents as the store needs them: the given ones, or every Available one and every holder."""
    query = User.filter(id__in=agent_ids) if agent_ids is not None else User.filter(status="available")
    rows = await query.values("id", "status", "is_active", "max_chats", "last_chat_ended_at", "status_changed_at",
                              "last_assigned_at", "skills")
    ids = [r["id"] for r in rows]
    held: dict[int, list[int]] = {}
    versions: dict[int, dict[int, int]] = {}

    def add(agent_id: int, chat_id: int, version: int | None) -> None:
        held.setdefault(agent_id, []).append(chat_id)
        if version is not None:
            versions.setdefault(agent_id, {})[chat_id] = version

    version = _version("conversation", "id")
    for c in await Conversation.filter(status="assigned", agent_id__in=ids).annotate(version=version) \
            .values("id", "agent_id", "version"):
        add(c["agent_id"], c["id"], c["version"])
    for c in await Conversation.filter(status="waiting", offered_to_id__in=ids).annotate(version=version) \
            .values("id", "offered_to_id", "version"):
        add(c["offered_to_id"], c["id"], c["version"])
    # A warm transfer's colleague holds a place in the chat under its id negated (app/routing/store.py).
    for p in await Participant.filter(user_id__in=ids, kind="warm", left_at=None, conversation__status="assigned") \
            .annotate(version=_version("participant", "conversation_id")).values("conversation_id", "user_id", "version"):
        add(p["user_id"], -p["conversation_id"], p["version"])
    memberships: dict[int, list[dict]] = {}
    for row in await Department.filter(users__id__in=ids).values("id", "users__id", "default_max_chats"):
        memberships.setdefault(row["users__id"], []).append(row)
    states = []
    for r in rows:
        departments = sorted(memberships.get(r["id"], []), key=lambda d: d["id"])
        skills = _skills(r["skills"])
        states.append(AgentState(
            id=r["id"], available=r["status"] == "available" and r["is_active"],
            capacity=capacity(r["max_chats"], [d["default_max_chats"] for d in departments]),
            idle_ms=ms(r["last_chat_ended_at"] or r["status_changed_at"]), last_ms=ms(r["last_assigned_at"]),
            queues=(GENERAL, *(str(d["id"]) for d in departments)),
            skills={str(d): lvl for d, lvl in skills.items()}, held=tuple(sorted(held.get(r["id"], ()))),
            versions=versions.get(r["id"], {}),
        ))
    return states


async def chat_states(chat_ids: list[int]) -> list[ChatState]:
    rows = await Conversation.filter(id__in=chat_ids).annotate(version=_version("conversation", "id")).values(
        "id", "status", "requested_at", "department_id", "priority", "sticky_agent_id", "site_id", "offered_to_id",
        "declined_by", "agent_id", "version",
    )
    departments = {
        d["id"]: d for d in await Department.filter(id__in={r["department_id"] for r in rows if r["department_id"]})
        .values("id", "routing_strategy", "sticky_seconds")
    }
    site_sticky = {
        s["id"]: s["settings"].get("sticky_seconds", 0) if isinstance(s["settings"], dict) else 0
        for s in await Site.filter(id__in={r["site_id"] for r in rows if r["sticky_agent_id"] and not r["department_id"]})
        .values("id", "settings")
    }
    states = []
    for r in rows:
        department = departments.get(r["department_id"])
        strategy = department["routing_strategy"] if department else "longest_idle"
        base = dict(id=r["id"], queue=queue_id(r["department_id"]), strategy=strategy, version=r["version"])
        if r["status"] == "assigned" and r["agent_id"] is not None:
            states.append(ChatState(state="held", holder=r["agent_id"], **base))
        elif r["status"] == "waiting" and r["offered_to_id"] is not None:
            states.append(ChatState(state="held", holder=r["offered_to_id"], **base))
        elif r["status"] == "waiting":
            sticky_seconds = department["sticky_seconds"] if department else site_sticky.get(r["site_id"], 0)
            sticky = r["sticky_agent_id"] if isinstance(sticky_seconds, int) and sticky_seconds > 0 else None
            states.append(ChatState(
                state="waiting", order=chat_order(r["priority"], ms(r["requested_at"])), sticky_agent=sticky,
                sticky_until_ms=ms(r["requested_at"] + timedelta(seconds=sticky_seconds)) if sticky else 0,
                declined=frozenset(i for i in (r["declined_by"] or []) if isinstance(i, int)), **base,
            ))
        else:
            states.append(ChatState(state="gone", **base))
    return states


async def sync_agent(agent_id: int) -> None:
    store = runtime.current().routing_store
    for state in await agent_states([agent_id]):
        await store.put_agent(state, now_ms())


async def sync_chat(chat_id: int, *, from_agent: int | None = None) -> None:
    """Write a chat's database state into the store (and refresh the agents it moved between)."""
    store = runtime.current().routing_store
    before = await store.holder(chat_id)
    warm_before = await store.holder(-chat_id)
    agents: set[int] = set()
    version = None
    for state in await chat_states([chat_id]):
        await store.put_chat(state, now_ms(), from_agent=from_agent)
        agents |= {a for a in (before, state.holder) if a is not None}
        version = state.version
    # The warm-transfer colleague's place (−id) follows the participant row.
    warm = await Participant.filter(conversation_id=chat_id, kind="warm", left_at=None,
                                    conversation__status="assigned").annotate(
        version=_version("participant", "conversation_id")).first().values("user_id", "version")
    if warm is not None:
        await store.put_chat(ChatState(id=-chat_id, state="held", holder=warm["user_id"], version=warm["version"]),
                             now_ms())
        agents.add(warm["user_id"])
    elif warm_before is not None:  # read after the chat's row: its version is no newer than this reading
        await store.put_chat(ChatState(id=-chat_id, state="gone", version=version), now_ms())
    if warm_before is not None:
        agents.add(warm_before)
    if agents:
        for agent in await agent_states(sorted(agents)):
            await store.put_agent(agent, now_ms())
