"""The trail: page views, time on page, custom events and identify calls, as the widget reports
them over its socket or the beacon endpoint.

Writes are batched: a page view costs no database round trip of its own. Each worker collects
what arrives and writes it every `FLUSH_SECONDS` (or once `BATCH_ROWS` rows wait) in one
transaction — new page views and custom events without the ORM, the visits' and visitors' "last
seen" each in one statement: on PostgreSQL COPY and prepared updates run for every row; on SQLite
INSERTs and UPDATE … FROM (VALUES …) of up to 500 rows each, all in one call on the database's
thread. Times on page are one prepared statement run for every row. Page views wait for the batch
as plain tuples, not objects. A new visit's row is written with the batch too (its page views
get its id then). The live Visitors view is fed at once from memory (app/tracking/live.py);
readers of the trail (profile, explorer, exports) call `flush()` first. A worker that dies loses
at most the last `FLUSH_SECONDS` of trail.

Per-site settings, `Site.settings["tracking"]` (`site-settings --set '{"tracking": {…}}'`):
`enabled` (default true; false: no trail is kept, chat works), `respect_dnt` (default true: a
browser that sends Do Not Track or Global Privacy Control is not tracked), `anonymize_ip`
(default true: the country is looked up from the address with its host part zeroed; addresses
are never stored), `strip_params` (query parameters removed from every URL we keep, e.g.
["token", "email"]), `visit_timeout_minutes` (default 30: a new visit after that long without
activity), `retention_days` (default 395: page views, custom events and visits older than that,
and visitors idle that long, are purged), `conversion_events` (custom events that count as a
conversion in the explorer and the invitation funnel), `hash_routes` (default true: a `#/…` or
`#!/…` hash route is part of the page the explorer counts) and `route_params` (query parameters
that are part of the page, e.g. ["tab"]; default none) — see app/tracking/pages.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from app import loops, metrics, runtime
from app.clock import utcnow
from app.models import Conversation, PageView, Site, TrackEvent, Visit, Visitor
from app import bus
from app.i18n import N_
from app.services import ServiceError, Words
from app.tracking import live
from app.tracking import referrer as referrers
from app.tracking.pages import page_key

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
BATCH_ROWS = 500
TIME_WAITS_SECONDS = 60.0  # a time on page waits this long for its view to be written
SHARED_VISIT_WAIT_SECONDS = 30.0  # a visit another worker started is written here if it has not been
MAX_ACTIVE_MS = 86_400_000
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_PROPS = 20
MAX_PROPS_JSON = 2048
MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_CHARS = 256
_VISIT_CACHE = 50_000
DEFAULT_CONVERSION_EVENTS = ("purchase", "signup", "lead", "conversion")
ROUTE_PARAM = re.compile(r"^[A-Za-z0-9_.\[\]-]{1,64}$")
MAX_ROUTE_PARAMS = 20


@dataclass(frozen=True)
class TrackingSettings:
    enabled: bool = True
    respect_dnt: bool = True
    anonymize_ip: bool = True
    strip_params: tuple[str, ...] = ()
    visit_timeout_minutes: int = 30
    retention_days: int = 395
    conversion_events: tuple[str, ...] = DEFAULT_CONVERSION_EVENTS
    hash_routes: bool = True
    route_params: tuple[str, ...] = ()

    @cached_property
    def visit_timeout(self) -> timedelta:
        return timedelta(minutes=self.visit_timeout_minutes)

    def page(self, url: str | None) -> str:
        """The page `url` is for the explorer (app/tracking/pages.py)."""
        return page_key(url, self.hash_routes, self.route_params)

    def for_widget(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "dnt": self.respect_dnt, "strip_params": list(self.strip_params)}


def settings_of(site: Site) -> TrackingSettings:
    raw = site.settings.get("tracking") if isinstance(site.settings, dict) else None
    if not isinstance(raw, dict):
        return TrackingSettings()
    default = TrackingSettings()

    def flag(key: str) -> bool:
        value = raw.get(key)
        return value if isinstance(value, bool) else getattr(default, key)

    def number(key: str, low: int, high: int) -> int:
        value = raw.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return value if ok else getattr(default, key)

    conversions = raw.get("conversion_events")
    conversions = (tuple(c for c in conversions if isinstance(c, str) and EVENT_NAME.match(c))
                   if isinstance(conversions, list) else default.conversion_events)
    strip = raw.get("strip_params")
    names = tuple(s for s in strip if isinstance(s, str) and 0 < len(s) <= 100) if isinstance(strip, list) else ()
    route = raw.get("route_params")
    route = tuple(s for s in route if isinstance(s, str) and ROUTE_PARAM.match(s)) if isinstance(route, list) else ()
    return TrackingSettings(
        hash_routes=flag("hash_routes"), route_params=route[:MAX_ROUTE_PARAMS],
        enabled=flag("enabled"), respect_dnt=flag("respect_dnt"), anonymize_ip=flag("anonymize_ip"),
        strip_params=names[:50], visit_timeout_minutes=number("visit_timeout_minutes", 1, 24 * 60),
        retention_days=number("retention_days", 1, 3650), conversion_events=conversions,
    )


def strip_params(url: str | None, names: tuple[str, ...]) -> str | None:
    """`url` without the query parameters `names` (case-insensitive)."""
    if not url or not names or "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    drop = {n.lower() for n in names}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in drop]
    return urlunsplit(parts._replace(query=urlencode(kept)))


# --- visits -------------------------------------------------------------------------------------


@dataclass(eq=False)
class VisitState:
    """What this worker knows of a visitor's current visit. `id` is None until a new visit's row
    is written with the next batch (`row` holds it meanwhile)."""

    id: int | None
    number: int
    started_at: datetime
    last_activity: datetime
    pages: int
    source: referrers.Source = field(default_factory=lambda: referrers.Source("direct"))
    last_url: str | None = None
    last_view_key: str | None = None
    visitor_id: str | None = None
    row: Visit | None = None
    # With Redis, a visit another worker started: its row comes with that worker's batch. Since
    # when this worker waits for it, and what to write if it never comes (`_shared_visit_ids`).
    waiting_since: float | None = None
    fresh: dict[str, Any] | None = None


async def _visit_of(visitor: Visitor, buf: TrackingBuffers) -> VisitState | None:
    state = buf.visits.get(visitor.id)
    if state is not None:
        buf.visits.move_to_end(visitor.id)
        return state
    if not visitor.visit_count:
        return None  # a new visitor has no visit yet: nothing to look up
    row = await Visit.filter(visitor_id=visitor.id).order_by("-started_at").first()
    if row is None:
        return None
    pages = await PageView.filter(visit_id=row.id).count()
    source = referrers.Source(row.referrer_type or "direct", row.referrer_domain, None, row.keywords,
                              row.utm if isinstance(row.utm, dict) else {})
    state = VisitState(row.id, row.number, row.started_at, row.last_activity_at, pages, source, visitor_id=visitor.id)
    _remember(visitor.id, state, buf)
    return state


# With Redis the visitor's current visit is one hash that every worker changes in one atomic step
# per page view (`_VISIT_STEP`): so a visitor whose tabs sit on several workers has one visit, and a
# visit goes on (or times out) by the last activity on any of them. The worker that starts a visit
# writes its row with its batch and then tells its id (`_VISIT_ID`); the others find it by
# (visitor, number) when they write their page views (`_shared_visit_ids`).
_VISIT = "visit:"  # + visitor id, in the deployment's namespace

# KEYS[1] the visit. ARGV: now ms, timeout ms, url, view key, expiry ms, the new visit's fields (JSON),
# then the database's visit when the hash is missing: '?' (ask for it) or number, started ms,
# last ms, pages, id, fields JSON ('0' alone: none). Returns {step, number, started ms, pages, id, fields}
# with step 'same' (the page view again), 'page', 'new' — or {'absent'} for a '?'.
_VISIT_STEP = """
local key, now, timeout = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', key) == 0 then
  if ARGV[7] == '?' then return {'absent'} end
  if ARGV[7] ~= '0' then
    redis.call('HSET', key, 'number', ARGV[7], 'started', ARGV[8], 'last', ARGV[9], 'pages', ARGV[10],
               'id', ARGV[11], 'fields', ARGV[12], 'url', '', 'view', '')
  end
end
local v = redis.call('HMGET', key, 'number', 'started', 'last', 'pages', 'url', 'view', 'id', 'fields')
if v[1] and v[1] ~= '' and now - tonumber(v[3]) <= timeout then
  local pages = tonumber(v[4])
  local same = pages > 0 and ((ARGV[4] ~= '' and ARGV[4] == v[6]) or (ARGV[4] == '' and ARGV[3] == v[5]))
  if not same then
    pages = pages + 1
    redis.call('HSET', key, 'pages', pages, 'url', ARGV[3], 'view', ARGV[4])
  end
  if now > tonumber(v[3]) then redis.call('HSET', key, 'last', now) end
  redis.call('PEXPIRE', key, ARGV[5])
  return {same and 'same' or 'page', v[1], v[2], pages, v[7] or '', v[8] or '{}'}
end
local number = math.max(tonumber(v[1] or '0') or 0, tonumber(ARGV[13] or '0') or 0) + 1
redis.call('HSET', key, 'number', number, 'started', now, 'last', now, 'pages', 1, 'url', ARGV[3],
           'view', ARGV[4], 'id', '', 'fields', ARGV[6])
redis.call('PEXPIRE', key, ARGV[5])
return {'new', tostring(number), tostring(now), 1, '', ARGV[6]}
"""

_VISIT_ID = """
if redis.call('HGET', KEYS[1], 'number') == ARGV[1] then redis.call('HSET', KEYS[1], 'id', ARGV[2]) end
return 1
"""


class _VisitScripts(dict):
    """The visit scripts, registered with this runtime's Redis client."""


def _visit_script(name: str, source: str):
    rt = runtime.current()
    scripts = rt.state(_VisitScripts)
    if name not in scripts:
        scripts[name] = rt.redis.register_script(source)
    return scripts[name]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


async def _shared_step(visitor: Visitor, settings: TrackingSettings, url: str, referrer: str | None,
                       view_key: str | None, now: datetime) -> tuple[VisitState, str]:
    """With Redis: this page view's place in the visitor's visit, decided with every worker's.
    Returns the visit and 'same' (the page view again), 'page' or 'new' (this worker writes its row)."""
    rt = runtime.current()
    key = rt.key(_VISIT + visitor.id)
    source = referrers.classify(referrer, url)
    fields = {"landing_url": url, "landing_page": settings.page(url), "referrer": referrer, "referrer_type": source.type,
              "referrer_domain": source.domain, "keywords": source.keywords, "utm": source.utm,
              "site_id": visitor.site_id, "country": visitor.country, "device": visitor.device}
    timeout_ms = settings.visit_timeout_minutes * 60_000
    args = [_ms(now), timeout_ms, url, view_key or "", timeout_ms + 60_000, json.dumps(fields)]
    script = _visit_script("step", _VISIT_STEP)
    known = ["0", "", "", "", "", "", str(visitor.visit_count or 0)]
    result = await script(keys=[key], args=args + (["?"] if visitor.visit_count else known))
    if _text(result[0]) == "absent":  # Redis does not know the visit (yet): the database does
        row = await Visit.filter(visitor_id=visitor.id).order_by("-started_at").first()
        if row is not None:
            pages = await PageView.filter(visit_id=row.id).count()
            old = {"landing_url": row.landing_url, "landing_page": row.landing_page, "referrer": row.referrer, "referrer_type": row.referrer_type,
                   "referrer_domain": row.referrer_domain, "keywords": row.keywords, "utm": row.utm,
                   "site_id": row.site_id, "country": row.country, "device": row.device}
            known = [str(row.number), str(_ms(row.started_at)), str(_ms(row.last_activity_at)), str(pages),
                     str(row.id), json.dumps(old), str(max(row.number, visitor.visit_count or 0))]
        result = await script(keys=[key], args=args + known)
    step, number, started, pages, visit_id, shared = (_text(item) for item in result)
    buf = buffers()
    state = buf.visits.get(visitor.id)
    if step == "new" or state is None or state.number != int(number):
        fresh = json.loads(shared)
        state = VisitState(int(visit_id) if visit_id else None, int(number), _moment(int(started)), now, 0,
                           referrers.Source(fresh.get("referrer_type") or "direct", fresh.get("referrer_domain"),
                                            None, fresh.get("keywords"), fresh.get("utm") or {}),
                           visitor_id=visitor.id, fresh=fresh)
        _remember(visitor.id, state)
    elif state.id is None and visit_id:
        state.id = int(visit_id)
    state.pages, state.last_url, state.last_view_key = int(pages), url, view_key
    if step == "new":
        fresh = state.fresh
        state.row = Visit(visitor_id=visitor.id, number=state.number, started_at=now, last_activity_at=now, **fresh)
        state.fresh = None  # this worker writes it
        buf.new_visits.append(state)
        visitor.visit_count = state.number
    return state, step


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _remember(visitor_id: str, state: VisitState, buf: TrackingBuffers | None = None) -> None:
    buf = buf or buffers()
    buf.visits[visitor_id] = state
    buf.visits.move_to_end(visitor_id)
    while len(buf.visits) > _VISIT_CACHE:
        buf.visits.popitem(last=False)


@dataclass(slots=True)
class PageViewed:
    """A recorded page view, for the live view: the visit it belongs to and where that came from."""

    visit: VisitState
    new_visit: bool


# --- the batch ----------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class PendingEvent:
    """A custom event waiting for the batch: the track_event row to be."""

    site_id: int
    visitor_id: str
    name: str
    props: dict[str, Any]
    url: str | None
    at: datetime
    visit_id: int | None = None

    def record(self) -> tuple:
        return (self.site_id, self.visitor_id, self.visit_id, self.name, _PROPS.to_db_value(self.props, None),
                self.url, self.at)


_PROPS = TrackEvent._meta.fields_map["props"]
_VIEW_COLUMNS = ("visit_id", "visitor_id", "url", "page", "title", "referrer", "at", "active_ms", "view_key")
_EVENT_COLUMNS = ("site_id", "visitor_id", "visit_id", "name", "props", "url", "at")

# A page view waiting for the batch is its page_view row to be: a plain tuple in `_VIEW_COLUMNS`
# order (the visit id None until the visit's row is written), its visit at the same index of
# `TrackingBuffers.view_visits`. A tuple of strings, numbers and datetimes is no object the
# garbage collector follows (an object per page view was: thousands wait between two batches, and
# every full collection walked them).
_ROW_VISIT, _ROW_VISITOR, _ROW_ACTIVE, _ROW_KEY = (_VIEW_COLUMNS.index(c)
                                                  for c in ("visit_id", "visitor_id", "active_ms", "view_key"))


_ACTIVITY_SQL = 'UPDATE "visit" SET "last_activity_at" = ? WHERE "id" = ?'
_ACTIVITY_SQL_PG = 'UPDATE "visit" SET "last_activity_at" = $1 WHERE "id" = $2'
_VISITOR_SQL = ('UPDATE "visitor" SET "current_url" = ?, "current_title" = ?, "last_seen" = ?, "visit_count" = ? '
                'WHERE "id" = ?')
_VISITOR_SQL_PG = ('UPDATE "visitor" SET "current_url" = $1, "current_title" = $2, "last_seen" = $3, '
                   '"visit_count" = $4 WHERE "id" = $5')
_ACTIVITY_COLUMNS = ("last_activity_at", "id")  # what `touched` holds: the last column is the row's id
_VISITOR_COLUMNS = ("current_url", "current_title", "last_seen", "visit_count", "id")

# SQLite: each statement takes up to `_SQLITE_ROWS` rows (9 columns × 500 = 4,500 parameters; SQLite
# allows 32,766) — an INSERT of many rows, an UPDATE … FROM (VALUES …) — so that SQLite writes a
# whole chunk in one step, which it takes without Python's interpreter lock, rather than one step
# per row, each a hand-off of that lock between the database's thread and the event loop's.
_SQLITE_ROWS = 500
_SQLITE_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)  # older: one prepared update per row


@lru_cache(maxsize=32)
def _sqlite_sql(table: str, columns: tuple[str, ...], rows: int, update: bool) -> str:
    """INSERT `rows` rows of `columns` into `table`; or (`update`) UPDATE its rows whose id is the
    last column from the others."""
    values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * rows)
    if not update:
        return f'INSERT INTO "{table}" (' + ", ".join(f'"{c}"' for c in columns) + f") VALUES {values}"
    sets = ", ".join(f'"{c}" = v.column{i}' for i, c in enumerate(columns[:-1], 1))
    return (f'UPDATE "{table}" SET {sets} FROM (VALUES {values}) AS v '
            f'WHERE "{table}"."{columns[-1]}" = v.column{len(columns)}')


def _sqlite_statements(table: str, columns: tuple[str, ...], records: list[tuple], at: str,
                       update: bool = False) -> list[tuple[str, list]]:
    """(statement, parameters) writing `records`, `_SQLITE_ROWS` rows a statement. The datetimes of
    column `at` are given as the text SQLite keeps (what the sqlite3 module's default adapter makes
    of them), here rather than one adapter call per row on the database's thread."""
    width, at = len(columns), columns.index(at)
    out = []
    for start in range(0, len(records), _SQLITE_ROWS):
        chunk = records[start:start + _SQLITE_ROWS]
        params = list(chain.from_iterable(chunk))
        params[at::width] = [t.isoformat(" ") if t.__class__ is datetime else t for t in params[at::width]]
        out.append((_sqlite_sql(table, columns, len(chunk), update), params))
    return out


def _run_sqlite(db: sqlite3.Connection, statements: list[tuple[str, list]],
                updates: list[tuple[str, list[tuple]]]) -> None:
    """On the database's thread: the batch's statements, one after the other."""
    cursor = db.cursor()
    try:
        for sql, params in statements:
            cursor.execute(sql, params)
        for sql, rows in updates:
            cursor.executemany(sql, rows)
    finally:
        cursor.close()


async def _write_rows(conn, views: list[tuple], events: list[tuple], touched: list[tuple],
                      pages: list[tuple]) -> None:
    """Write the batch's page views, custom events, visits' last activity (`_ACTIVITY_COLUMNS`) and
    visitors' current page (`_VISITOR_COLUMNS`) in the batch's transaction (`conn`). PostgreSQL:
    the rows with COPY, the updates each one prepared statement run for every row. SQLite:
    everything in one call on the database's thread (each call there is a round trip between
    threads)."""
    if conn.capabilities.dialect == "postgres":
        if views or events:
            async with conn.acquire_connection() as raw:
                if views:
                    await raw.copy_records_to_table("page_view", columns=list(_VIEW_COLUMNS), records=views)
                if events:
                    await raw.copy_records_to_table("track_event", columns=list(_EVENT_COLUMNS), records=events)
        if touched:
            await conn.execute_many(_ACTIVITY_SQL_PG, touched)
        if pages:
            await conn.execute_many(_VISITOR_SQL_PG, pages)
        return
    statements = (_sqlite_statements("page_view", _VIEW_COLUMNS, views, "at")
                  + _sqlite_statements("track_event", _EVENT_COLUMNS, events, "at"))
    updates = []
    if _SQLITE_UPDATE_FROM:
        # One row per id (of the same visit twice, the one given last: as updates run in order would).
        touched = list({row[-1]: row for row in touched}.values())
        statements += (_sqlite_statements("visit", _ACTIVITY_COLUMNS, touched, "last_activity_at", update=True)
                       + _sqlite_statements("visitor", _VISITOR_COLUMNS, pages, "last_seen", update=True))
    else:
        updates = [(sql, rows) for sql, rows in ((_ACTIVITY_SQL, touched), (_VISITOR_SQL, pages)) if rows]
    if not (statements or updates):
        return
    async with conn.acquire_connection() as aio:  # the transaction's aiosqlite connection
        try:
            # aiosqlite runs a function on its thread with `_execute` (what its own methods use).
            await aio._execute(_run_sqlite, aio._conn, statements, updates)
        except sqlite3.IntegrityError as exc:  # as the ORM's own statements raise them
            raise IntegrityError(exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc


@dataclass
class TrackingBuffers:
    """What this worker has collected of the trail and not yet written, and the visits it knows
    (on the server's runtime: `buffers()`)."""

    visits: OrderedDict[str, VisitState] = field(default_factory=OrderedDict)  # visitor → current visit
    new_visits: list[VisitState] = field(default_factory=list)
    views: list[tuple] = field(default_factory=list)  # page_view rows to be (`_VIEW_COLUMNS`)
    view_visits: list[VisitState] = field(default_factory=list)  # the visit of each, same index
    pending_by_key: dict[tuple[str, str], int] = field(default_factory=dict)  # (visitor, view key) → index
    events: list[tuple[PendingEvent, VisitState | None]] = field(default_factory=list)
    times: dict[tuple[str, str], int] = field(default_factory=dict)
    # Times on page whose view no batch had written yet (its page_view still on its way, or in
    # another worker's batch): (visitor, view key) → (active ms, since when, monotonic).
    waiting_times: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    # Written visits whose last activity changed (to state.last_activity), by id() of the state.
    visit_activity: dict[int, VisitState] = field(default_factory=dict)
    page_keys: dict[tuple[str, bool, tuple[str, ...]], str] = field(default_factory=dict)  # TrackingSettings.page
    visitor_pages: dict[str, tuple[str, str | None, datetime, int]] = field(default_factory=dict)
    flusher: asyncio.Task | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stats: dict[str, int] = field(default_factory=lambda: {"flushes": 0, "page_views": 0, "events": 0, "visits": 0})


def buffers() -> TrackingBuffers:
    """This server's trail buffers (on its runtime)."""
    return runtime.current().state(TrackingBuffers)


_TIME_SQL = ("UPDATE page_view SET active_ms = ? WHERE visitor_id = ? AND view_key = ? "
             "AND (active_ms IS NULL OR active_ms < ?)")
_TIME_SQL_PG = ("UPDATE page_view SET active_ms = $1 WHERE visitor_id = $2 AND view_key = $3 "
                "AND (active_ms IS NULL OR active_ms < $4)")


def _pending_rows(buf: TrackingBuffers | None = None) -> int:
    buf = buf or buffers()
    return len(buf.views) + len(buf.events) + len(buf.times) + len(buf.new_visits)


def _schedule(buf: TrackingBuffers | None = None) -> None:
    """Write the batch within FLUSH_SECONDS, or now when it is full."""
    buf = buf or buffers()
    pending = _pending_rows(buf)
    if buf.flusher is not None and not buf.flusher.done():
        if pending < BATCH_ROWS or buf.flusher.get_name() == "trail-flush-now":
            return
        buf.flusher.cancel()  # a full batch goes now rather than at the end of the wait
    full = pending >= BATCH_ROWS
    loops.waiting("trail")  # /readyz: stalled if these rows are still unwritten long from now
    buf.flusher = asyncio.get_running_loop().create_task(_flush_soon(0 if full else FLUSH_SECONDS),
                                                         name="trail-flush-now" if full else "trail-flush")


async def _flush_soon(delay: float) -> None:
    buf = buffers()
    await asyncio.sleep(delay)
    task = asyncio.current_task()

    def writing() -> None:
        # From here on this task is writing: what arrives meanwhile needs (and gets) a flush of its
        # own, and a full batch never cancels a write half done (its rows would be lost). Until
        # then (waiting for the batch before to be written) it stays the one flush to come, which
        # takes all that arrives meanwhile.
        if buf.flusher is task:
            buf.flusher = None

    try:
        await flush(_writing=writing)
    except Exception as exc:  # kept for the next batch
        loops.failed("trail", exc)
        log.exception("writing the trail failed")


async def _insert_visits(new: list[VisitState], conn) -> dict[int, int]:
    """Write new visits (one bulk insert) and learn their ids (one query): {id(state): visit id}."""
    for state in new:
        state.row.last_activity_at = state.last_activity
    await Visit.bulk_create([state.row for state in new], batch_size=BATCH_ROWS, using_db=conn)
    wanted = {(state.visitor_id, state.number): state for state in new}
    found: dict[int, int] = {}
    since = min(state.started_at for state in new)
    for start in range(0, len(new), 1000):
        visitor_ids = list({state.visitor_id for state in new[start:start + 1000]})
        for row in await Visit.filter(visitor_id__in=visitor_ids, started_at__gte=since).using_db(conn) \
                .order_by("id").values("id", "visitor_id", "number"):
            state = wanted.get((row["visitor_id"], row["number"]))
            if state is not None:
                found[id(state)] = row["id"]  # the newest row of that number wins
    return found


async def _shared_visit_ids(states: list[VisitState], conn) -> list[VisitState]:
    """With Redis: the ids of visits another worker started (its batch writes their rows), from the
    database. Returns the ones this worker writes instead: still without a row after
    `SHARED_VISIT_WAIT_SECONDS` (the worker that started it died before its batch was written)."""
    waiting = list({id(s): s for s in states if s.id is None and s.row is None and s.fresh is not None}.values())
    if not waiting:
        return []
    rows = await Visit.filter(visitor_id__in={s.visitor_id for s in waiting}, number__in={s.number for s in waiting}) \
        .using_db(conn).order_by("id").values("id", "visitor_id", "number")
    first: dict[tuple[str, int], int] = {}
    for row in rows:
        first.setdefault((row["visitor_id"], row["number"]), row["id"])
    orphans, now = [], time.monotonic()
    for state in waiting:
        state.id = first.get((state.visitor_id, state.number))
        if state.id is not None:
            continue
        if state.waiting_since is None:
            state.waiting_since = now
        elif now - state.waiting_since > SHARED_VISIT_WAIT_SECONDS:
            state.row = Visit(**state.fresh, visitor_id=state.visitor_id, number=state.number,
                              started_at=state.started_at, last_activity_at=state.last_activity)
            orphans.append(state)
    return orphans


async def _share_visit_ids(written: list[VisitState]) -> None:
    """With Redis: the visits this batch wrote tell the other workers their ids."""
    rt = runtime.current()
    if rt.redis is None or not written:
        return
    script = _visit_script("id", _VISIT_ID)
    for state in written:
        if state.id is not None:
            await script(keys=[rt.key(_VISIT + state.visitor_id)], args=[state.number, state.id])


async def _written_views(keys: list[tuple[str, str]], conn) -> set[tuple[str, str]]:
    """Which of these (visitor, view key) page views have a row."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        rows = await PageView.filter(visitor_id__in={k[0] for k in chunk}, view_key__in={k[1] for k in chunk}) \
            .using_db(conn).values_list("visitor_id", "view_key")
        found.update((vid, key) for vid, key in rows)
    return found


def _keep_waiting(unmatched: dict[tuple[str, str], int]) -> None:
    """Times on page whose view is not written yet: kept (and tried with each batch) until it is,
    for at most `TIME_WAITS_SECONDS` (a view that never comes: its page_view was refused)."""
    buf = buffers()
    now = time.monotonic()
    for key, ms in unmatched.items():
        index = buf.pending_by_key.get(key)
        if index is not None:  # its view arrived while this batch was written
            _raise_time(buf, index, ms)
            buf.waiting_times.pop(key, None)
            continue
        held, since = buf.waiting_times.get(key, (0, now))
        if now - since < TIME_WAITS_SECONDS:
            buf.waiting_times[key] = (max(ms, held), since)
        else:
            buf.waiting_times.pop(key, None)
    for key in [k for k in buf.waiting_times if k not in unmatched]:  # written meanwhile
        del buf.waiting_times[key]
    if buf.waiting_times:
        _schedule()


async def flush(_writing=None) -> None:
    """Write everything collected so far (one transaction)."""
    buf = buffers()
    async with buf.lock:
        if _writing is not None:
            _writing()
        if not (buf.new_visits or buf.views or buf.events or buf.times or buf.visit_activity or buf.visitor_pages
                or buf.waiting_times):
            loops.succeeded("trail")
            return
        started = time.perf_counter()
        new, events, times = list(buf.new_visits), list(buf.events), dict(buf.times)
        views, view_visits = buf.views, buf.view_visits
        buf.views, buf.view_visits = [], []
        for key, (ms, _) in buf.waiting_times.items():  # tried again: their view may be written now
            times[key] = max(ms, times.get(key, 0))
        unmatched: dict[tuple[str, str], int] = {}
        activity = {key: (state, state.last_activity) for key, state in buf.visit_activity.items()}
        pages = dict(buf.visitor_pages)
        for batch in (buf.new_visits, buf.events, buf.times, buf.visit_activity, buf.visitor_pages,
                      buf.pending_by_key):
            batch.clear()
        try:
            async with in_transaction() as conn:
                new += await _shared_visit_ids(view_visits + [s for _, s in events if s is not None]
                                               + [s for s, _ in activity.values()], conn)
                ids = await _insert_visits(new, conn) if new else {}

                def visit_id(state: VisitState | None) -> int | None:
                    return None if state is None else (state.id if state.id is not None else ids.get(id(state)))

                # Page views and events of a visit another worker has not written yet: next batch.
                ready_views: list[tuple] = []
                held_views: list[tuple] = []
                held_visits: list[VisitState] = []
                for row, state in zip(views, view_visits):
                    if row[_ROW_VISIT] is not None:  # the visit was written when the view came
                        ready_views.append(row)
                    elif (vid := visit_id(state)) is not None:
                        ready_views.append((vid,) + row[1:])
                    else:
                        held_views.append(row)
                        held_visits.append(state)
                held_events = [(e, state) for e, state in events if state is not None and visit_id(state) is None]
                ready_events = [(e, state) for e, state in events if state is None or visit_id(state) is not None]
                for event, state in ready_events:
                    event.visit_id = visit_id(state)
                touched = [(at, visit_id(state)) for state, at in activity.values() if visit_id(state) is not None]
                deferred = {k: state for k, (state, _) in activity.items() if visit_id(state) is None}
                await _write_rows(conn, ready_views, [e.record() for e, _ in ready_events], touched,
                                  [(url, title, at, count, visitor_id)
                                   for visitor_id, (url, title, at, count) in pages.items()])
                if times:
                    # A time whose view is not written yet (not even by this batch) waits for it.
                    found = await _written_views(list(times), conn)
                    unmatched = {key: ms for key, ms in times.items() if key not in found}
                    sql = _TIME_SQL_PG if conn.capabilities.dialect == "postgres" else _TIME_SQL
                    matched = [[ms, vid, key, ms] for (vid, key), ms in times.items() if (vid, key) in found]
                    if matched:
                        await conn.execute_many(sql, matched)
        except Exception:
            # Put it back for the next batch: nothing is dropped for a passing database fault.
            buf.new_visits[:0] = new
            _put_back_views(buf, views, view_visits)
            buf.events[:0] = events
            for key, ms in times.items():
                buf.times[key] = max(ms, buf.times.get(key, 0))
            for key, (state, _) in activity.items():
                buf.visit_activity.setdefault(key, state)
            for key, value in pages.items():
                buf.visitor_pages.setdefault(key, value)
            raise
        for state in new:  # written: the visits have their ids now
            state.id, state.row = ids.get(id(state)), None
        await _share_visit_ids(new)
        _put_back_views(buf, held_views, held_visits)
        buf.events[:0] = held_events
        for index, row in enumerate(held_views):
            if row[_ROW_KEY]:
                buf.pending_by_key.setdefault((row[_ROW_VISITOR], row[_ROW_KEY]), index)
        if held_views or held_events:
            _schedule()
        _keep_waiting(unmatched)
        for key, state in deferred.items():  # visits being written by the batch before: next time
            buf.visit_activity.setdefault(key, state)
        buf.stats["flushes"] += 1
        buf.stats["page_views"] += len(views)
        buf.stats["events"] += len(events)
        buf.stats["visits"] += len(new)
        metrics.current().observe_trail_flush(time.perf_counter() - started, {
            "page_views": len(views), "events": len(events), "visits": len(new)})
        loops.succeeded("trail")


def _put_back_views(buf: TrackingBuffers, rows: list[tuple], visits: list[VisitState]) -> None:
    """Page views back at the head of the batch (the ones queued since keep their place after them)."""
    if not rows:
        return
    buf.views[:0] = rows
    buf.view_visits[:0] = visits
    buf.pending_by_key = {key: index + len(rows) for key, index in buf.pending_by_key.items()}


def _keep_views(buf: TrackingBuffers, keep) -> None:
    """Only the queued page views for which `keep(row, visit)` is true stay queued."""
    kept, visits, moved = [], [], {}
    for index, (row, state) in enumerate(zip(buf.views, buf.view_visits)):
        if keep(row, state):
            moved[index] = len(kept)
            kept.append(row)
            visits.append(state)
    buf.views, buf.view_visits = kept, visits
    buf.pending_by_key = {key: moved[index] for key, index in buf.pending_by_key.items() if index in moved}


def _raise_time(buf: TrackingBuffers, index: int, active_ms: int) -> None:
    """The queued page view at `index` has been visible for `active_ms` so far (the largest count wins)."""
    row = buf.views[index]
    if row[_ROW_ACTIVE] is None or active_ms > row[_ROW_ACTIVE]:
        buf.views[index] = row[:_ROW_ACTIVE] + (active_ms,) + row[_ROW_ACTIVE + 1:]


# --- ingest -------------------------------------------------------------------------------------


def _touch(state: VisitState, now: datetime, buf: TrackingBuffers | None = None) -> None:
    buf = buf or buffers()
    state.last_activity = now
    if state.row is None:  # a visit not written yet gets its last activity with its row
        buf.visit_activity[id(state)] = state


_PAGE_KEYS = 10_000  # page keys remembered per worker (`_page`)


def _page(buf: TrackingBuffers, settings: TrackingSettings, url: str) -> str:
    """`settings.page(url)`, remembered: a site's visitors view the same pages over and over."""
    key = (url, settings.hash_routes, settings.route_params)
    page = buf.page_keys.get(key)
    if page is None:
        if len(buf.page_keys) >= _PAGE_KEYS:
            buf.page_keys.clear()
        page = buf.page_keys[key] = settings.page(url)
    return page


async def page_view(visitor: Visitor, settings: TrackingSettings, url: str, title: str | None,
                    referrer: str | None, view_key: str | None, at: datetime | None = None) -> PageViewed | None:
    """Record that `visitor` opened `url`. None when the site keeps no trail."""
    if not settings.enabled or visitor.is_bot:
        return None
    rt = runtime.current()
    buf = rt.state(TrackingBuffers)
    now = at or utcnow()
    if settings.strip_params:
        url = strip_params(url, settings.strip_params) or url
        referrer = strip_params(referrer, settings.strip_params)
    if rt.redis is not None:
        state, step = await _shared_step(visitor, settings, url, referrer, view_key, now)
        if step == "same":  # the widget reconnected and said it once more: not a new page
            _touch(state, now, buf)
            _schedule(buf)
            return PageViewed(state, False)
        new_visit = step == "new"
    else:
        state = buf.visits.get(visitor.id)
        if state is not None:
            buf.visits.move_to_end(visitor.id)
        else:
            state = await _visit_of(visitor, buf)
        if state is not None and state.pages and (
                (view_key and view_key == state.last_view_key) or (not view_key and url == state.last_url)):
            # The same page view again (the widget reconnected and said it once more): not a new page.
            _touch(state, now, buf)
            _schedule(buf)
            return PageViewed(state, False)
        new_visit = state is None or now - state.last_activity > settings.visit_timeout
        if new_visit:
            source = referrers.classify(referrer, url)
            number = max(visitor.visit_count or 0, state.number if state else 0) + 1
            row = Visit(
                site_id=visitor.site_id, visitor_id=visitor.id, number=number, started_at=now, last_activity_at=now,
                landing_url=url, landing_page=_page(buf, settings, url), referrer=referrer,
                referrer_type=source.type, referrer_domain=source.domain, keywords=source.keywords, utm=source.utm,
                country=visitor.country, device=visitor.device,
            )
            state = VisitState(None, number, now, now, 0, source, visitor_id=visitor.id, row=row)
            buf.new_visits.append(state)
            _remember(visitor.id, state, buf)
            visitor.visit_count = number
        state.pages += 1
        state.last_url, state.last_view_key = url, view_key

    # The page view goes into the batch (its visit decided).
    _touch(state, now, buf)
    active_ms = None
    if view_key:
        key = (visitor.id, view_key)
        buf.pending_by_key[key] = len(buf.views)
        if buf.waiting_times:
            early = buf.waiting_times.pop(key, None)  # its time came first
            if early is not None:
                active_ms = early[0]
    buf.views.append((state.id, visitor.id, url, _page(buf, settings, url), title, referrer, now, active_ms, view_key))
    buf.view_visits.append(state)
    buf.visitor_pages[visitor.id] = (url, title, now, max(visitor.visit_count or 0, state.number))
    # Plain columns (no relation, no default computed on save): the model's __setattr__ would add
    # nothing to a write straight to the instance's attributes, once per page view.
    fields = visitor.__dict__
    fields["current_url"], fields["current_title"], fields["last_seen"] = url, title, now
    _schedule(buf)
    if _csr_may_watch(rt, visitor.id):
        await _tell_csr(visitor, url, title)
    return PageViewed(state, new_visit)


def latest(visitor: Visitor) -> Visitor:
    """`visitor` (read from the database) with what this worker's next batch will write of it:
    the current page and visit count that CSRs see at once."""
    buf = buffers()
    pending = buf.visitor_pages.get(visitor.id)
    if pending is not None:
        visitor.current_url, visitor.current_title, visitor.last_seen, visitor.visit_count = pending
    return visitor


def _csr_may_watch(rt: runtime.Runtime, visitor_id: str) -> bool:
    """Whether a CSR may be chatting with this visitor (`_tell_csr` finds out). Without Redis the
    live row knows without asking the database; with several workers a chat may have changed on
    another one."""
    if rt.redis is not None:
        return True
    row = live.row(visitor_id, rt)
    return row is not None and row.get("chat") == "assigned"


async def _tell_csr(visitor: Visitor, url: str, title: str | None) -> None:
    """The CSR chatting with this visitor sees the page change in the sidebar (and, on any worker,
    the visitor's current page at once: it is written now rather than with the batch)."""
    open_chat = await Conversation.filter(visitor_id=visitor.id, status="assigned").first()
    if open_chat is not None:
        await Visitor.filter(id=visitor.id).update(current_url=url, current_title=title, last_seen=visitor.last_seen)
        await bus.to_staff(
            "visitor.page", {"visitor_id": visitor.id, "url": url, "title": title},
            agent_id=open_chat.agent_id, conversation_id=open_chat.id,
        )


async def page_time(visitor: Visitor, settings: TrackingSettings, view_key: str, active_ms: int) -> None:
    """The page view `view_key` has been visible for `active_ms` so far (the largest count wins)."""
    buf = buffers()
    if not settings.enabled:
        return
    active_ms = min(max(0, active_ms), MAX_ACTIVE_MS)
    index = buf.pending_by_key.get((visitor.id, view_key))
    if index is not None:
        _raise_time(buf, index, active_ms)
        return
    # Not in this batch: the view is written already, or its page_view has not been handled yet
    # (socket.io runs handlers concurrently; a beacon may reach another worker): the batch applies
    # it to the row, or keeps it until the view is written (`flush`).
    key = (visitor.id, view_key)
    buf.times[key] = max(active_ms, buf.times.get(key, 0))
    _schedule()


def _scalar(value: Any, what: str) -> None:
    """A value a site may attach: a string, a finite number, a boolean or null."""
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise ServiceError("bad_request", "%(what)s must be strings, numbers, booleans or null.", what=Words(what))
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceError("bad_request", "%(what)s must be finite numbers (no NaN or Infinity).", what=Words(what))


def check_props(props: Any) -> dict[str, Any]:
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ServiceError("bad_request", "'props' must be an object.")
    if len(props) > MAX_PROPS:
        raise ServiceError("too_large", "'props' has more than %(most)s keys.", most=MAX_PROPS)
    for key, value in props.items():
        if not EVENT_NAME.match(str(key)):
            raise ServiceError("bad_request", "A key of 'props' is not 1-64 letters, digits, '_', '.', ':' or '-'.")
        _scalar(value, N_("'props' values"))
    if len(json.dumps(props)) > MAX_PROPS_JSON:
        raise ServiceError("too_large", "'props' is larger than %(most)s bytes.", most=MAX_PROPS_JSON)
    return props


async def track(visitor: Visitor, settings: TrackingSettings, name: str, props: dict[str, Any],
                at: datetime | None = None) -> bool:
    """A custom event. Returns whether it was kept."""
    buf = buffers()
    if not settings.enabled or visitor.is_bot:
        return False
    state = buf.visits.get(visitor.id)
    buf.events.append((PendingEvent(visitor.site_id, visitor.id, name, props, visitor.current_url, at or utcnow()),
                       state))
    _schedule()
    return True


def check_attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise ServiceError("bad_request", "'attributes' must be an object.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ServiceError("too_large", "'attributes' has more than %(most)s keys.", most=MAX_ATTRIBUTES)
    for key, value in attributes.items():
        if not EVENT_NAME.match(str(key)):
            raise ServiceError("bad_request", "An attribute name is not 1-64 letters, digits, '_', '.', ':' or '-'.")
        _scalar(value, N_("Attribute values"))
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
            raise ServiceError("too_large", "An attribute value is longer than %(most)s characters.",
                                   most=MAX_ATTRIBUTE_CHARS)
    return attributes


def identity_hash(secret: str, user_id: str) -> str:
    """The `user_hash` a site's backend computes for one of its users: hex HMAC-SHA256 of the
    user id, keyed with the site's identity secret (docs/widget.md, "Identity verification")."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


async def identify(visitor: Visitor, external_id: str | None, name: str | None, email: str | None,
                   attributes: dict[str, Any], user_hash: str | None = None) -> bool:
    """The site says who this visitor is: its own user id, name, e-mail and attributes (merged
    into earlier ones). Returns whether the id is verified.

    On a site with an identity secret the id counts only with its `user_hash`: without a valid
    one the whole call is refused (`forbidden`, nothing stored), so nobody can take another
    person's id and with it their devices' trails and transcripts. On a site without a secret
    the id is kept unverified, and links nothing (`linked_visitor_ids`)."""
    verified = bool(visitor.identity_verified)
    if external_id is None:
        if user_hash is not None:
            raise ServiceError("bad_request", "'user_hash' goes with the 'id' it proves.")
    else:
        # Read now, not from a cache: a rotated or cleared secret applies to the next call.
        secret = (await Site.get(id=visitor.site_id)).identity_secret
        verified = False
        if secret:
            # Constant time: how much of a guess matches must not show in the time taken.
            expected = identity_hash(secret, external_id).encode()
            if user_hash is None or not hmac.compare_digest(expected, user_hash.lower().encode()):
                raise ServiceError("forbidden", "This site verifies identities: 'user_hash' must be the "
                                                "HMAC-SHA256 of 'id' with the site's identity secret.")
            verified = True
    updates: dict[str, Any] = {}
    if external_id is not None and external_id != visitor.external_id:
        updates["external_id"] = external_id
    if verified != visitor.identity_verified:
        updates["identity_verified"] = verified
    if name is not None and name != visitor.name:
        updates["name"] = name
    if email is not None and email != visitor.email:
        updates["email"] = email
    if attributes:
        merged = {**(visitor.attributes if isinstance(visitor.attributes, dict) else {}), **attributes}
        merged = {k: v for k, v in merged.items() if v is not None}
        if len(merged) > MAX_ATTRIBUTES * 2:
            raise ServiceError("too_large", "This visitor has too many attributes already.")
        if merged != visitor.attributes:
            updates["attributes"] = merged
    if not updates:
        return verified
    await Visitor.filter(id=visitor.id).update(**updates)
    for key, value in updates.items():
        setattr(visitor, key, value)
    if "name" in updates:
        await live.update(visitor.id, name=visitor.name)
    return verified


# --- readers, retention, export and erasure -------------------------------------------------------


async def linked_visitor_ids(visitor: Visitor) -> list[str]:
    """This visitor first, then the site's other visitors verified as the same person. Only
    verified identities link: an id any browser may claim (a site without an identity secret)
    links nothing."""
    if not visitor.external_id or not visitor.identity_verified:
        return [visitor.id]
    ids = await Visitor.filter(site_id=visitor.site_id, external_id=visitor.external_id, identity_verified=True) \
        .values_list("id", flat=True)
    return sorted(set(ids) | {visitor.id}, key=lambda i: i != visitor.id)


async def purge(now: datetime | None = None) -> dict[str, int]:
    """Delete the trail older than each site's retention, and visitors idle that long who never
    chatted (a visitor with conversations keeps the visitor row: transcripts are kept with it)."""
    buf = buffers()
    await flush()
    now = now or utcnow()
    totals = {"page_views": 0, "events": 0, "visits": 0, "visitors": 0}
    for site in await Site.all():
        cutoff = now - timedelta(days=settings_of(site).retention_days)
        visits = Visit.filter(site_id=site.id, last_activity_at__lt=cutoff)
        visit_ids = await visits.values_list("id", flat=True)
        for start in range(0, len(visit_ids), 1000):
            chunk = visit_ids[start:start + 1000]
            totals["page_views"] += await PageView.filter(visit_id__in=chunk).delete()
        totals["page_views"] += await PageView.filter(visitor__site_id=site.id, at__lt=cutoff).delete()
        totals["events"] += await TrackEvent.filter(site_id=site.id, at__lt=cutoff).delete()
        totals["visits"] += await Visit.filter(id__in=visit_ids).delete() if visit_ids else 0
        chatted = Conversation.filter(visitor__site_id=site.id).values_list("visitor_id", flat=True)
        idle = Visitor.filter(site_id=site.id, last_seen__lt=cutoff).exclude(id__in=await chatted)
        idle_ids = await idle.values_list("id", flat=True)
        for start in range(0, len(idle_ids), 1000):
            totals["visitors"] += await Visitor.filter(id__in=idle_ids[start:start + 1000]).delete()
        for visitor_id in idle_ids:
            buf.visits.pop(visitor_id, None)
    return totals


async def purge_forever(interval_seconds: float = 3600.0) -> None:
    """The scheduled retention job: once at start-up, then every `interval_seconds`."""
    loops.started("retention", interval_seconds)
    while True:
        try:
            totals = await purge()
            loops.succeeded("retention")
            if any(totals.values()):
                log.info("retention purge: %s", totals)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            loops.failed("retention", exc)
            log.exception("retention purge failed")
        await asyncio.sleep(interval_seconds)


def forget(visitor_id: str) -> None:
    """Drop what this worker holds of a visitor (after erasure)."""
    buf = buffers()
    buf.visits.pop(visitor_id, None)
    buf.new_visits[:] = [state for state in buf.new_visits if state.visitor_id != visitor_id]
    _keep_views(buf, lambda row, _: row[_ROW_VISITOR] != visitor_id)  # and their keys
    buf.events[:] = [pair for pair in buf.events if pair[0].visitor_id != visitor_id]
    for key in [k for k, state in buf.visit_activity.items() if state.visitor_id == visitor_id]:
        del buf.visit_activity[key]
    for key in [k for k in buf.times if k[0] == visitor_id]:
        del buf.times[key]
    for key in [k for k in buf.waiting_times if k[0] == visitor_id]:
        del buf.waiting_times[key]
    buf.visitor_pages.pop(visitor_id, None)


def reset() -> None:
    """Forget everything (a new process, or a benchmark's fresh start)."""
    buf = buffers()
    buf.visits.clear()
    buf.new_visits.clear()
    buf.views.clear()
    buf.view_visits.clear()
    buf.events.clear()
    buf.times.clear()
    buf.pending_by_key.clear()
    buf.waiting_times.clear()
    buf.visit_activity.clear()
    buf.visitor_pages.clear()
    buf.page_keys.clear()
    for key in buf.stats:
        buf.stats[key] = 0
