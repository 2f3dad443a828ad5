"""Work orders' SLA clocks through real servers: the step timers in the shared schedule
(app/services/timers.py, kind ``wo.sla``) warn an order at risk and escalate a breached one, once
each, notify the handler, the team's lead and the watchers on their consoles (`work_order.notice`),
and leave the schedule once nothing is left to fire; a restart loses none of them
(`resume_sla_timers`).

SLA targets are whole minutes. Rather than wait for one, a test makes time pass the way it passes
for a real order: it moves the order's creation (or, while the server is down, its due times) into
the past in the database, then has the server look at the order again — through the API (a change
of category sets the due times from the policy and reschedules the step timer) or by starting.

One in-process SQLite server (its schedule in memory, read through its runtime), and PostgreSQL +
Redis with two server processes (the schedule in Redis, read there). Every deployment is its test's
own: SLA policies apply deployment-wide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from app.clock import utcnow
from app.services import timers
from tests.integration.test_work_orders_api import (
    events_of,
    new_category,
    new_policy,
    new_team,
    person,
    site_id,
    staff,
    tag,
    update_order,
)
from tests.support import clients, inprocess
from tests.support.db import fetch
from tests.support.server import Deployment, deploy

WAIT = 45.0


@dataclass
class Floor:
    d: Deployment
    urls: list[str]
    due: Callable[[int], Awaitable[datetime | None]]  # when the order's SLA step timer fires (None: none)

    async def pending(self, order_id: int) -> bool:
        return await self.due(order_id) is not None


def _moment(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


@pytest.fixture(params=["sqlite, schedule in memory", "postgres+redis x2"])
def backend(request) -> tuple[str | None, str | None]:
    """(database URL, Redis URL): none for SQLite with its schedule in memory."""
    if request.param.startswith("sqlite"):
        return None, None
    return request.getfixturevalue("new_postgres_database")(), request.getfixturevalue("redis_url")


@pytest.fixture
async def floor(backend):
    database_url, redis_url = backend
    if database_url is None:
        d = await inprocess.prepare()
        try:
            async with inprocess.serve(d) as server:
                async def due(order_id: int) -> datetime | None:
                    entry = server.runtime.state(timers.MemorySchedule).get(f"wo.sla:{order_id}")
                    return _moment(entry[0]) if entry else None
                yield Floor(d, [server.url], due)
        finally:
            d.stop()
        return
    d = deploy(database_url=database_url, redis_url=redis_url, processes=2)
    client = aioredis.from_url(redis_url)
    try:
        due_key = d.redis_prefix + "timers:due"

        async def due(order_id: int) -> datetime | None:
            score = await client.zscore(due_key, f"wo.sla:{order_id}")
            return _moment(score) if score is not None else None
        yield Floor(d, [s.url for s in d.servers], due)
    finally:
        await client.aclose()
        d.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    """Wait for a condition (polled), failing with `what` when it does not come."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)  # polling a condition, not synchronising by time


async def escalation(d: Deployment, order_id: int) -> int:
    return (await fetch(d, "SELECT escalation FROM work_order WHERE id = ?", order_id))[0]["escalation"]


async def sla_events(d: Deployment, order_id: int) -> list[tuple[str, int, list[str]]]:
    return [(e["kind"], e["data"]["level"], e["data"]["breached"]) for e in await events_of(d, order_id)
            if e["kind"] in ("sla_warning", "escalated")]


# -- warned, escalated, notified -------------------------------------------------------------------

async def test_an_order_at_risk_is_warned_then_escalated_once_and_its_people_are_told(floor):
    d, t = floor.d, tag()
    hal, lee, wynn = await person(d, t, "Hal"), await person(d, t, "Lee", "supervisor"), await person(d, t, "Wynn")
    team = await new_team(d, f"Urgent desk {t}", [d.users[hal]["id"]], lead=d.users[lee]["id"])
    quick = await new_category(d, f"Outage {t}")
    await new_policy(d, quick, None, 1, 1)  # a minute to answer, a minute to resolve
    sockets = {who: await clients.agent(floor.urls[i % len(floor.urls)], who, d.password)
               for i, who in enumerate((hal, lee, wynn))}
    try:
        async with staff(d, "boss@example.com", url=floor.urls[0]) as boss:
            order = await boss.create(site_id=await site_id(d), subject=f"Site down {t}", team_id=team,
                                      handler_id=d.users[hal]["id"])
            oid = order["id"]
            assert order["due_at"] is None and not await floor.pending(oid)
            assert (await boss.post(f"/api/work-orders/{oid}/watchers", {"user_id": d.users[wynn]["id"]})).status_code \
                == 200

            # 55 seconds ago: at risk since 7 seconds (80 % of the minute), breached in 5.
            created = utcnow() - timedelta(seconds=55)
            await update_order(d, oid, created_at=created)
            changed = await boss.post(f"/api/work-orders/{oid}", {"category_id": quick})
            assert changed.status_code == 200, changed.text
            got = changed.json()["order"]
            due = created + timedelta(minutes=1)
            assert abs(datetime.fromisoformat(got["due_at"]) - due) < timedelta(milliseconds=1)
            assert got["first_response_due_at"] == got["due_at"]

            hal_socket = sockets[hal]
            warned = await hal_socket.rec.wait_for("work_order.notice",
                                                   lambda n: n["id"] == oid and n["kind"] == "sla_warning", WAIT)
            assert warned["number"] == order["number"] and f"Site down {t}" in warned["text"]
            escalated = await hal_socket.rec.wait_for("work_order.notice",
                                                      lambda n: n["id"] == oid and n["kind"] == "escalated", WAIT)
            assert "overdue" in escalated["text"]
            for who in (lee, wynn):  # the team's lead and the watcher hear of both steps
                for kind in ("sla_warning", "escalated"):
                    await sockets[who].rec.wait_for("work_order.notice",
                                                    lambda n, kind=kind: n["id"] == oid and n["kind"] == kind, WAIT)

            # Nothing is left to fire: the step timer is gone, and each step happened once.
            await until(lambda: _not(floor.pending(oid)), "the SLA timer to leave the schedule")
            assert await escalation(d, oid) == 2
            assert await sla_events(d, oid) == [("sla_warning", 1, []), ("escalated", 2, ["resolution", "first_response"])]
            told = [n["kind"] for n in hal_socket.rec.of("work_order.notice") if n["id"] == oid]
            assert told == ["dispatched", "sla_warning", "escalated"]

            shown = await boss.order(oid)
            assert (shown["escalation"], shown["overdue"]) == (2, True) and shown["seconds_left"] <= 0
            overdue = (await boss.get("/api/work-orders", overdue="1", q=t)).json()
            assert [o["id"] for o in overdue["orders"]] == [oid] and overdue["total"] == 1

            # Answered (late), resolved: no clock. Reopened: the resolution clock starts again from
            # now, unescalated.
            assert (await boss.post(f"/api/work-orders/{oid}/posts", {"kind": "reply", "body": "Fixed."})).status_code \
                == 201
            assert (await boss.post(f"/api/work-orders/{oid}/status", {"status": "resolved"})).status_code == 200
            assert not await floor.pending(oid)
            reopened = await boss.post(f"/api/work-orders/{oid}/status", {"status": "reopened"})
            assert reopened.status_code == 200, reopened.text
            got = reopened.json()["order"]
            assert got["escalation"] == 0 and datetime.fromisoformat(got["due_at"]) > utcnow()
            assert got["first_responded_at"] is not None  # the first-response target is history
            assert await floor.pending(oid)
            assert (await boss.post(f"/api/work-orders/{oid}/status", {"status": "resolved"})).status_code == 200
            assert not await floor.pending(oid)
            assert len(await sla_events(d, oid)) == 2
    finally:
        for client in sockets.values():
            await client.disconnect()


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


async def test_a_first_response_in_time_stops_the_first_response_clock(floor):
    d, t = floor.d, tag()
    hana = await person(d, t, "Hana")
    answer = await new_category(d, f"Question {t}")
    await new_policy(d, answer, None, 1, None)  # only a first-response target
    async with staff(d, "boss@example.com", url=floor.urls[0]) as boss, \
            staff(d, hana, url=floor.urls[-1]) as hana_web:
        order = await boss.create(site_id=await site_id(d), subject=f"Question {t}", handler_id=d.users[hana]["id"],
                                  customer_email=f"q-{t}@example.org", category_id=answer)
        oid = order["id"]
        assert order["due_at"] is None and order["first_response_due_at"] is not None
        assert await floor.pending(oid)
        replied = await hana_web.post(f"/api/work-orders/{oid}/posts", {"kind": "reply", "body": "Here is the answer."})
        assert replied.status_code == 201, replied.text
        # The reply rescheduled the order: nothing is left to watch.
        await until(lambda: _not(floor.pending(oid)), "the SLA timer to leave the schedule")
        # Even once the target has passed, the order never escalates.
        await update_order(d, oid, first_response_due_at=utcnow() - timedelta(minutes=1))
        changed = await boss.post(f"/api/work-orders/{oid}", {"priority": "high"})  # has the server look again
        assert changed.status_code == 200
        assert not await floor.pending(oid)
        assert await escalation(d, oid) == 0 and await sla_events(d, oid) == []


async def test_a_reopened_orders_clock_runs_from_its_reopening(floor):
    d, t = floor.d, tag()
    day = await new_category(d, f"Day {t}")
    await new_policy(d, day, None, None, 60)  # resolved within the hour
    async with staff(d, "boss@example.com", url=floor.urls[-1]) as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Old {t}", category_id=day,
                                  handler_id=d.users["boss@example.com"]["id"])
        oid, path = order["id"], f"/api/work-orders/{order['id']}"
        assert (await boss.post(f"{path}/status", {"status": "resolved"})).status_code == 200
        await update_order(d, oid, created_at=utcnow() - timedelta(days=10))  # an old order comes back
        reopened = (await boss.post(f"{path}/status", {"status": "reopened"})).json()["order"]
        due = datetime.fromisoformat(reopened["due_at"])
        assert timedelta(minutes=59) < due - utcnow() <= timedelta(minutes=60)
        warn = due - timedelta(minutes=12)  # 80 % of the hour from the reopening
        assert abs(await floor.due(oid) - warn) < timedelta(seconds=5)
        # Working on it, answering the customer: the warning stays where it was, not ten days back.
        assert (await boss.post(f"{path}/status", {"status": "in_progress"})).status_code == 200
        assert abs(await floor.due(oid) - warn) < timedelta(seconds=5)
        assert (await boss.post(f"{path}/posts", {"kind": "reply", "body": "Looking again."})).status_code == 201
        assert abs(await floor.due(oid) - warn) < timedelta(seconds=5)
        assert await escalation(d, oid) == 0 and await sla_events(d, oid) == []


async def test_a_first_response_missed_before_a_reopening_is_not_escalated_again(floor):
    d, t = floor.d, tag()
    slow = await new_category(d, f"Slow {t}")
    await new_policy(d, slow, None, 60, 600)
    async with staff(d, "boss@example.com", url=floor.urls[-1]) as boss:
        order = await boss.create(site_id=await site_id(d), subject=f"Unanswered {t}", category_id=slow,
                                  handler_id=d.users["boss@example.com"]["id"])
        oid, path = order["id"], f"/api/work-orders/{order['id']}"
        # Nobody answered within the hour: the first response is breached and escalated, once.
        await update_order(d, oid, created_at=utcnow() - timedelta(hours=2))
        assert (await boss.post(path, {"priority": "high"})).status_code == 200  # has the server look again
        await until(lambda: _escalated(d, oid), "the missed first response to escalate")
        assert await sla_events(d, oid) == [("escalated", 2, ["first_response"])]
        # Settled without a reply, then the customer comes back: the order runs on its new
        # resolution target only; the old miss is not escalated a second time.
        assert (await boss.post(f"{path}/status", {"status": "resolved"})).status_code == 200
        reopened = (await boss.post(f"{path}/status", {"status": "reopened"})).json()["order"]
        assert reopened["escalation"] == 0
        due = datetime.fromisoformat(reopened["due_at"])
        assert timedelta(minutes=599) < due - utcnow() <= timedelta(minutes=600)
        warn = due - timedelta(minutes=120)  # 80 % of the ten hours from the reopening
        assert abs(await floor.due(oid) - warn) < timedelta(seconds=5)
        assert (await boss.post(path, {"priority": "urgent"})).status_code == 200
        assert abs(await floor.due(oid) - warn) < timedelta(seconds=5)
        assert await escalation(d, oid) == 0
        assert await sla_events(d, oid) == [("escalated", 2, ["first_response"])]


async def _escalated(d: Deployment, order_id: int) -> bool:
    return await escalation(d, order_id) == 2


# -- a restart -------------------------------------------------------------------------------------

async def test_a_restart_loses_no_sla_step():
    """One process without Redis keeps its schedule in memory: stopping it drops the timers, and the
    next start puts every open order's next step back from the orders themselves."""
    d, t = await inprocess.prepare(), tag()
    try:
        hal = await person(d, t, "Hal")
        both = await new_category(d, f"Both {t}")
        await new_policy(d, both, None, 60, 60)
        first_only = await new_category(d, f"First only {t}")
        await new_policy(d, first_only, None, 60, None)
        resolution_only = await new_category(d, f"Resolution only {t}")
        await new_policy(d, resolution_only, None, None, 60)
        untimed = await new_category(d, f"Untimed {t}")

        async with inprocess.serve(d) as server:
            schedule = server.runtime.state(timers.MemorySchedule)
            async with staff(d, "boss@example.com", url=server.url) as boss:
                site = await site_id(d)
                orders = {name: await boss.create(site_id=site, subject=f"{name} {t}", category_id=category,
                                                  handler_id=d.users[hal]["id"])
                          for name, category in (("overdue", both), ("unanswered", first_only),
                                                 ("at risk", resolution_only), ("calm", resolution_only),
                                                 ("untimed", untimed))}
            ids = {name: o["id"] for name, o in orders.items()}
            assert {f"wo.sla:{ids[n]}" for n in ("overdue", "unanswered", "at risk", "calm")} <= set(schedule)
            assert f"wo.sla:{ids['untimed']}" not in schedule
        # The server is gone, and its schedule with it. An hour passes.
        now = utcnow()
        await update_order(d, ids["overdue"], due_at=now - timedelta(seconds=1),
                           first_response_due_at=now - timedelta(seconds=1))
        await update_order(d, ids["unanswered"], first_response_due_at=now - timedelta(seconds=1))
        # Created 50 minutes ago, due in 10: 80 % of its hour has passed.
        await update_order(d, ids["at risk"], created_at=now - timedelta(minutes=50), due_at=now + timedelta(minutes=10))

        async with inprocess.serve(d) as server:
            schedule = server.runtime.state(timers.MemorySchedule)

            async def settled() -> bool:
                return [await escalation(d, ids[n]) for n in ("overdue", "unanswered", "at risk")] == [2, 2, 1]
            await until(settled, "the orders to escalate after the restart")
            assert await sla_events(d, ids["overdue"]) == [("escalated", 2, ["resolution", "first_response"])]
            assert await sla_events(d, ids["unanswered"]) == [("escalated", 2, ["first_response"])]
            assert await sla_events(d, ids["at risk"]) == [("sla_warning", 1, [])]
            # What is left to fire is scheduled again: the breach of the order at risk, the calm
            # order's warning; nothing for the breached ones.
            await until(lambda: _absent(schedule, ids["overdue"], ids["unanswered"]), "breached orders' timers to go")
            assert f"wo.sla:{ids['at risk']}" in schedule and f"wo.sla:{ids['calm']}" in schedule
            assert f"wo.sla:{ids['untimed']}" not in schedule
            assert await escalation(d, ids["calm"]) == 0
    finally:
        d.stop()


async def _absent(schedule: dict, *order_ids: int) -> bool:
    return all(f"wo.sla:{i}" not in schedule for i in order_ids)

