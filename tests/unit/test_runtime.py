"""The runtime owns a server's in-memory state and names its Redis namespace."""

from __future__ import annotations

import asyncio

import pytest

from app import runtime
from app.config import load_settings
from app.routing.store import MemoryRoutingStore, RedisRoutingStore
from app.services.routing import RoutingPasses
from app.services.tracking import TrackingBuffers
from app.tracking.live import LiveRows

UID = "0123456789abcdef0123456789abcdef"


def test_each_runtime_has_its_own_state(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    one, two = runtime.build(settings), runtime.build(settings)
    for kind in (TrackingBuffers, LiveRows, RoutingPasses):
        assert one.state(kind) is one.state(kind)  # made once, on first use
        assert one.state(kind) is not two.state(kind)
    one.state(TrackingBuffers).visitor_pages["v_1"] = ("https://shop.example.com/", None, None, 1)
    assert two.state(TrackingBuffers).visitor_pages == {}
    assert one.state(LiveRows).worker_id != two.state(LiveRows).worker_id
    assert isinstance(one.routing_store, MemoryRoutingStore) and one.routing_store is not two.routing_store


def test_redis_keys_live_in_the_deployments_namespace(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/9"})
    unbound = runtime.build(settings)
    with pytest.raises(RuntimeError, match="bind_deployment"):
        unbound.key("presence:visitors")
    with pytest.raises(RuntimeError, match="namespace"):
        unbound.routing_store.decide  # noqa: B018 - no store before the deployment is known
    bound = runtime.build(settings, UID)
    assert bound.key("presence:visitors") == f"sb:{UID}:presence:visitors"
    assert isinstance(bound.routing_store, RedisRoutingStore) and bound.routing_store.prefix == f"sb:{UID}:rt:"


async def test_the_activated_runtime_is_current_in_the_tasks_it_spawns(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    one, two, fallback = runtime.build(settings), runtime.build(settings), runtime.build(settings)
    assert runtime.installed() is None
    with pytest.raises(RuntimeError, match="no runtime"):
        runtime.current()

    async def seen_later() -> runtime.Runtime:
        await asyncio.sleep(0)
        return runtime.current()

    async def serve(rt: runtime.Runtime) -> tuple[runtime.Runtime, runtime.Runtime]:
        with runtime.activated(rt):
            spawned = asyncio.create_task(seen_later())
            timer = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, lambda: timer.set_result(runtime.current()))
            return await spawned, await timer

    # Two "servers" at once in one loop: each task and timer sees its own runtime.
    assert await asyncio.gather(serve(one), serve(two)) == [(one, one), (two, two)]
    assert runtime.installed() is None
    runtime.install(fallback)
    try:
        assert runtime.current() is fallback  # where no server's runtime is active
        with runtime.activated(one):
            assert runtime.current() is one  # a server's own wins over the process-wide one
        runtime.uninstall(two)  # not the installed one: nothing changes
        assert runtime.current() is fallback
    finally:
        runtime.uninstall(fallback)
    assert runtime.installed() is None


async def test_stopping_cancels_the_timers_and_tasks_the_states_hold(tmp_path):
    rt = runtime.build(load_settings({"DATA_DIR": str(tmp_path)}))
    loop = asyncio.get_running_loop()
    live = rt.state(LiveRows)
    live.gone_timers["v_1"] = timer = loop.call_later(60, lambda: None)
    live.flusher = flusher = loop.create_task(asyncio.sleep(60))
    passes = rt.state(RoutingPasses)
    passes.background.add(background := loop.create_task(asyncio.sleep(60)))
    assert rt.cancel_pending() == 3
    await asyncio.gather(flusher, background, return_exceptions=True)
    assert timer.cancelled() and flusher.cancelled() and background.cancelled()
