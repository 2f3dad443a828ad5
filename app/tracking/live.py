"""Who is on the sites right now: one row per online visitor, pushed to CSRs as it changes.

Each worker keeps the rows of the visitors whose sockets it holds and publishes changes, in
batches, to the consoles that watch the Visitors view (room ``visitors`` for every site's visitors,
``visitors:<site id>`` for one site's — a CSR watches only the sites they serve): a ``visitors.delta``
event ``{upsert: [row…], remove: [id…]}`` at most every `FLUSH_SECONDS`, carrying only the rows
that changed since the previous batch (a visitor who changed page twice in a second is sent
once). A console asks for the whole list once (`snapshot`) and then applies deltas.

With Redis the rows also live in a Redis hash, so that a snapshot taken on any worker sees every
worker's visitors; each worker's rows carry its id and a heartbeat key with a TTL, so the rows of
a worker that died disappear from snapshots (and are purged) once its heartbeat lapses.

A row (all strings are visitor-controlled text: the console renders them as text only):
``{id, site_id, name, url, title, page_since, pages, visit, returning, referrer, referrer_type,
referrer_domain, keywords, country, device, browser, os, chat, invitation, online_since}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from app import runtime
from app.clock import iso, utcnow
from app import bus

log = logging.getLogger(__name__)

ROOM = "visitors"  # consoles that see every site's visitors; `visitors:<site id>` those of one site
FLUSH_SECONDS = 1.0
HEARTBEAT_SECONDS = 10.0
_ROWS = "live:rows"  # Redis keys, in the deployment's namespace (`Runtime.key`)
_WORKER = "live:worker:"


@dataclass
class LiveRows:
    """This worker's online visitors and the changes not yet published (on the server's runtime)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # this worker's online visitors
    dirty: set[str] = field(default_factory=set)
    removed: dict[str, int | None] = field(default_factory=dict)  # visitor id → their site
    gone_timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    flusher: asyncio.Task | None = None
    worker_id: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(3)}")
    # Bytes and batches pushed by this worker (the live-list benchmark reads them).
    stats: dict[str, int] = field(default_factory=lambda: {"batches": 0, "rows": 0, "bytes": 0})


def state() -> LiveRows:
    return runtime.current().state(LiveRows)


def _redis():
    return runtime.current().redis


def _key(name: str) -> str:
    return runtime.current().key(name)


async def online(visitor, *, chat: str | None = None) -> None:
    """A socket of this visitor connected here (the row appears once its first page view arrives,
    or now with what we know of the visitor)."""
    live = state()
    timer = live.gone_timers.pop(visitor.id, None)
    if timer is not None:
        timer.cancel()
    if visitor.is_bot:
        return
    row = live.rows.get(visitor.id)
    if row is None:
        row = live.rows[visitor.id] = {
            "id": visitor.id, "site_id": visitor.site_id, "online_since": iso(utcnow()),
            "url": visitor.current_url, "title": visitor.current_title, "page_since": iso(utcnow()),
            "pages": 0, "visit": max(1, visitor.visit_count or 1), "returning": (visitor.visit_count or 1) > 1,
            "referrer": None, "referrer_type": None, "referrer_domain": None, "keywords": None,
            "invitation": None,
        }
    row.update(name=visitor.name, country=visitor.country, device=visitor.device, browser=visitor.browser,
               os=visitor.os, chat=chat or row.get("chat") or "none")
    _changed(visitor.id)


async def page_viewed(visitor, url: str, title: str | None, referrer: str | None, visit, new_visit: bool) -> None:
    """The visitor opened `url`, page `visit.pages` of their visit number `visit.number` (the trail
    decides visits: app/services/tracking.py)."""
    rows = state().rows
    row = rows.get(visitor.id)
    if row is None:
        await online(visitor)
        row = rows.get(visitor.id)
        if row is None:
            return
    now = utcnow()
    if new_visit or row.get("visit_since") is None:
        source = visit.source
        row.update(visit_since=iso(visit.started_at), referrer=referrer if new_visit else row.get("referrer"),
                   referrer_type=source.type, referrer_domain=source.domain, keywords=source.keywords)
    row.update(url=url, title=title, page_since=iso(now), pages=visit.pages, visit=visit.number,
               returning=visit.number > 1)
    _changed(visitor.id)


async def update(visitor_id: str, **fields: Any) -> None:
    """Change fields of an online visitor's row (chat state, invitation state, name …)."""
    row = state().rows.get(visitor_id)
    if row is None:
        if _redis() is not None:
            # The visitor's socket is on another worker: update the shared row; that worker's own
            # copy catches up on its next change of the row, and the delta goes out from here.
            raw = await _redis().hget(_key(_ROWS), visitor_id)
            if raw is None:
                return
            shared = json.loads(raw)
            shared.update(fields)
            await _redis().hset(_key(_ROWS), visitor_id, json.dumps(shared))
            await _publish([shared], {})
        return
    row.update(fields)
    _changed(visitor_id)


def row(visitor_id: str, rt: runtime.Runtime | None = None) -> dict[str, Any] | None:
    """This worker's row of an online visitor (the worker holding their socket has it); `rt`: the
    current runtime, when the caller has it at hand."""
    return (rt or runtime.current()).state(LiveRows).rows.get(visitor_id)


def offline(visitor_id: str) -> None:
    """The visitor's last socket here went away: the row goes after a short grace (moving to
    another page reconnects within it)."""
    live = state()
    if visitor_id not in live.rows or visitor_id in live.gone_timers:
        return
    loop = asyncio.get_running_loop()
    live.gone_timers[visitor_id] = loop.call_later(runtime.current().settings.live_visitor_gone_seconds,
                                                   _gone, live, visitor_id)


def _gone(live: LiveRows, visitor_id: str) -> None:
    live.gone_timers.pop(visitor_id, None)
    gone = live.rows.pop(visitor_id, None)
    if gone is not None:
        live.dirty.discard(visitor_id)
        live.removed[visitor_id] = gone.get("site_id")
        _ensure_flusher(live)


async def lapsed(visitor_ids: list[str]) -> None:
    """With Redis: these visitors' sockets were on a worker whose presence lease lapsed (it died):
    their rows go from the shared list and from every console at once (app/presence.py)."""
    redis = _redis()
    if redis is None or not visitor_ids:
        return
    rows = await redis.hmget(_key(_ROWS), visitor_ids)
    removed = {vid: json.loads(raw).get("site_id") for vid, raw in zip(visitor_ids, rows) if raw is not None}
    if removed:
        await redis.hdel(_key(_ROWS), *removed)
        await _publish([], removed)


def forget(visitor_id: str) -> None:
    """The visitor was erased: their row goes at once."""
    live = state()
    timer = live.gone_timers.pop(visitor_id, None)
    if timer is not None:
        timer.cancel()
    _gone(live, visitor_id)


def _changed(visitor_id: str) -> None:
    live = state()
    live.dirty.add(visitor_id)
    live.removed.pop(visitor_id, None)
    _ensure_flusher(live)


def _ensure_flusher(live: LiveRows) -> None:
    if live.flusher is None or live.flusher.done():
        try:
            live.flusher = asyncio.get_running_loop().create_task(_flush_soon())
        except RuntimeError:  # no loop (tests of pure parts)
            pass


async def _flush_soon() -> None:
    """Publish a batch every `FLUSH_SECONDS` while there are changes. A change made while a batch
    is being published (the flush awaits Redis and the bus) is in the next batch: this task is
    still running then, so nobody starts another one for it."""
    live = state()
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await flush()
        except Exception:  # the next change retries
            log.exception("publishing live visitors failed")
        if not live.dirty and not live.removed:
            return


async def flush() -> None:
    """Publish the rows that changed since the last batch (and the ones that went)."""
    live = state()
    if not live.dirty and not live.removed:
        return
    upsert = [dict(live.rows[i], worker=live.worker_id) for i in live.dirty if i in live.rows]
    removed = dict(sorted(live.removed.items()))
    live.dirty.clear()
    live.removed.clear()
    redis = _redis()
    if redis is not None:
        async with redis.pipeline(transaction=False) as pipe:
            if upsert:
                pipe.hset(_key(_ROWS), mapping={row["id"]: json.dumps(row) for row in upsert})
            if removed:
                pipe.hdel(_key(_ROWS), *removed)
            pipe.set(_key(_WORKER + live.worker_id), "1", ex=int(HEARTBEAT_SECONDS * 3))
            await pipe.execute()
    await _publish(upsert, removed)


def site_room(site_id: int) -> str:
    return f"{ROOM}:{site_id}"


def rooms_for(site_ids: frozenset[int] | None) -> list[str]:
    """The rooms a console watching these sites' visitors joins (None: every site)."""
    return [ROOM] if site_ids is None else [site_room(i) for i in sorted(site_ids)]


def is_room(room: str) -> bool:
    return room == ROOM or room.startswith(ROOM + ":")


async def _publish(upsert: list[dict], removed: dict[str, int | None]) -> None:
    """Each change to the consoles of every site, and to those of the visitor's site only: a
    CSR never learns of another site's visitors (app/services/scope.py)."""
    payload = {"upsert": [_public(r) for r in upsert], "remove": list(removed)}
    stats = state().stats
    stats["batches"] += 1
    stats["rows"] += len(upsert) + len(removed)
    stats["bytes"] += len(json.dumps(payload, separators=(",", ":")))
    await bus.to_room(ROOM, "visitors.delta", payload)
    per_site: dict[int, dict[str, list]] = {}
    for row in payload["upsert"]:
        per_site.setdefault(row.get("site_id"), {"upsert": [], "remove": []})["upsert"].append(row)
    for visitor_id, site_id in removed.items():
        per_site.setdefault(site_id, {"upsert": [], "remove": []})["remove"].append(visitor_id)
    for site_id, delta in per_site.items():
        if site_id is not None:
            await bus.to_room(site_room(site_id), "visitors.delta", delta)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "worker"}


async def snapshot(site_ids: frozenset[int] | None = None) -> list[dict]:
    """Every online visitor (of the given sites), for a console that starts watching."""
    redis = _redis()
    live = state()
    if redis is None:
        rows = list(live.rows.values())
    else:
        await flush()
        raw = await redis.hgetall(_key(_ROWS))
        rows = [json.loads(v) for v in raw.values()]
        workers = {r.get("worker") for r in rows}
        alive = {}
        for worker in workers:
            alive[worker] = worker == live.worker_id or bool(await redis.exists(_key(_WORKER + str(worker))))
        dead = [r["id"] for r in rows if not alive.get(r.get("worker"))]
        if dead:
            await redis.hdel(_key(_ROWS), *dead)
        rows = [r for r in rows if alive.get(r.get("worker"))]
    if site_ids is not None:
        rows = [r for r in rows if r.get("site_id") in site_ids]
    return [_public(r) for r in rows]


async def heartbeat_forever() -> None:
    """With Redis: keep this worker's rows alive in snapshots."""
    while True:
        try:
            redis = _redis()
            if redis is not None:
                await redis.set(_key(_WORKER + state().worker_id), "1", ex=int(HEARTBEAT_SECONDS * 3))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live visitors heartbeat failed")
        await asyncio.sleep(HEARTBEAT_SECONDS)


def reset() -> None:
    """Forget everything (a new process, or a benchmark's fresh start)."""
    live = state()
    live.rows.clear()
    live.dirty.clear()
    live.removed.clear()
    for timer in live.gone_timers.values():
        timer.cancel()
    live.gone_timers.clear()
    for key in live.stats:
        live.stats[key] = 0
