"""The Visitors view's batches (app/tracking/live.py): a change made while a batch is being
published is in the next batch, not held back until some later change."""

from __future__ import annotations

import asyncio

from app import runtime
from app.config import load_settings
from app.tracking import live


async def test_a_change_during_a_flush_is_published_in_the_next_batch(tmp_path, monkeypatch):
    rt = runtime.build(load_settings({"DATA_DIR": str(tmp_path)}))
    monkeypatch.setattr(live, "FLUSH_SECONDS", 0.01)
    published: list[list[str]] = []
    publishing, go_on = asyncio.Event(), asyncio.Event()

    async def publish(upsert, removed):  # a slow publish (Redis, the bus under load)
        published.append(sorted(row["id"] for row in upsert))
        if len(published) == 1:
            publishing.set()
            await go_on.wait()

    monkeypatch.setattr(live, "_publish", publish)
    with runtime.activated(rt):
        rows = rt.state(live.LiveRows).rows
        rows["v_one"], rows["v_two"] = {"id": "v_one", "site_id": 1}, {"id": "v_two", "site_id": 1}
        live._changed("v_one")
        await asyncio.wait_for(publishing.wait(), 10)
        live._changed("v_two")  # while the first batch is on its way
        go_on.set()
        flusher = rt.state(live.LiveRows).flusher
        await asyncio.wait_for(flusher, 10)
    assert published == [["v_one"], ["v_two"]]
    rt.cancel_pending()
