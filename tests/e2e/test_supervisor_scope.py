"""A supervisor of department A, in Chromium: the live board, the wallboard and the reports show
A's queue, CSRs and chats and nothing of department B — also as chats arrive while the pages are
open (app/services/scope.py, docs/protocol.md "Scope")."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli

WAIT = 30_000  # ms: a busy two-core machine


@pytest.fixture(scope="module")
def scoped(request):
    yield from own_deployment(request, "supervisor-scope")


class Center:
    """Manual departments A (Ann; Sue supervises) and B (Bob) of the deployment's site, each with
    one chat in progress and one waiting."""

    def __init__(self, d) -> None:
        self.d = d
        self.tag = new_id()[:6]
        self.consoles: list[clients.Client] = []
        self.visitors: list[clients.Client] = []
        for name, role in (("ann", "agent"), ("bob", "agent"), ("sue", "supervisor")):
            d.create_user(self.email(name), role, self.name(name))
        self.departments = {
            label: json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", self.dept(label),
                                  "--strategy", "manual", *sum((["--member", self.email(m)] for m in members), []),
                                  "--json"))["id"]
            for label, members in (("A", ("ann", "sue")), ("B", ("bob",)))
        }

    def email(self, name: str) -> str:
        return f"{name}-{self.tag}@example.com"

    def name(self, name: str) -> str:
        return f"{name.title()} {self.tag}"

    def dept(self, label: str) -> str:
        return f"Desk {label} {self.tag}"

    async def csr(self, name: str) -> clients.Client:
        console = await clients.agent(self.d.server.url, self.email(name), self.d.password)
        self.consoles.append(console)
        assert (await console.call("set_status", {"status": "available"}))["ok"]
        return console

    async def ask(self, label: str, body: str) -> int:
        visitor = await clients.visitor(self.d.server.url, self.d.site_key, self.d.origin)
        self.visitors.append(visitor)
        ack = await visitor.call("message", {"client_id": new_id(), "body": body,
                                             "department_id": self.departments[label]})
        assert ack["ok"], ack
        return ack["conversation_id"]

    async def in_progress(self, console: clients.Client, label: str, body: str) -> int:
        cid = await self.ask(label, body)
        assert (await console.call("pick", {"conversation_id": cid}))["ok"]
        return cid

    async def close(self) -> None:
        for console in self.consoles:
            await clients.sign_off(console)
            await console.disconnect()
        for visitor in self.visitors:
            await visitor.disconnect()


@pytest.fixture
async def center(scoped):
    c = Center(scoped)
    yield c
    await c.close()


async def test_a_supervisor_of_a_sees_a_and_not_b_on_every_page(center, new_page):
    c, base = center, center.d.server.url
    ann, bob = await c.csr("ann"), await c.csr("bob")
    await c.in_progress(ann, "A", "A parcel")
    await c.in_progress(bob, "B", "B parcel")
    await c.ask("A", "A waiting")
    await c.ask("B", "B waiting")

    _, page, errors = await new_page(viewport={"width": 1600, "height": 1000})
    await sign_in(page, base, c.email("sue"), c.d.password)

    # The live board.
    await page.get_by_role("link", name="Live board").click()
    queues = page.get_by_role("table", name="Queues")
    agents = page.get_by_role("table", name="Agents")
    chats = page.get_by_role("list", name="Chats in progress")
    a_queue = queues.get_by_role("row").filter(has_text=c.dept("A"))
    await expect(a_queue.get_by_role("cell").first).to_have_text("1", timeout=WAIT)
    await expect(agents.get_by_role("row").filter(has_text=c.name("ann"))).to_have_count(1)
    await expect(chats.get_by_role("listitem").filter(has_text=f"with {c.name('ann')}")).to_have_count(1)
    # A chat arriving in each queue while the board is open: A's shows, B's never does.
    await c.ask("B", "B again")
    await c.ask("A", "A again")
    await expect(a_queue.get_by_role("cell").first).to_have_text("2", timeout=WAIT)
    for table in (queues, agents):
        await expect(table).not_to_contain_text(c.dept("B"))
        await expect(table).not_to_contain_text(c.name("bob"))
    await expect(chats.get_by_role("listitem")).to_have_count(1)
    await expect(chats).not_to_contain_text(c.name("bob"))

    # The wallboard.
    await page.get_by_role("link", name="Wallboard").click()
    wall_queues = page.get_by_role("list", name="Queues", exact=True)
    wall_agents = page.get_by_role("list", name="Agents", exact=True)
    wall_chats = page.get_by_role("list", name="Chats in progress", exact=True)
    await expect(wall_queues.get_by_role("listitem").filter(has_text=c.dept("A"))).to_contain_text(
        "2 waiting", timeout=WAIT)
    await expect(page.get_by_role("region", name="Waiting", exact=True).get_by_role("status")).to_have_text("2")
    await expect(page.get_by_role("region", name="In progress", exact=True).get_by_role("status")).to_have_text("1")
    await expect(wall_agents.get_by_role("listitem").filter(has_text=c.name("ann"))).to_have_count(1)
    await expect(wall_chats.get_by_role("listitem").filter(has_text=f"with {c.name('ann')}")).to_have_count(1)
    for panel in (wall_queues, wall_agents, wall_chats):
        await expect(panel).not_to_contain_text(c.dept("B"))
        await expect(panel).not_to_contain_text(c.name("bob"))

    # The reports: only A's department to choose, only A's queue in the tables.
    await page.get_by_role("link", name="Reports").click()
    department = page.get_by_label("Department", exact=True)
    await expect(department.get_by_role("option", name=c.dept("A"))).to_have_count(1)
    await expect(department.get_by_role("option", name=c.dept("B"))).to_have_count(0)
    report_queues = page.get_by_role("table", name="Queues")
    await expect(report_queues.get_by_role("row").filter(has_text=c.dept("A"))).to_have_count(1, timeout=WAIT)
    await expect(report_queues).not_to_contain_text(c.dept("B"))
    await expect(page.get_by_role("list", name="Agent timelines")).not_to_contain_text(c.name("bob"))
    await expect(page.get_by_role("list", name="Agent timelines")).to_contain_text(c.name("ann"))
    assert errors.errors == []
