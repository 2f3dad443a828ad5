"""Every supervisory action — monitor, whisper, barge in, take over, force a CSR's state — is written
to the audit log with who did it, to which chat or CSR, and when; refused attempts write nothing.

No API reads the audit log back, so the test reads the deployment's database (SQLite, or
PostgreSQL behind two workers) directly."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from tests.support import clients, db
from tests.support.clients import new_id


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


def now() -> datetime:
    return datetime.now(timezone.utc)


async def audit_rows(deployment, *actor_ids: int) -> list[dict]:
    marks = ",".join("?" for _ in actor_ids)
    return await db.fetch(
        deployment,
        "SELECT id, actor_id, action, conversation_id, target_user_id, at, data FROM audit_event "
        f"WHERE (actor_id IN ({marks}) OR target_user_id IN ({marks})) AND action <> 'user_create' ORDER BY id",
        *actor_ids, *actor_ids,
    )


async def test_each_supervisory_action_is_audited_with_actor_target_and_time(deployment):
    tag = new_id()[:8]
    csr_user = deployment.create_user(f"aud-csr-{tag}@example.com", "agent", f"Cai {tag}", max_chats=2)
    boss_user = deployment.create_user(f"aud-sup-{tag}@example.com", "supervisor", f"Sol {tag}", max_chats=2)
    csr = await clients.agent(deployment.servers[0].url, f"aud-csr-{tag}@example.com", deployment.password)
    boss = await clients.agent(deployment.servers[-1].url, f"aud-sup-{tag}@example.com", deployment.password)
    visitor = await clients.visitor(deployment.servers[0].url, deployment.site_key, deployment.origin)
    cid = None
    try:
        assert (await csr.call("set_status", {"status": "available"}))["ok"]
        ack = await visitor.call("message", {"client_id": new_id(), "body": "Can you check my order?"})
        cid = ack["conversation_id"]
        await csr.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        assert await audit_rows(deployment, csr_user["id"], boss_user["id"]) == []  # nothing audited yet

        windows: list[tuple[datetime, datetime]] = []  # per action: before the call, after its ack

        async def act(event: str, payload: dict) -> dict:
            before = now()
            reply = await boss.call(event, payload)
            windows.append((before, now()))
            assert reply.get("ok"), (event, reply)
            return reply

        whisper_id = new_id()
        await act("monitor", {"conversation_id": cid})
        await act("whisper", {"conversation_id": cid, "client_id": whisper_id, "body": "Offer free shipping"})
        # The same whisper again (a resend after a reconnect) stores nothing new, so no second audit row.
        assert (await boss.call("whisper", {"conversation_id": cid, "client_id": whisper_id,
                                            "body": "Offer free shipping"}))["ok"]
        await act("barge", {"conversation_id": cid})
        await act("take_over", {"conversation_id": cid})
        await boss.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        await act("force_status", {"user_id": csr_user["id"], "status": "away", "reason": "meeting"})
        await csr.rec.wait_for("status", lambda s: s["status"] == "away")

        # Refused attempts are not audited: a CSR supervising, a supervisor on a missing chat or
        # barging into a chat that is theirs already.
        assert code(await csr.call("monitor", {"conversation_id": cid})) == "forbidden"
        assert code(await csr.call("force_status", {"user_id": boss_user["id"], "status": "offline"})) == "forbidden"
        assert code(await boss.call("monitor", {"conversation_id": 10**7})) == "not_found"
        assert code(await boss.call("barge", {"conversation_id": cid})) == "invalid_state"

        rows = await audit_rows(deployment, csr_user["id"], boss_user["id"])
        assert [(r["actor_id"], r["action"], r["conversation_id"], r["target_user_id"]) for r in rows] == [
            (boss_user["id"], "monitor", cid, None),
            (boss_user["id"], "whisper", cid, None),
            (boss_user["id"], "barge", cid, None),
            (boss_user["id"], "take_over", cid, csr_user["id"]),  # from whom the chat was taken
            (boss_user["id"], "force_state", None, csr_user["id"]),
        ]
        # When: each row's time lies within its own action's request and reply.
        for row, (before, after) in zip(rows, windows):
            assert before <= row["at"] <= after, (row["action"], before, row["at"], after)
        force = rows[-1]["data"]
        assert (json.loads(force) if isinstance(force, str) else force)["status"] == "away", force
    finally:
        if cid is not None:
            await boss.call("close", {"conversation_id": cid})
        for client in (csr, boss):
            if client.connected:
                await clients.sign_off(client)
                await client.disconnect()
        await visitor.disconnect()
