"""The trail writes its batch without the ORM (COPY on PostgreSQL, one prepared statement on
SQLite): the rows it stores are the ones the ORM stores from the same values — every column,
on both back ends — and every page view, custom event and time on page is there once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import runtime
from app.clock import utcnow
from app.config import load_settings
from app.db import close_db, init_db
from app.models import PageView, Site, TrackEvent, Visit, Visitor
from app.services import tracking
from tests.support.server import migrated_database


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    return migrated_database(request, tmp_path, "trail")


async def rows_of(conn, table: str, prefix: str) -> list[tuple]:
    """Every column but the id, visitor ids without their prefix, in id order."""
    found = await conn.execute_query_dict(f'SELECT * FROM "{table}" WHERE visitor_id LIKE \'{prefix}%\' ORDER BY id')
    return [tuple(sorted((k, v.removeprefix(prefix) if k == "visitor_id" else v) for k, v in row.items()
                         if k not in ("id", "visit_id")))
            for row in found]


async def test_the_batch_stores_the_rows_the_orm_stores(database, tmp_path):
    settings = load_settings({"DATABASE_URL": database, "DATA_DIR": str(tmp_path)})
    rt = runtime.build(settings)
    with runtime.activated(rt):
        await init_db(settings, global_fallback=False)
        tracking.reset()
        try:
            site = await Site.create(name="Rows", key="site_rows", allowed_origins=[], settings={})
            now = utcnow().replace(microsecond=123456)
            track = tracking.settings_of(site)
            people = {}
            for prefix in ("t_", "o_"):
                people[prefix] = [await Visitor.create(id=f"{prefix}{i}", site_id=site.id, first_seen=now,
                                                       last_seen=now, visit_count=0, device="desktop")
                                  for i in range(3)]
            views = [(i % 3, f"https://shop.example.com/p/{i}?q=é", None if i % 2 else f"Page «{i}»",
                      None if i % 3 else "https://www.google.com/search?q=tents", f"k{i}", now + timedelta(seconds=i))
                     for i in range(12)]
            events = [(i % 3, "signup" if i % 2 else "purchase", {"plan": "pro", "n": i, "ok": True, "x": None},
                       now + timedelta(seconds=30 + i)) for i in range(5)]
            times = [(0, "k0", 1500), (1, "k1", 2500), (2, "k2", 0)]

            # The trail's own path.
            for who, url, title, referrer, key, at in views:
                await tracking.page_view(people["t_"][who], track, url, title, referrer, key, at=at)
            await tracking.page_time(people["t_"][0], track, "k0", 1500)  # in the batch still
            await tracking.flush()
            for who, name, props, at in events:
                people["t_"][who].current_url = "https://shop.example.com/checkout"
                assert await tracking.track(people["t_"][who], track, name, props, at=at)
            for who, key, ms in times[1:]:  # written already: the batch updates the row
                await tracking.page_time(people["t_"][who], track, key, ms)
            await tracking.flush()

            # The same rows through the ORM.
            visits = {v.visitor_id: v.id for v in await Visit.filter(visitor_id__startswith="t_")}
            orm_visits = {}
            for who, person in enumerate(people["o_"]):
                orm_visits[who] = (await Visit.create(site_id=site.id, visitor_id=person.id, number=1,
                                                      started_at=now, last_activity_at=now)).id
            active = {(who, key): ms for who, key, ms in times}
            await PageView.bulk_create([
                PageView(visit_id=orm_visits[who], visitor_id=people["o_"][who].id, url=url, page=track.page(url),
                         title=title,
                         referrer=referrer, at=at, view_key=key, active_ms=active.get((who, key)))
                for who, url, title, referrer, key, at in views])
            await TrackEvent.bulk_create([
                TrackEvent(site_id=site.id, visitor_id=people["o_"][who].id, visit_id=orm_visits[who], name=name,
                           props=props, url="https://shop.example.com/checkout", at=at)
                for who, name, props, at in events])

            conn = PageView._meta.db
            for table in ("page_view", "track_event"):
                mine, orms = await rows_of(conn, table, "t_"), await rows_of(conn, table, "o_")
                assert len(mine) == len(views if table == "page_view" else events)
                assert mine == orms, table
            # Each row belongs to its visitor's visit.
            for row in await PageView.filter(visitor_id__startswith="t_").values("visitor_id", "visit_id"):
                assert row["visit_id"] == visits[row["visitor_id"]]
            for row in await TrackEvent.filter(visitor_id__startswith="t_").values("visitor_id", "visit_id"):
                assert row["visit_id"] == visits[row["visitor_id"]]
            # The visitors' and visits' last seen, as the batch left them.
            for who, person in enumerate(people["t_"]):
                last = max(at for w, _, _, _, _, at in views if w == who)
                fresh = await Visitor.get(id=person.id)
                assert (fresh.last_seen, fresh.visit_count) == (last, 1)
                assert fresh.current_url == [u for w, u, *_ in views if w == who][-1]
                assert (await Visit.get(id=visits[person.id])).last_activity_at == last
        finally:
            await close_db()
            rt.cancel_pending()


async def test_a_large_batch_updates_the_visits_and_visitors_it_has_written(database, tmp_path):
    """More rows than one statement takes (page views, visits' last activity, visitors' current
    page), for visits written by the batch before: every row stored once, every visit and visitor
    left as its last page view says."""
    settings = load_settings({"DATABASE_URL": database, "DATA_DIR": str(tmp_path)})
    rt = runtime.build(settings)
    with runtime.activated(rt):
        await init_db(settings, global_fallback=False)
        tracking.reset()
        try:
            site = await Site.create(name="Large", key="site_large", allowed_origins=[], settings={})
            track = tracking.settings_of(site)
            now = utcnow().replace(microsecond=250000)
            count = tracking._SQLITE_ROWS + 20
            people = [Visitor(id=f"l_{i:04d}", site_id=site.id, first_seen=now, last_seen=now, visit_count=0,
                              device="desktop") for i in range(count)]
            await Visitor.bulk_create(people)
            for person in people:  # the first batch: the visits' rows
                await tracking.page_view(person, track, "https://shop.example.com/", "Home", None, f"{person.id}-0",
                                         at=now)
            await tracking.flush()
            assert await Visit.filter(visitor_id__startswith="l_").count() == count
            last = {}
            for step in (1, 2):  # the second batch: two page views each, in written visits
                for i, person in enumerate(people):
                    at = now + timedelta(seconds=step * 60 + i % 7)
                    url = f"https://shop.example.com/p/{i}/{step}"
                    await tracking.page_view(person, track, url, f"Page {step}", None, f"{person.id}-{step}", at=at)
                    last[person.id] = (url, f"Page {step}", at)
            await tracking.flush()

            views = await PageView.filter(visitor_id__startswith="l_").values_list("visitor_id", "view_key")
            assert sorted(views) == sorted((p.id, f"{p.id}-{s}") for p in people for s in (0, 1, 2))
            visits = {v.visitor_id: v for v in await Visit.filter(visitor_id__startswith="l_")}
            for person in await Visitor.filter(id__startswith="l_"):
                url, title, at = last[person.id]
                assert (person.current_url, person.current_title, person.last_seen, person.visit_count) == \
                    (url, title, at, 1), person.id
                assert visits[person.id].last_activity_at == at, person.id
                assert visits[person.id].number == 1
        finally:
            await close_db()
            rt.cancel_pending()
