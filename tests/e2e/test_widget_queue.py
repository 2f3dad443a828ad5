"""The widget before and while waiting: the visitor picks a topic (a department), then sees their
place in the queue until a CSR of that department takes the chat."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.e2e.helpers import launcher, visitor_send, widget
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


async def test_the_visitor_picks_a_topic_and_sees_their_place_in_line(demo, demo_site_key, new_page):
    base = demo.server.url
    tag = new_id()[:6]
    email = f"rhea-{tag}@example.com"
    demo.create_user(email, "agent", f"Rhea {tag}")
    topic = f"Returns {tag}"
    department = json.loads(cli(demo.env, "create-department", "--site", demo_site_key, "--name", topic,
                                "--member", email, "--json"))["id"]
    _, visitor, errors = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    panel = widget(visitor)
    await panel.get_by_label("Topic").select_option(label=topic)
    await visitor_send(visitor, "The zip on my jacket broke")
    # Nobody of that department is Available: the visitor is told where they stand.
    await expect(panel.get_by_text(re.compile(r"^You're next in line"))).to_be_visible()

    agent = await clients.agent(base, email, demo.password)
    try:
        assert (await agent.call("set_status", {"status": "available"}))["ok"]
        assigned = await agent.rec.wait_for("conversation.assigned")
        assert assigned["department"] == department
        await expect(panel.get_by_text(f"You're chatting with Rhea {tag}")).to_be_visible()
        assert errors.errors == []
        await agent.call("close", {"conversation_id": assigned["id"]})
    finally:
        await clients.sign_off(agent)
        await agent.disconnect()
