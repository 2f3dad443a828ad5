"""Kept days (app/reports/kept_days.py): a finished day's conversation facts are derived from the
event log once and kept. Every report that reads facts gives, with kept days, exactly what the
event log alone gives — on SQLite and PostgreSQL, with filters, over windows mixing kept days
with today's live events; a late event for a kept day, an erased visitor, the rebuild command and
workers keeping the same days at once leave the reports equal to the event log's."""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app import runtime
from app.clock import utcnow
from app.config import load_settings
from app.db import close_db, init_db
from app.kpi.intervals import local_date_start
from app.models import Conversation, ConversationEvent, Department, KeptDay, KeptFact, Site, User, Visitor
from app.reports import kept_days, kpi_report as report
from app.services import events, privacy, timers
from app.services.scope import Reach
from tests.support.server import cli, migrated_database

ZONE = "America/New_York"  # 2026-11-01 is 25 hours long there
FIRST, LAST = date(2026, 10, 27), date(2026, 11, 4)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    return migrated_database(request, tmp_path, "kept")


class Center:
    """A history written straight into the event log (as `bench/kpi_history.py` does): chats of
    every kind on the days FIRST…LAST in ZONE, some around midnight, plus a few of today."""

    def __init__(self) -> None:
        self.rng = random.Random(11)
        self.conversations: list[Conversation] = []

    async def setup(self) -> None:
        self.site = await Site.create(name="Kept", key="site_kept", allowed_origins=[], settings={})
        self.departments = [(await Department.create(site_id=self.site.id, name=n)).id for n in ("Sales", "Support")]
        self.agents = [(await User.create(email=f"csr{i}@example.com", password_hash="x", display_name=f"CSR {i}",
                                          role="agent")).id for i in range(3)]
        self.visitors = []
        for i in range(25):
            v = await Visitor.create(id=f"v_kept{i}", site_id=self.site.id, first_seen=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                     last_seen=datetime(2026, 1, 1, tzinfo=timezone.utc), visit_count=1)
            self.visitors.append(v.id)

    async def chat(self, at: datetime, shape: str, *, visitor: str | None = None) -> Conversation:
        rng = self.rng
        department = rng.choice(self.departments + [None])
        agent, other = rng.sample(self.agents, 2)
        conversation = await Conversation.create(site_id=self.site.id, visitor_id=visitor or rng.choice(self.visitors),
                                                 department_id=department, requested_at=at, status="closed")
        rows = []

        def add(kind: str, seconds: float, agent_id: int | None = None, **data) -> None:
            rows.append(ConversationEvent(conversation_id=conversation.id, site_id=self.site.id,
                                          department_id=department, agent_id=agent_id, kind=kind,
                                          at=at + timedelta(seconds=seconds), data=data))

        if shape == "held":
            add("requested", 0)
            add("held", 0)
            add("abandoned", 600, queue_seconds=600)
        else:
            add("requested", 0)
            add("queued", 0)
        queue = rng.choice([3, 12, 19.5, 45, 300])
        if shape in ("answered", "transferred", "rated", "late"):
            if rng.random() < 0.3:
                add("offer_expired", queue / 2, agent_id=other)
            add("assigned", queue, agent, queue_seconds=queue)
            add("first_response", queue + 20, agent)
            handle = rng.choice([120, 900, 3600 * 3])  # some close after midnight
            if shape == "transferred":
                add("transferred", queue + 60, agent, to_agent_id=other)
                add("closed", queue + handle, other)
            else:
                add("closed", queue + handle, agent)
            if rng.random() < 0.5:
                add("wrap_up", queue + handle + 30, agent, wrap_up_seconds=45)
            if shape == "rated":
                add("rated", queue + handle + 40, rating=rng.choice(["good", "neutral", "bad"]),
                    comment=rng.choice(["", "thanks", "slow"]))
        elif shape == "abandoned":
            add("abandoned", queue, queue_seconds=queue)
        await ConversationEvent.bulk_create(rows)
        self.conversations.append(conversation)
        return conversation

    async def write(self) -> None:
        await self.setup()
        shapes = ["answered", "transferred", "rated", "abandoned", "held", "waiting"]
        day = FIRST
        while day <= LAST:
            start = local_date_start(day, ZONE)
            for i in range(14):
                await self.chat(start + timedelta(minutes=self.rng.randrange(0, 24 * 60)), shapes[i % len(shapes)])
            # Around midnight: the last chat of the day, and the same visitor again just after it.
            end = local_date_start(day + timedelta(days=1), ZONE)
            await self.chat(end - timedelta(seconds=30), "rated", visitor=self.visitors[0])
            await self.chat(end + timedelta(minutes=20), "answered", visitor=self.visitors[0])
            day += timedelta(days=1)
        now = utcnow()
        for i in range(6):  # today's, still live
            await self.chat(now - timedelta(minutes=5 + 7 * i), shapes[i % len(shapes)])


def query(first: date, last: date, **kw) -> report.Query:
    return report.Query(start=first, end=last, time_zone=ZONE, **kw)


def today() -> date:
    return utcnow().astimezone(ZoneInfo(ZONE)).date()


def queries(center: Center) -> list[tuple[str, report.Query]]:
    """Every report that reads conversation facts, with and without filters and groups."""
    sales, agent = center.departments[0], center.agents[1]
    reach = Reach(user_id=0, messages=True, sites=frozenset({center.site.id}), departments=frozenset({sales}))
    out = []
    for window in ((FIRST, LAST), (date(2026, 10, 30), date(2026, 11, 2)), (LAST - timedelta(days=1), today())):
        for extra in ({}, {"department_id": sales}, {"agent_id": agent}, {"reach": reach},
                      {"thresholds": {sales: 10.0}, "variant": "positive"}):
            for name in ("summary", "traffic", "queues", "missed", "satisfaction", "csat_comments"):
                out.append((name, query(*window, **extra)))
            for group in ("department", "agent", "site"):
                out.append(("summary", query(*window, group=group, **extra)))
    # Agent states count time until now: windows in the past only.
    for extra in ({}, {"agent_id": agent}):
        out.append(("agents", query(FIRST, LAST, **extra)))
    out.append(("traffic", query(FIRST, LAST, slice="hour")))
    out.append(("summary", query(date(2026, 11, 1), date(2026, 11, 1), start_hour=3, end_hour=20)))
    return out


async def from_log(monkeypatch, name: str, q: report.Query) -> dict:
    """The report from the event log alone: no day counts as finished, so none is kept or read."""
    with monkeypatch.context() as m:
        m.setattr(kept_days, "MARGIN", timedelta(days=365 * 100))
        return await report.run(name, q)


@pytest.fixture
async def center(database, tmp_path):
    settings = load_settings({"DATABASE_URL": database, "DATA_DIR": str(tmp_path), "CENTER_TIME_ZONE": ZONE})
    rt = runtime.build(settings)
    with runtime.activated(rt):
        await init_db(settings, global_fallback=False)
        try:
            c = Center()
            c.database = database
            await c.write()
            yield c
        finally:
            await close_db()


async def kept_states() -> dict[date, str]:
    return {r["day"]: r["state"] for r in await KeptDay.filter(time_zone=ZONE).values("day", "state")}


async def test_reports_from_kept_days_equal_the_event_logs(center, monkeypatch):
    expected = [await from_log(monkeypatch, name, q) for name, q in queries(center)]
    assert not await KeptDay.all().count()
    first = [await report.run(name, q) for name, q in queries(center)]  # keeps the finished days
    states = await kept_states()
    assert states and set(states.values()) == {"kept"}
    assert FIRST in states and date(2026, 11, 1) in states and today() not in states
    kept = await KeptFact.all().count()
    assert kept >= 15 * 9
    again = [await report.run(name, q) for name, q in queries(center)]  # from this worker's cache of them
    kept_days.forget()
    read = [await report.run(name, q) for name, q in queries(center)]  # read from the kept rows
    assert await KeptFact.all().count() == kept
    for (name, q), want, got1, got2, got3 in zip(queries(center), expected, first, again, read):
        assert got1 == want, (name, q)
        assert got2 == want, (name, q)
        assert got3 == want, (name, q)
    # The kept facts are the event log's, conversation by conversation (holds included).
    lo, hi = local_date_start(FIRST, ZONE), local_date_start(LAST + timedelta(days=1), ZONE)
    derived, _ = await kept_days.from_events(lo, hi)
    kept_days.forget()
    facts = await kept_days.population(lo, hi, ZONE)
    assert [asdict(f) for f in facts] == [asdict(f) for f in derived]


async def test_a_late_event_makes_its_day_stale_and_the_report_follows_the_log(center, monkeypatch):
    q = query(FIRST, LAST)
    before = await report.run("summary", q)
    assert (await kept_states())[date(2026, 10, 29)] == "kept"
    # A rating written days later, through the service that writes events, for a chat of Oct 29.
    start = local_date_start(date(2026, 10, 29), ZONE)
    rated = set(await ConversationEvent.filter(kind="rated").values_list("conversation_id", flat=True))
    answered = set(await ConversationEvent.filter(kind="assigned").values_list("conversation_id", flat=True))
    chat = next(c for c in center.conversations if start <= c.requested_at < start + timedelta(hours=20)
                and c.id in answered and c.id not in rated)
    await events.conversation_event(chat, "rated", rating="bad", comment="late")
    assert (await kept_states())[date(2026, 10, 29)] == "stale"
    after = await report.run("summary", q)
    assert after == await from_log(monkeypatch, "summary", q)
    assert after["headline"]["ratings"] == before["headline"]["ratings"] + 1
    assert (await kept_states())[date(2026, 10, 29)] == "kept"  # derived again, and kept
    assert await report.run("csat_comments", q) == await from_log(monkeypatch, "csat_comments", q)


async def test_the_rebuild_command_recomputes_kept_days_from_the_log(center, monkeypatch):
    q = query(FIRST, LAST)
    await report.run("summary", q)
    want = await from_log(monkeypatch, "summary", q)
    # A kept row that no longer says what the log says (as after a bug, or a restore of the log).
    await KeptFact.filter(rating__isnull=True).update(rating="good")
    kept_days.forget()  # a worker that reads the rows (not its cache of them)
    assert await report.run("summary", q) != want
    env = {**os.environ, "DATABASE_URL": center.database, "CENTER_TIME_ZONE": ZONE}
    env.pop("REDIS_URL", None)
    out = cli(env, "kpi-rebuild", "--from", FIRST.isoformat(), "--to", LAST.isoformat())
    assert '"kept": false' not in out and FIRST.isoformat() in out
    assert await report.run("summary", q) == want
    assert set((await kept_states()).values()) == {"kept"}
    # Every kept day at once (no dates), and bad input refused.
    await KeptFact.filter(rating__isnull=True).update(rating="bad")
    kept_days.forget()
    assert await report.run("summary", q) != want
    cli(env, "kpi-rebuild")
    assert await report.run("summary", q) == want
    with pytest.raises(RuntimeError, match="--from must not be after --to"):
        cli(env, "kpi-rebuild", "--from", LAST.isoformat(), "--to", FIRST.isoformat())
    with pytest.raises(RuntimeError, match="must be a date"):
        cli(env, "kpi-rebuild", "--from", "2026-02-30", "--to", LAST.isoformat())


async def test_workers_keeping_the_same_days_at_once(center, monkeypatch):
    lo, hi = local_date_start(FIRST, ZONE), local_date_start(LAST + timedelta(days=1), ZONE)
    derived, _ = await kept_days.from_events(lo, hi)
    results = await asyncio.gather(*[kept_days.population(lo, hi, ZONE) for _ in range(4)])
    for facts in results:
        assert [f.conversation_id for f in facts] == [f.conversation_id for f in derived]
    days = (LAST - FIRST).days + 1
    assert await KeptDay.filter(time_zone=ZONE).count() == days
    assert set((await kept_states()).values()) == {"kept"}
    assert await KeptFact.all().count() == len(derived)  # each conversation kept once
    # A claim whose worker died is taken over after a while; a fresh one is not.
    day = await KeptDay.get(time_zone=ZONE, day=FIRST)
    await KeptDay.filter(id=day.id).update(state="computing", computed_at=utcnow())
    assert await kept_days.population(lo, hi, ZONE) and (await kept_states())[FIRST] == "computing"
    await KeptDay.filter(id=day.id).update(computed_at=utcnow() - kept_days.STUCK - timedelta(minutes=1))
    facts = await kept_days.population(lo, hi, ZONE)
    assert (await kept_states())[FIRST] == "kept"
    assert [f.conversation_id for f in facts] == [f.conversation_id for f in derived]


async def test_erasing_a_visitor_removes_their_kept_facts(center, monkeypatch):
    q = query(FIRST, LAST)
    await report.run("summary", q)
    visitor = center.visitors[0]  # the one who chats around midnight every day
    assert await KeptFact.filter(visitor_id=visitor).exists()
    erased_days = {c.requested_at.astimezone(ZoneInfo(ZONE)).date()
                   for c in center.conversations if c.visitor_id == visitor}
    await privacy.erase(None, visitor)
    assert not await KeptFact.filter(visitor_id=visitor).exists()
    states = await kept_states()
    assert {states[d] for d in erased_days if d in states} == {"stale"}  # no worker shows them from its cache
    assert await report.run("summary", q) == await from_log(monkeypatch, "summary", q)
    assert await report.run("traffic", q) == await from_log(monkeypatch, "traffic", q)


async def test_recent_days_are_kept_ahead_of_the_reports_every_night(center, monkeypatch):
    """The nightly timer keeps the recent finished days, so the first report of a month reads them
    instead of deriving the month while its reader waits; today stays live, and a second night
    keeps nothing again. It is scheduled for the next night, after the margin."""
    days = (today() - FIRST).days + 1
    kept = await kept_days.keep_recent(ZONE, days=days)
    states = await kept_states()
    assert FIRST in kept and LAST in kept and today() not in states
    assert set(states.values()) == {"kept"} and len(kept) == len(states)
    assert await kept_days.keep_recent(ZONE, days=days) == []
    # A late event makes its day stale; the next night keeps it again.
    chat = next(c for c in center.conversations if c.requested_at < local_date_start(LAST, ZONE))
    await events.conversation_event(chat, "wrap_up", wrap_up_seconds=30)
    day = chat.requested_at.astimezone(ZoneInfo(ZONE)).date()
    assert (await kept_states())[day] == "stale"
    assert await kept_days.keep_recent(ZONE, days=days) == [day]
    q = query(FIRST, LAST)
    assert await report.run("summary", q) == await from_log(monkeypatch, "summary", q)
    assert await KeptDay.filter(state="computing").count() == 0  # the report derived nothing itself
    # The timer: at start-up in two minutes; after it fires, the next night at 02:10 local.
    schedule = runtime.current().state(timers.MemorySchedule)
    await kept_days.schedule_nightly(ZONE)
    due_ms, _ = schedule[f"{kept_days.NIGHTLY_TIMER}:keep"]
    assert abs(due_ms / 1000 - (utcnow() + timedelta(seconds=120)).timestamp()) < 30
    await kept_days.nightly_timer("keep", {})
    due_ms, _ = schedule[f"{kept_days.NIGHTLY_TIMER}:keep"]
    night = local_date_start(today() + timedelta(days=1), ZONE) + timedelta(hours=2, minutes=10)
    assert abs(due_ms / 1000 - night.timestamp()) < 1
