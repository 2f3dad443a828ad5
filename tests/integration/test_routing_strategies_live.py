"""The routing strategies and VIP priority through running servers and real clients — on SQLite and
on PostgreSQL + Redis x2. Each scenario is built so that the strategy under test picks a different
CSR from the other strategies at least once (so a wrong strategy fails the test)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, deploy


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def deployment(request, new_postgres_database, redis_url):
    """Deployments of this module's own: a chat another test left waiting would be routed to these
    CSRs too and skew their turns."""
    if request.param == "sqlite":
        d = deploy(database_url=None, redis_url=None, processes=1)
    else:
        d = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield d
    d.stop()


async def staff(deployment, strategy: str, *names: str, capacity: int, levels: dict[str, int] | None = None):
    """CSRs (signed in, not yet Available) and a department of theirs with the strategy."""
    tag = new_id()[:6]
    agents, members = {}, []
    for i, name in enumerate(names):
        email = f"{name.lower()}-{tag}@example.com"
        deployment.create_user(email, "agent", f"{name} {tag}", max_chats=capacity)
        level = (levels or {}).get(name)
        members += ["--member", f"{email}:{level}" if level else email]
        agents[name] = await clients.agent(deployment.servers[i % len(deployment.servers)].url, email,
                                           deployment.password)
    department = json.loads(cli(deployment.env, "create-department", "--site", deployment.site_key, "--name",
                                f"{strategy} {tag}", "--strategy", strategy, *members, "--json"))["id"]
    return department, agents


class Floor:
    def __init__(self, deployment, department: int, agents: dict[str, clients.Client]) -> None:
        self.d, self.department, self.agents = deployment, department, agents
        self.visitors: list[clients.Client] = []
        self.chats: list[int] = []

    async def available(self, name: str) -> None:
        assert (await self.agents[name].call("set_status", {"status": "available"}))["ok"]

    async def ask(self, body: str, identify: dict | None = None) -> int:
        visitor = await clients.visitor(self.d.servers[len(self.visitors) % len(self.d.servers)].url,
                                        self.d.site_key, self.d.origin)
        self.visitors.append(visitor)
        if identify is not None:
            assert (await visitor.call("identify", identify))["ok"]
        ack = await visitor.call("message", {"client_id": new_id(), "body": body, "department_id": self.department})
        assert ack["ok"], ack
        self.chats.append(ack["conversation_id"])
        return ack["conversation_id"]

    async def who_gets(self, cid: int) -> str:
        """The CSR the chat is routed to (whoever it is: waits on every console at once)."""
        tasks = {asyncio.create_task(agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)): name
                 for name, agent in self.agents.items()}
        done, pending = await asyncio.wait(tasks, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        assert done, f"chat {cid} was routed to nobody"
        return tasks[done.pop()]

    async def route(self, body: str) -> str:
        return await self.who_gets(await self.ask(body))

    async def close(self, name: str, cid: int) -> None:
        assert (await self.agents[name].call("close", {"conversation_id": cid}))["ok"]

    def only_ours(self) -> None:
        """Nothing but this test's chats reached these CSRs (a stray chat would skew their turns)."""
        for agent in self.agents.values():
            assert {c["id"] for c in agent.rec.of("conversation.assigned")} <= set(self.chats)

    async def finish(self) -> None:
        for visitor, cid in zip(self.visitors, self.chats):
            await visitor.call("close", {"conversation_id": cid})
            await visitor.disconnect()
        for agent in self.agents.values():
            await agent.call("set_status", {"status": "offline"})
            await agent.disconnect()


async def test_round_robin_takes_turns_whatever_the_load(deployment):
    floor = Floor(deployment, *await staff(deployment, "round_robin", "Ria", "Rob", "Rue", capacity=3))
    try:
        await floor.available("Ria")
        assert await floor.route("1") == "Ria"
        await floor.available("Rob")
        assert await floor.route("2") == "Rob"  # never had a chat: his turn (Ria has been idle longer)
        await floor.available("Rue")
        assert await floor.route("3") == "Rue"
        await floor.close("Rob", floor.chats[1])  # Rob is free now: least busy would pick him
        # In turn: whoever received a chat least recently, load or not.
        assert [await floor.route("4"), await floor.route("5"), await floor.route("6")] == ["Ria", "Rob", "Rue"]
        floor.only_ours()
    finally:
        await floor.finish()


async def test_least_busy_goes_to_the_fewest_chats(deployment):
    floor = Floor(deployment, *await staff(deployment, "least_busy", "Lea", "Leo", "Lux", capacity=3))
    try:
        await floor.available("Lea")
        assert [await floor.route("1"), await floor.route("2")] == ["Lea", "Lea"]
        await floor.available("Leo")
        assert await floor.route("3") == "Leo"
        await floor.available("Lux")
        assert await floor.route("4") == "Lux"
        # Loads Lea 2, Leo 1, Lux 1: Leo (idle longer than Lux), though Lea is the longest idle of all.
        assert await floor.route("5") == "Leo"
        assert await floor.route("6") == "Lux"
        # Leo frees one: he has the fewest again.
        await floor.close("Leo", floor.chats[2])
        assert await floor.route("7") == "Leo"
        floor.only_ours()
    finally:
        await floor.finish()


async def test_skills_the_highest_level_with_room_wins(deployment):
    department, agents = await staff(deployment, "skills", "Sid", "Sia", "Sam", capacity=2,
                                     levels={"Sid": 3, "Sia": 8, "Sam": 5})
    floor = Floor(deployment, department, agents)
    try:
        # The best skilled becomes Available last (longest idle would pick Sid first).
        for name in ("Sid", "Sam", "Sia"):
            await floor.available(name)
        routed = [await floor.route(str(i)) for i in range(5)]
        assert routed == ["Sia", "Sia", "Sam", "Sam", "Sid"]  # by level, each up to their capacity
        await floor.close("Sia", floor.chats[0])
        assert await floor.route("5") == "Sia"  # room again at the top level
        floor.only_ours()
    finally:
        await floor.finish()


async def test_a_vip_is_served_before_an_older_normal_chat(deployment):
    department, agents = await staff(deployment, "longest_idle", "Vic", capacity=1)
    floor = Floor(deployment, department, agents)
    try:
        normal = await floor.ask("I have a question")
        vip = await floor.ask("I am a gold member",
                              identify={"id": f"cust-{new_id()[:6]}", "attributes": {"vip": True}})
        # The VIP is first in the queue though they came later …
        await floor.visitors[1].rec.wait_for("queue", lambda q: q.get("conversation_id") == vip and q["position"] == 1)
        await floor.visitors[0].rec.wait_for("queue", lambda q: q.get("conversation_id") == normal
                                             and q["position"] == 2)
        # … and the CSR who becomes free gets them first.
        await floor.available("Vic")
        first = await agents["Vic"].rec.wait_for("conversation.assigned")
        assert first["id"] == vip
        await floor.close("Vic", vip)
        assert await floor.who_gets(normal) == "Vic"
        floor.only_ours()
    finally:
        await floor.finish()
