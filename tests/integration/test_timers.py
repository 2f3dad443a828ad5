"""The shared schedule (app/services/timers.py): with Redis, two workers poll it and each timer
fires exactly once, whichever worker takes it; a cancel from the other worker wins; one process
without Redis runs the same code in memory. Real in-process servers (their own runtimes, a real
Redis), a deployment of this module's own; each test names its own timers (and waits for them all)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app import runtime as runtime_mod
from app.services import timers
from tests.support import inprocess

KIND = "test.count"


@pytest.fixture(params=["memory", "redis x2"], scope="module")
async def workers(request, redis_url):
    """In-process servers sharing one deployment: one without Redis, or two with it."""
    extra = {"REDIS_URL": redis_url} if request.param != "memory" else {}
    deployment = await inprocess.prepare(extra_env=extra)
    try:
        async with contextlib.AsyncExitStack() as stack:
            count = 2 if extra else 1
            yield [await stack.enter_async_context(inprocess.serve(deployment)) for _ in range(count)]
    finally:
        deployment.stop()


def count_firings(servers) -> list[tuple[int, str]]:
    """Each server fires `KIND` by noting (which server, subject)."""
    fired: list[tuple[int, str]] = []
    for index, server in enumerate(servers):
        async def note(subject: str, payload: dict, index=index) -> None:
            assert payload == {"n": subject}
            fired.append((index, subject))
        server.runtime.state(timers.TimerHandlers)[KIND] = note
    return fired


async def until(condition, what: str, timeout: float = 20.0) -> None:
    async def poll():
        while not condition():
            await asyncio.sleep(0.05)  # polling a condition, not synchronising by time
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def schedule(server, subject: str, delay: float, **kwargs) -> bool:
    with runtime_mod.activated(server.runtime):
        return await timers.schedule(KIND, subject, delay, {"n": subject}, **kwargs)


async def test_each_timer_fires_exactly_once_whichever_worker_polls(workers):
    fired = count_firings(workers)
    subjects = [f"t{i}" for i in range(60)]
    for i, subject in enumerate(subjects):  # scheduled from both workers, due over half a second
        await schedule(workers[i % len(workers)], subject, 0.2 + (i % 10) * 0.05)
    # Scheduling the same name again keeps the first timer (a second departure does not move it).
    assert not await schedule(workers[-1], subjects[0], 30)
    # A marker due after all of them: once it fired, every earlier one was claimed.
    await schedule(workers[0], "marker", 1.5)
    await until(lambda: any(s == "marker" for _, s in fired), "the marker timer")
    assert sorted(s for _, s in fired) == sorted(subjects + ["marker"])  # each once, none lost


async def test_a_cancel_from_another_worker_wins(workers):
    fired = count_firings(workers)
    first, other = workers[0], workers[-1]
    await schedule(first, "cancelled", 1.0)
    await schedule(first, "marker", 2.0)
    with runtime_mod.activated(other.runtime):
        assert await timers.cancel(KIND, "cancelled")
        assert not await timers.cancel(KIND, "cancelled")  # nothing left to cancel
    await until(lambda: any(s == "marker" for _, s in fired), "the marker timer")
    assert [s for _, s in fired] == ["marker"]


async def test_replacing_a_timer_moves_it(workers):
    fired = count_firings(workers)
    await schedule(workers[0], "moved", 0.3)
    assert await schedule(workers[-1], "moved", 2.5, replace=True)  # a visitor left again: from now
    await schedule(workers[0], "marker", 1.5)
    await until(lambda: any(s == "marker" for _, s in fired), "the marker timer")
    assert [s for _, s in fired] == ["marker"]  # not at its first due time
    await until(lambda: any(s == "moved" for _, s in fired), "the moved timer")
    assert [s for _, s in fired] == ["marker", "moved"]


async def test_a_failing_handler_does_not_hold_up_the_others(workers):
    fired = count_firings(workers)
    for server in workers:
        async def broken(subject: str, payload: dict) -> None:
            raise RuntimeError("this handler is broken")
        server.runtime.state(timers.TimerHandlers)["test.broken"] = broken
    with runtime_mod.activated(workers[0].runtime):
        await timers.schedule("test.broken", "x", 0.1)
        await timers.schedule("test.unknown", "y", 0.1)  # nobody handles it: dropped, logged
    await schedule(workers[0], "after", 0.5)
    await until(lambda: any(s == "after" for _, s in fired), "the timer after the broken one")
    with runtime_mod.activated(workers[-1].runtime):  # the broken and unknown ones are gone
        assert not await timers.cancel("test.broken", "x")
        assert not await timers.cancel("test.unknown", "y")
