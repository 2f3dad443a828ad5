"""The trail: page views, time on page, custom events and identify calls, as the widget reports
them over its socket or the beacon endpoint.

Writes are batched: a page view costs no database round trip of its own. Each worker collects
what arrives and writes it every `FLUSH_SECONDS` (or once `BATCH_ROWS` rows wait) in one
transaction — new page views and custom events in bulk inserts, the visits' and visitors' "last
seen" in bulk updates, times on page in one statement run many times. Only the first page view of
a visit writes at once (the visit row, whose id the page views need). The live Visitors view is
fed at once from memory (app/tracking/live.py); readers of the trail (profile, explorer, exports)
call `flush()` first. A worker that dies loses at most the last `FLUSH_SECONDS` of trail.

Per-site settings, `Site.settings["tracking"]` (`site-settings --set '{"tracking": {…}}'`):
`enabled` (default true; false: no trail is kept, chat works), `respect_dnt` (default true: a
browser that sends Do Not Track or Global Privacy Control is not tracked), `anonymize_ip`
(default true: the country is looked up from the address with its host part zeroed; addresses
are never stored), `strip_params` (query parameters removed from every URL we keep, e.g.
["token", "email"]), `visit_timeout_minutes` (default 30: a new visit after that long without
activity), `retention_days` (default 395: page views, custom events and visits older than that,
and visitors idle that long, are purged), `conversion_events` (custom events that count as a
conversion in the explorer and the invitation funnel).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise.transactions import in_transaction

from app import runtime
from app.clock import utcnow
from app.models import Conversation, PageView, Site, TrackEvent, Visit, Visitor
from app import bus
from app.services import ServiceError
from app.tracking import live
from app.tracking import referrer as referrers

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
BATCH_ROWS = 500
MAX_ACTIVE_MS = 86_400_000
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_PROPS = 20
MAX_PROPS_JSON = 2048
MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_CHARS = 256
_VISIT_CACHE = 50_000
DEFAULT_CONVERSION_EVENTS = ("purchase", "signup", "lead", "conversion")


@dataclass(frozen=True)
class TrackingSettings:
    enabled: bool = True
    respect_dnt: bool = True
    anonymize_ip: bool = True
    strip_params: tuple[str, ...] = ()
    visit_timeout_minutes: int = 30
    retention_days: int = 395
    conversion_events: tuple[str, ...] = DEFAULT_CONVERSION_EVENTS

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
    return TrackingSettings(
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


async def _visit_of(visitor: Visitor) -> VisitState | None:
    buf = buffers()
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
    _remember(visitor.id, state)
    return state


def _remember(visitor_id: str, state: VisitState) -> None:
    buf = buffers()
    buf.visits[visitor_id] = state
    buf.visits.move_to_end(visitor_id)
    while len(buf.visits) > _VISIT_CACHE:
        buf.visits.popitem(last=False)


@dataclass
class PageViewed:
    """A recorded page view, for the live view: the visit it belongs to and where that came from."""

    visit: VisitState
    new_visit: bool


# --- the batch ----------------------------------------------------------------------------------


@dataclass
class TrackingBuffers:
    """What this worker has collected of the trail and not yet written, and the visits it knows
    (on the server's runtime: `buffers()`)."""

    visits: OrderedDict[str, VisitState] = field(default_factory=OrderedDict)  # visitor → current visit
    new_visits: list[VisitState] = field(default_factory=list)
    views: list[tuple[PageView, VisitState]] = field(default_factory=list)
    pending_by_key: dict[tuple[str, str], PageView] = field(default_factory=dict)
    events: list[tuple[TrackEvent, VisitState | None]] = field(default_factory=list)
    times: dict[tuple[str, str], int] = field(default_factory=dict)
    visit_activity: dict[int, tuple[VisitState, datetime]] = field(default_factory=dict)  # by id() of the state
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


def _pending_rows() -> int:
    buf = buffers()
    return len(buf.views) + len(buf.events) + len(buf.times) + len(buf.new_visits)


def _schedule() -> None:
    """Write the batch within FLUSH_SECONDS, or now when it is full."""
    buf = buffers()
    if buf.flusher is not None and not buf.flusher.done():
        if _pending_rows() < BATCH_ROWS or buf.flusher.get_name() == "trail-flush-now":
            return
        buf.flusher.cancel()  # a full batch goes now rather than at the end of the wait
    full = _pending_rows() >= BATCH_ROWS
    buf.flusher = asyncio.get_running_loop().create_task(_flush_soon(0 if full else FLUSH_SECONDS),
                                                         name="trail-flush-now" if full else "trail-flush")


async def _flush_soon(delay: float) -> None:
    buf = buffers()
    await asyncio.sleep(delay)
    # From here on this task is writing: what arrives meanwhile needs (and gets) a flush of its
    # own, and a full batch never cancels a write half done (its rows would be lost).
    if buf.flusher is asyncio.current_task():
        buf.flusher = None
    try:
        await flush()
    except Exception:  # kept for the next batch
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


async def flush() -> None:
    """Write everything collected so far (one transaction)."""
    buf = buffers()
    async with buf.lock:
        if not (buf.new_visits or buf.views or buf.events or buf.times or buf.visit_activity or buf.visitor_pages):
            return
        new, views, events, times = list(buf.new_visits), list(buf.views), list(buf.events), dict(buf.times)
        activity, pages = dict(buf.visit_activity), dict(buf.visitor_pages)
        for batch in (buf.new_visits, buf.views, buf.events, buf.times, buf.visit_activity, buf.visitor_pages,
                      buf.pending_by_key):
            batch.clear()
        try:
            async with in_transaction() as conn:
                ids = await _insert_visits(new, conn) if new else {}

                def visit_id(state: VisitState | None) -> int | None:
                    return None if state is None else (state.id if state.id is not None else ids.get(id(state)))

                if views:
                    for view, state in views:
                        view.visit_id = visit_id(state)
                    await PageView.bulk_create([v for v, _ in views], batch_size=BATCH_ROWS, using_db=conn)
                if events:
                    for event, state in events:
                        event.visit_id = visit_id(state)
                    await TrackEvent.bulk_create([e for e, _ in events], batch_size=BATCH_ROWS, using_db=conn)
                touched = [Visit(id=visit_id(state), last_activity_at=at) for state, at in activity.values()
                           if visit_id(state) is not None]
                deferred = {k: (state, at) for k, (state, at) in activity.items() if visit_id(state) is None}
                if touched:
                    for v in touched:
                        v._saved_in_db = True
                    await Visit.bulk_update(touched, fields=["last_activity_at"], batch_size=BATCH_ROWS, using_db=conn)
                if pages:
                    rows = []
                    for visitor_id, (url, title, at, count) in pages.items():
                        row = Visitor(id=visitor_id, current_url=url, current_title=title, last_seen=at,
                                      visit_count=count)
                        row._saved_in_db = True
                        rows.append(row)
                    await Visitor.bulk_update(rows, fields=["current_url", "current_title", "last_seen", "visit_count"],
                                              batch_size=BATCH_ROWS, using_db=conn)
                if times:
                    sql = _TIME_SQL_PG if conn.capabilities.dialect == "postgres" else _TIME_SQL
                    await conn.execute_many(sql, [[ms, vid, key, ms] for (vid, key), ms in times.items()])
        except Exception:
            # Put it back for the next batch: nothing is dropped for a passing database fault.
            buf.new_visits[:0] = new
            buf.views[:0] = views
            buf.events[:0] = events
            for key, ms in times.items():
                buf.times[key] = max(ms, buf.times.get(key, 0))
            for key, value in activity.items():
                buf.visit_activity.setdefault(key, value)
            for key, value in pages.items():
                buf.visitor_pages.setdefault(key, value)
            raise
        for state in new:  # written: the visits have their ids now
            state.id, state.row = ids.get(id(state)), None
        for key, value in deferred.items():  # visits being written by the batch before: next time
            buf.visit_activity.setdefault(key, value)
        buf.stats["flushes"] += 1
        buf.stats["page_views"] += len(views)
        buf.stats["events"] += len(events)
        buf.stats["visits"] += len(new)


# --- ingest -------------------------------------------------------------------------------------


def _touch(state: VisitState, now: datetime) -> None:
    buf = buffers()
    state.last_activity = now
    if state.row is None:  # a visit not written yet gets its last activity with its row
        buf.visit_activity[id(state)] = (state, now)


async def page_view(visitor: Visitor, settings: TrackingSettings, url: str, title: str | None,
                    referrer: str | None, view_key: str | None, at: datetime | None = None) -> PageViewed | None:
    """Record that `visitor` opened `url`. None when the site keeps no trail."""
    buf = buffers()
    if not settings.enabled or visitor.is_bot:
        return None
    now = at or utcnow()
    url = strip_params(url, settings.strip_params) or url
    referrer = strip_params(referrer, settings.strip_params)
    state = await _visit_of(visitor)
    if state is not None and state.pages and (
            (view_key and view_key == state.last_view_key) or (not view_key and url == state.last_url)):
        # The same page view again (the widget reconnected and said it once more): not a new page.
        _touch(state, now)
        _schedule()
        return PageViewed(state, False)
    new_visit = state is None or now - state.last_activity > timedelta(minutes=settings.visit_timeout_minutes)
    if new_visit:
        source = referrers.classify(referrer, url)
        number = max(visitor.visit_count or 0, state.number if state else 0) + 1
        row = Visit(
            site_id=visitor.site_id, visitor_id=visitor.id, number=number, started_at=now, last_activity_at=now,
            landing_url=url, referrer=referrer, referrer_type=source.type, referrer_domain=source.domain,
            keywords=source.keywords, utm=source.utm, country=visitor.country, device=visitor.device,
        )
        state = VisitState(None, number, now, now, 0, source, visitor_id=visitor.id, row=row)
        buf.new_visits.append(state)
        _remember(visitor.id, state)
        visitor.visit_count = number
    state.pages += 1
    _touch(state, now)
    state.last_url, state.last_view_key = url, view_key
    view = PageView(visitor_id=visitor.id, url=url, title=title, referrer=referrer, at=now, view_key=view_key)
    buf.views.append((view, state))
    if view_key:
        buf.pending_by_key[(visitor.id, view_key)] = view
    buf.visitor_pages[visitor.id] = (url, title, now, visitor.visit_count or state.number)
    visitor.current_url, visitor.current_title, visitor.last_seen = url, title, now
    _schedule()
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


async def _tell_csr(visitor: Visitor, url: str, title: str | None) -> None:
    """The CSR chatting with this visitor sees the page change in the sidebar (and, on any worker,
    the visitor's current page at once: it is written now rather than with the batch)."""
    row = live.row(visitor.id)
    if runtime.current().redis is None and (row is None or row.get("chat") != "assigned"):
        # No chat in progress: in one process the live row knows without asking the database
        # (with several workers a chat may have changed on another one).
        return
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
    pending = buf.pending_by_key.get((visitor.id, view_key))
    if pending is not None:
        pending.active_ms = max(active_ms, pending.active_ms or 0)
        return
    key = (visitor.id, view_key)
    buf.times[key] = max(active_ms, buf.times.get(key, 0))
    _schedule()


def _scalar(value: Any, what: str) -> None:
    """A value a site may attach: a string, a finite number, a boolean or null."""
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise ServiceError("bad_request", f"{what} must be strings, numbers, booleans or null.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ServiceError("bad_request", f"{what} must be finite numbers (no NaN or Infinity).")


def check_props(props: Any) -> dict[str, Any]:
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ServiceError("bad_request", "'props' must be an object.")
    if len(props) > MAX_PROPS:
        raise ServiceError("too_large", f"'props' has more than {MAX_PROPS} keys.")
    for key, value in props.items():
        if not EVENT_NAME.match(str(key)):
            raise ServiceError("bad_request", "A key of 'props' is not 1-64 letters, digits, '_', '.', ':' or '-'.")
        _scalar(value, "'props' values")
    if len(json.dumps(props)) > MAX_PROPS_JSON:
        raise ServiceError("too_large", f"'props' is larger than {MAX_PROPS_JSON} bytes.")
    return props


async def track(visitor: Visitor, settings: TrackingSettings, name: str, props: dict[str, Any],
                at: datetime | None = None) -> bool:
    """A custom event. Returns whether it was kept."""
    buf = buffers()
    if not settings.enabled or visitor.is_bot:
        return False
    state = buf.visits.get(visitor.id)
    buf.events.append((TrackEvent(site_id=visitor.site_id, visitor_id=visitor.id, name=name, props=props,
                                  url=visitor.current_url, at=at or utcnow()), state))
    _schedule()
    return True


def check_attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise ServiceError("bad_request", "'attributes' must be an object.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ServiceError("too_large", f"'attributes' has more than {MAX_ATTRIBUTES} keys.")
    for key, value in attributes.items():
        if not EVENT_NAME.match(str(key)):
            raise ServiceError("bad_request", "An attribute name is not 1-64 letters, digits, '_', '.', ':' or '-'.")
        _scalar(value, "Attribute values")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
            raise ServiceError("too_large", f"An attribute value is longer than {MAX_ATTRIBUTE_CHARS} characters.")
    return attributes


async def identify(visitor: Visitor, external_id: str | None, name: str | None, email: str | None,
                   attributes: dict[str, Any]) -> None:
    """The site says who this visitor is: its own user id (linking this browser with the person's
    other devices in the CSR's profile), name, e-mail and attributes (merged into earlier ones)."""
    updates: dict[str, Any] = {}
    if external_id is not None and external_id != visitor.external_id:
        updates["external_id"] = external_id
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
        return
    await Visitor.filter(id=visitor.id).update(**updates)
    for key, value in updates.items():
        setattr(visitor, key, value)
    if "name" in updates:
        await live.update(visitor.id, name=visitor.name)


# --- readers, retention, export and erasure -------------------------------------------------------


async def linked_visitor_ids(visitor: Visitor) -> list[str]:
    """This visitor and the site's other visitors identified as the same person."""
    if not visitor.external_id:
        return [visitor.id]
    ids = await Visitor.filter(site_id=visitor.site_id, external_id=visitor.external_id) \
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
    while True:
        try:
            totals = await purge()
            if any(totals.values()):
                log.info("retention purge: %s", totals)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed")
        await asyncio.sleep(interval_seconds)


def forget(visitor_id: str) -> None:
    """Drop what this worker holds of a visitor (after erasure)."""
    buf = buffers()
    buf.visits.pop(visitor_id, None)
    buf.new_visits[:] = [state for state in buf.new_visits if state.visitor_id != visitor_id]
    for batch in (buf.views, buf.events):
        batch[:] = [pair for pair in batch if pair[0].visitor_id != visitor_id]
    for key in [k for k, (state, _) in buf.visit_activity.items() if state.visitor_id == visitor_id]:
        del buf.visit_activity[key]
    for key in [k for k in buf.times if k[0] == visitor_id]:
        del buf.times[key]
    for key in [k for k in buf.pending_by_key if k[0] == visitor_id]:
        del buf.pending_by_key[key]
    buf.visitor_pages.pop(visitor_id, None)


def reset() -> None:
    """Forget everything (a new process, or a benchmark's fresh start)."""
    buf = buffers()
    buf.visits.clear()
    buf.new_visits.clear()
    buf.views.clear()
    buf.events.clear()
    buf.times.clear()
    buf.pending_by_key.clear()
    buf.visit_activity.clear()
    buf.visitor_pages.clear()
    for key in buf.stats:
        buf.stats[key] = 0
