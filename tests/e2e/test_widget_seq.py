"""The widget across staff-only notes: whispers take no number of the visitor's (docs/protocol.md,
"Sequence numbers"), so its resume point moves on with every message and no note sets off a
re-sync; read receipts show on the right message."""

from __future__ import annotations

import json

from playwright.async_api import expect

from tests.e2e.helpers import launcher, visitor_send, widget_log
from tests.support import clients
from tests.support.clients import new_id


async def test_whispers_leave_no_hole_in_the_widgets_numbers(demo, new_page, demo_site_key):
    base = demo.server.url
    tag = new_id()[:6]
    demo.create_user(f"cy-{tag}@example.com", "agent", f"Cy {tag}")
    demo.create_user(f"sy-{tag}@example.com", "supervisor", f"Sy {tag}")
    csr = await clients.agent(base, f"cy-{tag}@example.com", demo.password)
    boss = await clients.agent(base, f"sy-{tag}@example.com", demo.password)
    cid = None
    try:
        await csr.call("set_status", {"status": "available"})
        _, page, errors = await new_page()
        sent: list[str] = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
        await page.goto(base + "/demo/")
        await launcher(page).click()
        await visitor_send(page, "Hello from the widget")
        assigned = await csr.rec.wait_for(
            "conversation.assigned",
            lambda c: (c.get("last_message") or {}).get("body") == "Hello from the widget")
        cid = assigned["id"]
        await expect(widget_log(page).get_by_text(f"Cy {tag} joined the chat.")).to_be_visible()
        assert (await boss.call("monitor", {"conversation_id": cid}))["ok"]

        async def whisper(body: str) -> None:
            assert (await boss.call("whisper", {"conversation_id": cid, "client_id": new_id(), "body": body}))["ok"]
            await csr.rec.wait_for("message", lambda m: m["body"] == body)

        async def reply(body: str) -> None:
            assert (await csr.call("message", {"conversation_id": cid, "client_id": new_id(), "body": body}))["ok"]
            await expect(widget_log(page).get_by_text(body)).to_be_visible()

        before = len(sent)
        await whisper("First whisper")
        await reply("Reply one")
        await whisper("Second whisper")
        await reply("Reply two")
        await visitor_send(page, "Done, thanks")
        await csr.rec.wait_for("message", lambda m: m["body"] == "Done, thanks")
        # Frames go out in order: everything the widget sent before "Done, thanks" is in `sent`.
        assert not [f for f in sent[before:] if '"sync"' in f], "a note must not send the widget re-syncing"

        # The cache holds the visitor's numbers, 1 … 5 without a hole, and no note.
        key = f"sb:{demo_site_key}:messages"
        await page.wait_for_function(f"JSON.parse(localStorage.getItem({json.dumps(key)}) || '[]').length >= 5")
        cached = json.loads(await page.evaluate(f"localStorage.getItem({json.dumps(key)})"))
        assert [(m["seq"], m["body"]) for m in cached] == [
            (1, "Hello from the widget"), (2, f"Cy {tag} joined the chat."), (3, "Reply one"), (4, "Reply two"),
            (5, "Done, thanks")]
        # The widget read "Reply two" (its 4): the CSR learns it as the staff's 6.
        await csr.rec.wait_for("read", lambda r: r["conversation_id"] == cid and r["seq"] == 6)
        # The CSR reads the visitor's last message (staff 7): the widget marks it read (its 5).
        assert (await csr.call("read", {"conversation_id": cid, "seq": 7}))["ok"]
        await expect(widget_log(page).locator('[data-state="read"]').filter(has_text="Done, thanks")).to_be_visible()
        assert errors.errors == []
    finally:
        if cid is not None:
            await csr.call("close", {"conversation_id": cid})
        await clients.sign_off(csr)
        for client in (csr, boss):
            await client.disconnect()
