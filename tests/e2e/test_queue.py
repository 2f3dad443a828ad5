"""Queues in the console: a CSR takes a waiting chat from a manual queue, and accepts or declines
chats offered to them before the countdown ends."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.e2e.helpers import chat_list, set_status, sign_in, transcript
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


async def csr_with_department(demo, site_key: str, *department_args: str):
    tag = new_id()[:6]
    email = f"quinn-{tag}@example.com"
    demo.create_user(email, "agent", f"Quinn {tag}")
    department = json.loads(cli(demo.env, "create-department", "--site", site_key, "--name", f"Desk {tag}",
                                "--member", email, *department_args, "--json"))
    return email, department["id"]


async def ask(base: str, site_key: str, department_id: int, body: str):
    visitor = await clients.visitor(base, site_key, origin=base)
    ack = await visitor.call("message", {"client_id": new_id(), "body": body, "department_id": department_id})
    assert ack["ok"], ack
    return visitor, ack["conversation_id"]


async def test_a_csr_takes_a_chat_from_a_manual_queue(demo, demo_site_key, new_page):
    base = demo.server.url
    email, pool = await csr_with_department(demo, demo_site_key, "--strategy", "manual")
    _, page, errors = await new_page()
    await sign_in(page, base, email, demo.password)
    await expect(page.get_by_text("No one is waiting.")).to_be_visible()
    await set_status(page, "Available")
    visitor, cid = await ask(base, demo_site_key, pool, "Can someone check my warranty?")
    try:
        waiting = page.get_by_role("list", name=re.compile("^Waiting"))
        take = waiting.get_by_role("button", name=re.compile(r"^Take chat with "))
        await expect(take).to_have_count(1)
        await expect(chat_list(page)).to_have_count(0)  # a manual queue never assigns by itself
        await take.click()
        await expect(chat_list(page)).to_have_count(1)
        await chat_list(page).first.click()
        await expect(transcript(page).get_by_text("Can someone check my warranty?")).to_be_visible()
        await expect(page.get_by_text("No one is waiting.")).to_be_visible()
        assert errors.errors == []
    finally:
        await visitor.call("close", {"conversation_id": cid})
        await visitor.disconnect()
        await set_status(page, "Offline")


async def test_a_csr_accepts_one_offer_and_declines_another(demo, demo_site_key, new_page):
    """Quinn accepts the first offer; the second they decline, and it is offered to their colleague
    (with nobody else in the queue, a declined chat is offered to the same CSR again)."""
    base = demo.server.url
    tag = new_id()[:6]
    colleague_email = f"casey-{tag}@example.com"
    demo.create_user(colleague_email, "agent", f"Casey {tag}")
    email, desk = await csr_with_department(demo, demo_site_key, "--offer-seconds", "60",
                                            "--member", colleague_email)
    _, page, errors = await new_page()
    await sign_in(page, base, email, demo.password)
    await set_status(page, "Available")
    colleague = await clients.agent(base, colleague_email, demo.password)
    first, first_id = await ask(base, demo_site_key, desk, "Do you price-match?")
    try:
        offer = page.get_by_role("group", name=re.compile(r"^Chat offer from "))
        await expect(offer).to_have_count(1)
        await expect(offer).to_contain_text(re.compile(r"\d+:\d\d left"))
        await expect(chat_list(page)).to_have_count(0)  # offered, not yet mine
        await offer.get_by_role("button", name=re.compile(r"^Accept chat from ")).click()
        await expect(offer).to_have_count(0)
        await expect(chat_list(page)).to_have_count(1)

        # Casey becomes Available now: Quinn, idle since their last chat began, has waited longer
        # (longest idle), so the second chat is offered to Quinn first.
        assert (await colleague.call("set_status", {"status": "available"}))["ok"]
        second, second_id = await ask(base, demo_site_key, desk, "And gift wrapping?")
        try:
            await expect(offer).to_have_count(1)
            await offer.get_by_role("button", name=re.compile(r"^Decline chat from ")).click()
            await expect(offer).to_have_count(0)
            offered = await colleague.rec.wait_for("conversation.offered", lambda c: c["id"] == second_id,
                                                   timeout=15)
            assert offered["id"] == second_id
            await expect(offer).to_have_count(0)
            await expect(chat_list(page)).to_have_count(1)
        finally:
            await second.call("close", {"conversation_id": second_id})
            await second.disconnect()
        assert errors.errors == []
    finally:
        await first.call("close", {"conversation_id": first_id})
        await first.disconnect()
        await clients.sign_off(colleague)
        await colleague.disconnect()
        await set_status(page, "Offline")