"""Kept days: a finished day's conversation facts, derived from the event log once and kept.

The reports need one `ConversationFacts` per conversation requested in their window (and in the
first-contact-resolution look-ahead after it). Deriving them means reading every event of those
conversations and grouping them; for a long window that is most of a report's time. So the facts
of the conversations requested on a *finished* local day (in the center's time zone) are kept in
`kpi_kept_fact`, one row per conversation, with a `kpi_kept_day` row saying the day is kept.
A report reads the kept days' rows and derives the rest (today, the day's unfinished hours, days
not kept yet) from the event log as before; the two sets are disjoint by the conversation's
request time, so together they are exactly the facts the event log gives.

The event log stays the truth; docs/kpis.md ("Kept days") says the rules:

- A day is finished when its end is at least `MARGIN` in the past; only finished days are kept.
- Kept lazily: the first report that needs a finished, unkept day claims it (a `computing` row,
  unique per time zone and day, so two workers never both keep it), derives its facts from the
  events *after* claiming, and marks it `kept` only if its claim still stands.
- An event written for a conversation requested before `now - MARGIN` makes the kept day that
  holds that request time `stale` (`invalidate`, called by the event-writing path after the row is
  written); a stale day is derived from the events again by the next report that needs it. A day
  staled while it was being computed is not marked kept (its claim no longer stands). Since the
  claim comes before the read and the invalidation after the write, a kept day never misses an
  event.
- Erasing a visitor deletes their conversations and, by the foreign key, their kept rows: what a
  recomputation would give. First-contact resolution is computed at report time from the facts,
  never kept.
- `python -m app kpi-rebuild [--from DAY --to DAY]` recomputes kept days from the event log.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import runtime
from app.clock import utcnow
from app.kpi import engine
from app.kpi.engine import ConversationFacts, EventRow, Hold
from app.kpi.intervals import as_utc, as_zone, local_date_start
from app.models import ConversationEvent, KeptDay, KeptFact
from app.services import timers

# The event kinds the facts are derived from.
KINDS = ("requested", "queued", "assigned", "first_response", "closed", "abandoned", "transferred", "rated",
         "offer_expired", "wrap_up", "held")
# A day is kept once it ended this long ago (late closes and ratings of its last chats mostly come
# before; any later one makes the day stale, see `invalidate`).
MARGIN = timedelta(hours=2)
# A `computing` claim older than this is taken over (its worker died).
STUCK = timedelta(minutes=10)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Day:
    day: date
    start: datetime  # first instant (UTC)
    end: datetime  # the next day's first instant


def days_within(lo: datetime, hi: datetime, time_zone: str) -> list[Day]:
    """The whole local days inside [lo, hi)."""
    zone = as_zone(time_zone)
    day = lo.astimezone(zone).date()
    start = local_date_start(day, time_zone)
    if start < lo:
        day += timedelta(days=1)
        start = local_date_start(day, time_zone)
    out = []
    while True:
        end = local_date_start(day + timedelta(days=1), time_zone)
        if end > hi:
            return out
        out.append(Day(day, start, end))
        day, start = day + timedelta(days=1), end


def finished(d: Day, now: datetime) -> bool:
    return d.end <= now - MARGIN


# --------------------------------------------------------------------------------------------
# From the event log


async def from_events(lo: datetime, hi: datetime) -> tuple[list[ConversationFacts], int]:
    """The facts of the conversations requested in [lo, hi), from their events; and how many
    events that was."""
    rows = await (
        ConversationEvent.filter(conversation__requested_at__gte=lo, conversation__requested_at__lt=hi,
                                 kind__in=KINDS)
        .order_by("id")
        .values("conversation_id", "kind", "at", "agent_id", "department_id", "site_id", "data",
                "conversation__visitor_id")
    )
    events = [
        EventRow(conversation_id=r["conversation_id"], kind=r["kind"], at=r["at"], agent_id=r["agent_id"],
                 department_id=r["department_id"], site_id=r["site_id"], data=r["data"] or {},
                 visitor_id=r["conversation__visitor_id"])
        for r in rows
    ]
    return engine.facts_from_events(events), len(events)


# --------------------------------------------------------------------------------------------
# Kept rows


def _micros(at: datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def _holds_json(holds: tuple[Hold, ...]) -> str:
    return json.dumps([[h.agent_id, _micros(h.start), None if h.end is None else _micros(h.end)] for h in holds],
                      separators=(",", ":"))


_HOLDS = ConversationFacts.__dict__["holds"]  # the dataclass's slot


class KeptFacts(ConversationFacts):
    """ConversationFacts read from a kept row; its holds are decoded when first read (most reports
    never read them), and not read at all when the caller said it needs none (reading them then
    is an error, never an empty tuple)."""

    __slots__ = ("_holds_raw",)

    @property
    def holds(self) -> tuple[Hold, ...]:  # type: ignore[override]
        raw = self._holds_raw
        if raw is not None:
            if raw == _UNREAD:
                raise RuntimeError("these kept facts were read without their holds (population(..., holds=False))")
            cid = self.conversation_id
            _HOLDS.__set__(self, tuple(
                Hold(agent_id=a, conversation_id=cid, start=EPOCH + s * MICROSECOND,
                     end=None if e is None else EPOCH + e * MICROSECOND) for a, s, e in json.loads(raw)))
            self._holds_raw = None
        return _HOLDS.__get__(self)

    @holds.setter
    def holds(self, value: tuple[Hold, ...]) -> None:
        _HOLDS.__set__(self, value)
        self._holds_raw = None


_UNREAD = "(not read)"
_COLUMNS = ("conversation_id, requested_at, answered_at, first_response_at, closed_at, abandoned_at, queue_seconds, "
            "handle_seconds, wrap_up_seconds, transfers, rating, department_id, agent_id, last_agent_id, site_id, "
            "visitor_id, after_hours, held_only")


def _when(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


async def read_kept(day_ids: list[int], *, holds: bool = True) -> dict[int, list[ConversationFacts]]:
    """The kept facts of those kept days, by day id (one SQL query; no ORM objects); `holds=False`
    leaves the holds unread (see `KeptFacts`)."""
    out: dict[int, list[ConversationFacts]] = {i: [] for i in day_ids}
    if not day_ids:
        return out
    conn = KeptFact._meta.db
    _, rows = await conn.execute_query(
        f"SELECT day_id, {_COLUMNS}, {'holds' if holds else repr(_UNREAD)} FROM kpi_kept_fact "
        f"WHERE day_id IN ({','.join(str(int(i)) for i in day_ids)})")
    new = KeptFacts.__new__
    postgres = conn.capabilities.dialect == "postgres"  # asyncpg gives UTC-aware datetimes and booleans
    day_id, facts = None, None
    for r in rows:
        if r[0] != day_id:
            day_id = r[0]
            facts = out[day_id]
        f = new(KeptFacts)
        (_, f.conversation_id, f.requested_at, f.answered_at, f.first_response_at, f.closed_at, f.abandoned_at,
         f.queue_seconds, f.handle_seconds, f.wrap_up_seconds, f.transfers, f.rating, f.department_id,
         f.agent_id, f.last_agent_id, f.site_id, f.visitor_id, f.after_hours, f.held_only, f._holds_raw) = r
        if not postgres:
            f.requested_at = _when(f.requested_at)
            f.answered_at = _when(f.answered_at)
            f.first_response_at = _when(f.first_response_at)
            f.closed_at = _when(f.closed_at)
            f.abandoned_at = _when(f.abandoned_at)
            f.after_hours = bool(f.after_hours)
            f.held_only = bool(f.held_only)
        f.transferred = f.transfers > 0
        facts.append(f)
    return out


# Each worker keeps the kept days it read, by (day id, claim): a day's rows change only under a new
# claim (kept again after going stale, or rebuilt), so an entry is exact while its claim is the
# day's. At most CACHE_FACTS facts (about 600 bytes each), the least recently used dropped first.
CACHE_FACTS = 200_000
_cache: OrderedDict[tuple[int, str], tuple[bool, list[ConversationFacts]]] = OrderedDict()
_cached = 0


def forget() -> None:
    """Drop this worker's cache of kept days (they are read from the database again)."""
    global _cached
    _cache.clear()
    _cached = 0


def _remember(key: tuple[int, str], holds: bool, facts: list[ConversationFacts]) -> None:
    global _cached
    old = _cache.pop(key, None)
    if old is not None:
        _cached -= len(old[1])
    if len(facts) > CACHE_FACTS:
        return
    _cache[key] = (holds, facts)
    _cached += len(facts)
    while _cached > CACHE_FACTS:
        _, (_, dropped) = _cache.popitem(last=False)
        _cached -= len(dropped)


def _order(f: ConversationFacts) -> tuple[datetime, int]:
    return f.requested_at, f.conversation_id  # as engine.facts_from_events orders them


async def _read_days(rows: list[dict], holds: bool) -> dict[int, list[ConversationFacts]]:
    """The facts of kept days (rows of id and claim), by day id, each day's in `_order`: from this
    worker's cache, else read."""
    out: dict[int, list[ConversationFacts]] = {}
    missing = []
    for row in rows:
        key = (row["id"], row["claim"])
        entry = _cache.get(key)
        if entry is not None and (entry[0] or not holds):
            _cache.move_to_end(key)
            out[row["id"]] = entry[1]
        else:
            missing.append(key)
    if missing:
        read = await read_kept([day_id for day_id, _ in missing], holds=holds)
        for key in missing:
            facts = read[key[0]]
            facts.sort(key=_order)
            _remember(key, holds, facts)
            out[key[0]] = facts
    return out


async def _claim(time_zone: str, d: Day, now: datetime, *, force: bool = False) -> tuple[int, str] | None:
    """Claim `d` for keeping: (its row id, the claim) or None when another worker holds it or it is
    kept already (`force`: recompute a kept day too)."""
    token = secrets.token_hex(8)
    try:
        row = await KeptDay.create(time_zone=time_zone, day=d.day, starts_at=d.start, ends_at=d.end,
                                   state="computing", claim=token, computed_at=now)
        return row.id, token
    except IntegrityError:
        pass
    takeable = Q(state="stale") | Q(state="computing", computed_at__lt=now - STUCK)
    if force:
        takeable = takeable | Q(state="kept")
    if not await KeptDay.filter(takeable, time_zone=time_zone, day=d.day).update(
            state="computing", claim=token, computed_at=now):
        return None
    found = await KeptDay.filter(time_zone=time_zone, day=d.day, claim=token).values_list("id", flat=True)
    return (found[0], token) if found else None


async def _store(day_id: int, token: str, facts: list[ConversationFacts], events: int) -> bool:
    """Keep `facts` as the day's, if the claim still stands; True when kept."""
    rows = [KeptFact(
        day_id=day_id, conversation_id=f.conversation_id, requested_at=f.requested_at, answered_at=f.answered_at,
        first_response_at=f.first_response_at, closed_at=f.closed_at, abandoned_at=f.abandoned_at,
        queue_seconds=f.queue_seconds, handle_seconds=f.handle_seconds, wrap_up_seconds=f.wrap_up_seconds,
        transfers=f.transfers, rating=f.rating, department_id=f.department_id, agent_id=f.agent_id,
        last_agent_id=f.last_agent_id, site_id=f.site_id, visitor_id=f.visitor_id, after_hours=f.after_hours,
        held_only=f.held_only, holds=_holds_json(f.holds)) for f in facts]
    try:
        async with in_transaction(KeptFact._meta.default_connection) as conn:
            await KeptFact.filter(day_id=day_id).using_db(conn).delete()
            if rows:
                await KeptFact.bulk_create(rows, batch_size=1000, using_db=conn)
            done = await KeptDay.filter(id=day_id, claim=token, state="computing").using_db(conn).update(
                state="kept", conversations=len(rows), events=events, computed_at=utcnow())
            if done != 1:
                raise _Lost()
        return True
    except _Lost:
        return False
    except IntegrityError:  # a conversation erased meanwhile: the day is derived again next time
        await KeptDay.filter(id=day_id, claim=token).update(state="stale")
        return False


class _Lost(Exception):
    """The claim did not stand (the day went stale while computed)."""


# --------------------------------------------------------------------------------------------
# What reports call


async def population(lo: datetime, hi: datetime, time_zone: str, *, keep: bool = True,
                     holds: bool = True) -> list[ConversationFacts]:
    """The facts of every conversation requested in [lo, hi), ordered by (requested_at, id) as
    `engine.facts_from_events` orders them: kept days from `kpi_kept_fact`, the rest from the
    event log (finished days among the rest are kept on the way when `keep`). `holds=False`: the
    caller reads no `holds` (the kept rows' are then not read)."""
    now = utcnow()
    days = days_within(lo, hi, time_zone)
    done = [d for d in days if finished(d, now)]
    kept: dict[date, dict] = {}
    if done:
        for row in await KeptDay.filter(time_zone=time_zone, day__in=[d.day for d in done], state="kept") \
                .values("id", "day", "claim"):
            kept[row["day"]] = row
    claims: dict[date, tuple[int, str]] = {}
    if keep:
        for d in done:
            if d.day not in kept:
                claim = await _claim(time_zone, d, now)
                if claim is not None:
                    claims[d.day] = claim
    # The spans read from the event log: everything but the kept days; a claimed day on its own.
    spans: list[tuple[datetime, datetime, date | None]] = []
    cursor = lo
    for d in days:
        if d.day in kept or d.day in claims:
            if cursor < d.start:
                spans.append((cursor, d.start, None))
            if d.day in claims:
                spans.append((d.start, d.end, d.day))
            cursor = d.end
    if cursor < hi:
        spans.append((cursor, hi, None))
    kept_facts = await _read_days(list(kept.values()), holds)
    starts = {d.day: d.start for d in days}
    segments = [(starts[day], kept_facts[row["id"]]) for day, row in kept.items()]
    for a, b, day in spans:
        derived, events = await from_events(a, b)  # in `_order`
        segments.append((a, derived))
        if day is not None:
            await _store(*claims[day], derived, events)
    # The segments are disjoint in request time and each is in order: joined in time order, they
    # are in order unless a chat's `requested` event lies outside its request day (then sort).
    segments.sort(key=lambda s: s[0])
    facts: list[ConversationFacts] = []
    last = None
    ordered = True
    for _, part in segments:
        if part:
            if last is not None and _order(part[0]) < last:
                ordered = False
            facts.extend(part)
            last = _order(part[-1])
    if not ordered:
        facts.sort(key=_order)
    return facts


async def invalidate(requested_at: datetime | None) -> None:
    """An event was written for a conversation requested at `requested_at`: the kept day holding
    that instant (in any time zone) is stale. Call after the event row is written (committed)."""
    if requested_at is None:
        return
    requested_at = as_utc(requested_at)
    if requested_at >= utcnow() - MARGIN:
        return  # on no finished day
    await KeptDay.filter(starts_at__lte=requested_at, ends_at__gt=requested_at).exclude(state="stale") \
        .update(state="stale")


async def invalidate_between(lo: datetime, hi: datetime) -> None:
    """Events were written for conversations requested in [lo, hi]: their kept days are stale."""
    if lo >= utcnow() - MARGIN:
        return
    await KeptDay.filter(starts_at__lte=hi, ends_at__gt=lo).exclude(state="stale").update(state="stale")


async def rebuild(time_zone: str, first: date | None = None, last: date | None = None) -> list[dict]:
    """Recompute from the event log the finished days [first, last] (default: every kept or stale
    day), whether kept or not; returns one {day, conversations, events, kept} per day."""
    now = utcnow()
    if first is None or last is None:
        known = sorted(await KeptDay.filter(time_zone=time_zone).values_list("day", flat=True))
        if not known:
            return []
        first = first or known[0]
        last = last or known[-1]
    out = []
    day = first
    while day <= last:
        d = Day(day, local_date_start(day, time_zone), local_date_start(day + timedelta(days=1), time_zone))
        day += timedelta(days=1)
        if not finished(d, now):
            continue
        claim = await _claim(time_zone, d, now, force=True)
        if claim is None:
            out.append({"day": d.day.isoformat(), "kept": False, "reason": "being computed by another worker"})
            continue
        facts, events = await from_events(d.start, d.end)
        stored = await _store(*claim, facts, events)
        out.append({"day": d.day.isoformat(), "conversations": len(facts), "events": events, "kept": stored})
    return out


# --------------------------------------------------------------------------------------------
# Kept ahead of the reports: every night, and at start-up


# The shared schedule's timer (app/services/timers.py) that keeps the recent finished days ahead of
# the reports, so that the first report of a month does not derive the whole month while its reader
# waits. It fires once a night, MARGIN and ten minutes after local midnight, and at start-up.
NIGHTLY_TIMER = "kpi.keep"
KEEP_AHEAD_DAYS = 35  # the recent days kept ahead (a month's report and the FCR look-ahead)


async def keep_recent(time_zone: str, days: int = KEEP_AHEAD_DAYS) -> list[date]:
    """Keep the finished days of the last `days` days that are not kept (stale ones too); a day
    another worker is computing is left to it. Returns the days kept now."""
    now = utcnow()
    today = now.astimezone(as_zone(time_zone)).date()
    out = []
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        d = Day(day, local_date_start(day, time_zone), local_date_start(day + timedelta(days=1), time_zone))
        if not finished(d, now):
            continue
        claim = await _claim(time_zone, d, now)
        if claim is None:  # kept already, or being computed
            continue
        facts, events = await from_events(d.start, d.end)
        if await _store(*claim, facts, events):
            out.append(day)
    return out


async def nightly_timer(subject: str, payload: dict) -> None:
    """The timer's work: keep the recent days, then schedule the next night."""
    time_zone = runtime.current().settings.center_time_zone
    await keep_recent(time_zone)
    await schedule_nightly(time_zone, replace=True)


async def schedule_nightly(time_zone: str, replace: bool = False) -> None:
    """At start-up (not `replace`): in two minutes, to catch up on nights no server ran. Then the
    next night, MARGIN and ten minutes after local midnight."""
    if replace:
        now = utcnow()
        tomorrow = now.astimezone(as_zone(time_zone)).date() + timedelta(days=1)
        due = local_date_start(tomorrow, time_zone) + MARGIN + timedelta(minutes=10)
        delay = max(0.0, (due - now).total_seconds())
    else:
        delay = 120.0
    await timers.schedule(NIGHTLY_TIMER, "keep", delay, replace=replace)
