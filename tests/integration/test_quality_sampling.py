"""Sampling, the evaluators' queue, Flag for review and the quality reports through a real in-process
server (SQLite) with real socket.io clients: the listeners queue a badly rated chat and a transferred
one as they happen; the weekly draw (the CLI) takes N chats per CSR once; the Quality page shows why a
chat is queued and "Start evaluation" opens a draft; "Flag for review" is a supervisor's, refused to a
CSR and for chats outside the supervisor's queues; every endpoint refuses bad input and stores nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.models import (
    Conversation, Department, Evaluation, QualityEvent, SampleItem, SamplingRule, Site, User, Visitor,
)
from app.quality import sampling as pure
from app.services import evaluations, scorecards
from tests.support import clients
from tests.support.clients import new_id
from tests.support.inprocess import add_user, database, prepare, serve
from tests.support.server import cli
from tests.support.web import csrf_of, signed_in

SECTIONS = [{"title": "Chat", "criteria": [
    {"label": "Greets the visitor", "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 1},
]}]


@pytest.fixture
async def center():
    deployment = await prepare()
    for email, role, name in (("eva@example.com", "qa", "Eva Evaluator"), ("cora@example.com", "agent", "Cora CSR"),
                              ("carl@example.com", "agent", "Carl CSR"), ("ada@example.com", "admin", "Ada Admin"),
                              ("dana@example.com", "supervisor", "Dana Desk")):
        await add_user(deployment, email, role, name)
    async with database(deployment):
        site = await Site.get(key=deployment.site_key)
        desk = await Department.create(site=site, name="Billing desk")
        await desk.users.add(await User.get(email="dana@example.com"))  # Dana oversees Billing only
    yield deployment
    deployment.stop()


def console_csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


async def closed_chat(site: Site, agent: User, closed_at, department=None) -> Conversation:
    visitor = await Visitor.create(id=new_id(), site=site, first_seen=closed_at, last_seen=closed_at)
    return await Conversation.create(site=site, visitor=visitor, agent=agent, status="closed", department=department,
                                     requested_at=closed_at - timedelta(minutes=6),
                                     assigned_at=closed_at - timedelta(minutes=5), closed_at=closed_at,
                                     closed_by="agent")


async def test_listeners_queue_a_bad_rating_and_a_transfer_and_the_queue_says_why(center):
    pw = center.password
    async with serve(center) as server:
        async with signed_in(server.url, "ada@example.com", pw) as ada:
            page = await ada.get("/quality/sampling")
            assert page.status_code == 200
            eva_id = center.users["eva@example.com"]["id"]
            base = {"csrf_token": csrf_of(page.text), "department": "general", "on_bad_rating": "1",
                    "on_transfer": "1", "on_long_handle": "1", "active": "1", "evaluators": str(eva_id)}
            # Bad input: re-rendered with the error beside the field, nothing stored.
            for bad, field in (({"per_week": "x"}, "per_week"), ({"per_week": "51"}, "per_week"),
                               ({"per_week": "2", "evaluators": "999999"}, "evaluators"),
                               ({"per_week": "2", "evaluators": "abc"}, "evaluators"),
                               ({"per_week": "2", "categories": "999999"}, "categories"),
                               ({"per_week": "2", "evaluators": str(center.users["cora@example.com"]["id"])},
                                "evaluators")):
                refused = await ada.post("/quality/sampling", data={**base, **bad})
                assert refused.status_code == 400, bad
                assert f'id="r-general-{field.replace("_", "-")}-error"' in refused.text, bad
            assert (await ada.post("/quality/sampling", data={**base, "per_week": "2", "csrf_token": "nope"})) \
                .status_code == 400
            assert (await ada.post("/quality/sampling", data={**base, "per_week": "2", "department": "777777"})) \
                .status_code == 404
            async with database(center):
                assert await SamplingRule.all().count() == 0
            saved = await ada.post("/quality/sampling", data={**base, "per_week": "2"})
            assert saved.status_code == 303
            async with database(center):
                billing = str((await Department.get(name="Billing desk")).id)
            boss_id, dana_id = center.users["boss@example.com"]["id"], center.users["dana@example.com"]["id"]
            billing_rule = {**base, "per_week": "1", "department": billing, "active": ""}
            refused = await ada.post("/quality/sampling", data={**billing_rule, "evaluators": str(boss_id)})
            assert refused.status_code == 400 and "Sam Supervisor does not supervise this department." in refused.text
            assert (await ada.post("/quality/sampling", data={**billing_rule, "evaluators": str(dana_id)})) \
                .status_code == 303
        async with signed_in(server.url, "dana@example.com", pw) as dana:  # not her department
            page = await dana.get("/quality/sampling")
            assert page.status_code == 200 and "General queues" not in page.text
            refused = await dana.post("/quality/sampling", data={"csrf_token": csrf_of(page.text),
                                                                 "department": "general", "per_week": "9"})
            assert refused.status_code == 403
        async with database(center):
            assert await SamplingRule.filter(department_id=int(billing), active=False).count() == 1
            rule = await SamplingRule.get(department_id=None).prefetch_related("evaluators")
            assert rule.per_agent_per_week == 2 and [e.id for e in rule.evaluators] == [eva_id]

        cora = await clients.agent(server.url, "cora@example.com", pw)
        carl = await clients.agent(server.url, "carl@example.com", pw)
        await cora.call("set_status", {"status": "available"})
        rated = await clients.visitor(server.url, center.site_key, center.origin)
        moved = await clients.visitor(server.url, center.site_key, center.origin)
        try:
            first = (await rated.call("message", {"client_id": new_id(), "body": "Where is my parcel?"}))["conversation_id"]
            await cora.rec.wait_for("conversation.assigned", lambda c: c["id"] == first)
            assert (await cora.call("close", {"conversation_id": first}))["ok"]
            assert (await rated.call("rate", {"conversation_id": first, "rating": "bad"}))["ok"]
            assert (await rated.call("rate", {"conversation_id": first, "rating": "bad"}))["ok"]  # no duplicate

            second = (await moved.call("message", {"client_id": new_id(), "body": "Refund please"}))["conversation_id"]
            await cora.rec.wait_for("conversation.assigned", lambda c: c["id"] == second)
            await carl.call("set_status", {"status": "available"})
            carl_id = center.users["carl@example.com"]["id"]
            assert (await cora.call("transfer", {"conversation_id": second, "to_agent_id": carl_id,
                                                 "note": "Refunds are Carl's"}))["ok"]
            await carl.rec.wait_for("conversation.assigned", lambda c: c["id"] == second)
            assert (await carl.call("close", {"conversation_id": second}))["ok"]
        finally:
            for c in (rated, moved):
                await c.disconnect()
            for a in (cora, carl):
                await clients.sign_off(a)
                await a.disconnect()

        async with database(center):
            items = await SampleItem.all().order_by("id").values("conversation_id", "reason", "detail", "evaluator_id",
                                                                 "agent_id")
            assert [(i["conversation_id"], i["reason"], i["detail"]) for i in items] == [
                (first, "bad_rating", "Rated bad"), (second, "transfer", "Transferred 1 time(s) during the chat")]
            assert {i["evaluator_id"] for i in items} == {eva_id}
            assert items[1]["agent_id"] == carl_id  # the CSR who closed it
            assert await QualityEvent.filter(kind="sampled").count() == 2

        async with signed_in(server.url, "eva@example.com", pw) as eva:
            queue = await eva.get("/quality")
            assert queue.status_code == 200 and "<h1>Quality</h1>" in queue.text
            assert "Bad rating" in queue.text and "Rated bad" in queue.text and "Transfer" in queue.text
            only = await eva.get("/quality", params={"reason": "bad_rating"})
            assert f"#{first}" in only.text and f"#{second}" not in only.text
            by_csr = await eva.get("/quality", params={"agent": str(carl_id)})
            assert f"#{second}" in by_csr.text and f"#{first}" not in by_csr.text
            assert (await eva.get("/quality", params={"reason": "<script>"})).status_code == 200  # ignored, said
            assert (await eva.get("/quality", params={"who": "all"})).text.count("Choose your queue") == 1  # qa: own
            token = csrf_of(queue.text)
            # No scorecard yet: said clearly, nothing stored.
            refused = await eva.post("/quality/start", data={"csrf_token": token, "conversation_id": str(first)})
            assert refused.status_code == 409 and "No scorecard applies" in refused.text
            for bad in ({"conversation_id": "abc"}, {"conversation_id": ""}, {}):
                assert (await eva.post("/quality/start", data={"csrf_token": token, **bad})).status_code == 400
            assert (await eva.post("/quality/start", data={"csrf_token": "x", "conversation_id": str(first)})) \
                .status_code == 403
            assert (await eva.post("/quality/start", data={"csrf_token": token, "conversation_id": "999999"})) \
                .status_code == 404
            async with database(center):
                assert await Evaluation.all().count() == 0
                await scorecards.save(await User.get(email="ada@example.com"), name="Chat quality", sections=SECTIONS)
            started = await eva.post("/quality/start", data={"csrf_token": token, "conversation_id": str(first)})
            assert started.status_code == 303
            async with database(center):
                draft = await Evaluation.get(conversation_id=first)
                assert draft.status == "draft" and draft.evaluator_id == eva_id
            assert started.headers["location"] == f"/quality/evaluations/{draft.id}"
            assert (await eva.get(started.headers["location"])).status_code == 200

        async with signed_in(server.url, "cora@example.com", pw) as cora_http:  # a CSR: no Quality page
            assert (await cora_http.get("/quality")).status_code == 403
            assert (await cora_http.get("/quality/reports")).status_code == 403
            assert (await cora_http.get("/quality/sampling")).status_code == 403


async def test_flag_for_review_is_a_supervisors_within_their_queues(center):
    pw = center.password
    async with database(center):
        site = await Site.get(key=center.site_key)
        cora = await User.get(email="cora@example.com")
        general = await closed_chat(site, cora, utcnow() - timedelta(hours=2))
        billing = await closed_chat(site, cora, utcnow() - timedelta(hours=2),
                                    department=await Department.get(name="Billing desk"))
    async with serve(center) as server:
        async with signed_in(server.url, "cora@example.com", pw) as agent:
            token = console_csrf((await agent.get("/console")).text)
            assert "Flag for review" not in (await agent.get("/console")).text
            refused = await agent.post("/api/quality/flags", json={"conversation_id": general.id},
                                       headers={"X-CSRF-Token": token})
            assert refused.status_code == 403
        async with signed_in(server.url, "boss@example.com", pw) as boss:  # in no department: general queues
            console = (await boss.get("/console")).text
            assert "Flag for review" in console
            token = console_csrf(console)
            post = lambda body, t=token: boss.post("/api/quality/flags", json=body, headers={"X-CSRF-Token": t})  # noqa: E731
            assert (await post({"conversation_id": general.id}, "wrong")).status_code == 403
            for body, status in (({}, 400), ({"conversation_id": "1"}, 400), ({"conversation_id": True}, 400),
                                 ({"conversation_id": general.id, "reason": 5}, 400),
                                 ({"conversation_id": general.id, "reason": "x" * 201}, 400),
                                 ({"conversation_id": 99999999}, 404),
                                 ({"conversation_id": billing.id}, 404)):  # not his queue: like a missing id
                answer = await post(body)
                assert answer.status_code == status, (body, answer.text)
                assert answer.json()["error"]["message"]
            too_big = await boss.post("/api/quality/flags", content=b"{" + b" " * 5000 + b"}",
                                      headers={"X-CSRF-Token": token, "content-type": "application/json"})
            assert too_big.status_code == 413
            async with database(center):
                assert await SampleItem.all().count() == 0
            made = await post({"conversation_id": general.id, "reason": "Rude <b>closing</b>"})
            assert made.status_code == 201, made.text
            assert made.json()["item"]["detail"] == "Flagged by Sam Supervisor: Rude <b>closing</b>"
            assert (await post({"conversation_id": general.id})).status_code == 409  # once
            start = await boss.post("/quality/start", data={"csrf_token": csrf_of((await boss.get("/quality")).text),
                                                            "conversation_id": str(billing.id)})
            assert start.status_code == 404 and "No such conversation." in start.text  # not his queue
            quality = await boss.get("/quality", params={"who": "all", "reason": "flag"})
            assert "Flagged for review" in quality.text and "Rude &lt;b&gt;closing&lt;/b&gt;" in quality.text
        async with signed_in(server.url, "dana@example.com", pw) as dana:  # Billing's supervisor
            token = console_csrf((await dana.get("/console")).text)
            assert (await dana.post("/api/quality/flags", json={"conversation_id": billing.id},
                                    headers={"X-CSRF-Token": token})).status_code == 201
            again = await dana.post("/api/quality/flags", json={"conversation_id": general.id},
                                    headers={"X-CSRF-Token": token})  # her site's general queue: flagged already
            assert again.status_code == 409 and "already" in again.json()["error"]["message"]
        async with signed_in(server.url, "boss@example.com", pw) as boss:
            all_items = (await boss.get("/quality", params={"who": "all"})).text
            assert f"#{general.id}" in all_items and f"#{billing.id}" not in all_items  # his scope only
    async with database(center):
        flags = await SampleItem.filter(reason="flag").order_by("id").values("conversation_id", "flagged_by_id")
        assert [f["conversation_id"] for f in flags] == [general.id, billing.id]
        assert await QualityEvent.filter(kind="flagged").count() == 2


async def test_the_weekly_draw_takes_n_per_csr_once(center):
    async with database(center, runtime=True):
        site = await Site.get(key=center.site_key)
        cora, carl, eva = [await User.get(email=f"{n}@example.com") for n in ("cora", "carl", "eva")]
        rule = await SamplingRule.create(department_id=None, per_agent_per_week=2, active=True)
        await rule.evaluators.add(eva)
        week = pure.week_of(utcnow(), "UTC") - timedelta(days=7)
        start = pure.week_bounds(week, "UTC")[0]
        coras = [await closed_chat(site, cora, start + timedelta(hours=10 + i)) for i in range(5)]
        carls = [await closed_chat(site, carl, start + timedelta(days=2))]
        await closed_chat(site, cora, start - timedelta(hours=1))  # the week before: not drawn
        # One of Cora's chats is evaluated already: never drawn.
        card, version = await scorecards.save(await User.get(email="ada@example.com"), name="QA", sections=SECTIONS)
        done = await evaluations.start(eva, coras[0].id)
        await evaluations.submit(eva, done.id, {"c1": "yes", "c2": "5"})
    assert "--week is a Monday" in _cli_error(center, "--week", (week + timedelta(days=1)).isoformat())
    assert "YYYY-MM-DD" in _cli_error(center, "--week", "last week")
    out = cli(center.env, "quality-sample", "--week", week.isoformat())
    assert '"queued": 3' in out
    again = cli(center.env, "quality-sample", "--week", week.isoformat())
    assert '"queued": 0' in again  # drawn already: nothing added
    async with database(center, runtime=True):  # the shared schedule's timer: the same week, nothing new
        from app import runtime
        from app.services import sampling, timers

        await sampling.weekly_timer("draw", {})
        assert await SampleItem.filter(reason="random").count() == 3
        due_ms, _ = runtime.current().state(timers.MemorySchedule)["qa.weekly:draw"]
        next_monday = pure.week_bounds(pure.week_of(utcnow(), "UTC") + timedelta(days=7), "UTC")[0]
        assert abs(due_ms / 1000 - (next_monday + timedelta(minutes=10)).timestamp()) < 5
    async with database(center):
        rows = await SampleItem.filter(reason="random").values("conversation_id", "agent_id", "evaluator_id", "week")
        per = {}
        for r in rows:
            per.setdefault(r["agent_id"], []).append(r["conversation_id"])
        assert len(per[cora.id]) == 2 and set(per[cora.id]) <= {c.id for c in coras[1:]}
        assert per[carl.id] == [carls[0].id]
        assert {r["evaluator_id"] for r in rows} == {eva.id} and {r["week"] for r in rows} == {week}


async def test_long_handle_and_complaint_triggers_on_close(center):
    from app.models import ConversationEvent, WorkCategory
    from app.services import sampling

    async with database(center, runtime=True):
        site = await Site.get(key=center.site_key)
        cora, eva = await User.get(email="cora@example.com"), await User.get(email="eva@example.com")
        desk = await Department.get(name="Billing desk")
        complaint = await WorkCategory.create(name="Complaint")
        refund = await WorkCategory.create(name="Refund", parent=complaint)
        rule = await SamplingRule.create(department=desk, per_agent_per_week=0, on_long_handle=True,
                                         complaint_categories=[complaint.id], active=True)
        await rule.evaluators.add(eva)
        now = utcnow()
        for minutes in range(1, 11):  # the last 4 weeks: handle times 1 … 10 min, p90 (nearest rank) = 9
            closed = now - timedelta(days=minutes)
            past = await closed_chat(site, cora, closed, department=desk)
            await ConversationEvent.create(conversation=past, site=site, department_id=desk.id, agent_id=cora.id,
                                           kind="assigned", at=closed - timedelta(minutes=minutes))
        old = await closed_chat(site, cora, now - timedelta(days=40), department=desk)  # outside the window
        await ConversationEvent.create(conversation=old, site=site, department_id=desk.id, agent_id=cora.id,
                                       kind="assigned", at=old.closed_at - timedelta(hours=5))
        long = await closed_chat(site, cora, now, department=desk)
        long.category_id = refund.id
        await long.save()
        await ConversationEvent.create(conversation=long, site=site, department_id=desk.id, agent_id=cora.id,
                                       kind="assigned", at=now - timedelta(minutes=14))
        closing = await ConversationEvent.create(conversation=long, site=site, department_id=desk.id,
                                                 agent_id=cora.id, kind="closed", at=now)
        await sampling.on_closed(long, closing)
        await sampling.on_closed(long, closing)  # told twice: still once per reason
        items = await SampleItem.filter(conversation_id=long.id).order_by("reason").values("reason", "detail",
                                                                                         "evaluator_id")
        assert items == [
            {"reason": "complaint", "detail": "Contact category Refund", "evaluator_id": eva.id},
            {"reason": "long_handle", "detail": "Handle time 14 min, above the department's 90th percentile of 9 min",
             "evaluator_id": eva.id}]
        # A quick chat sets nothing off; an evaluated one is never queued.
        quick = await closed_chat(site, cora, now, department=desk)
        await ConversationEvent.create(conversation=quick, site=site, department_id=desk.id, agent_id=cora.id,
                                       kind="assigned", at=now - timedelta(minutes=2))
        await sampling.on_closed(quick, closing)
        assert await SampleItem.filter(conversation_id=quick.id).count() == 0


def _cli_error(center, *args: str) -> str:
    try:
        cli(center.env, "quality-sample", *args)
    except RuntimeError as failed:
        return str(failed)
    raise AssertionError("the command should have refused")


async def test_reports_count_exactly_within_scope_and_the_csv_matches(center):
    pw = center.password
    async with database(center, runtime=True):
        site = await Site.get(key=center.site_key)
        cora, carl, eva, ada = [await User.get(email=f"{n}@example.com") for n in ("cora", "carl", "eva", "ada")]
        await scorecards.save(ada, name="QA", sections=SECTIONS)
        answers = [(cora, {"c1": "yes", "c2": "5"}, "good"), (cora, {"c1": "no", "c2": "3"}, "bad"),
                   (carl, {"c1": "yes", "c2": "4"}, "neutral"), (carl, {"c1": "yes", "c2": "1"}, None)]
        for agent, answer, rating in answers:
            chat = await closed_chat(site, agent, utcnow() - timedelta(hours=3))
            await SampleItem.create(conversation=chat, agent=agent, evaluator=eva, reason="random",
                                    week=pure.week_of(utcnow(), "UTC"))
            if rating:
                from app.models import ConversationEvent
                await ConversationEvent.create(conversation=chat, site=site, agent_id=agent.id, kind="rated",
                                               at=utcnow(), data={"rating": rating})
            evaluation = await evaluations.start(eva, chat.id)
            await evaluations.submit(eva, evaluation.id, answer)
        extra = await closed_chat(site, carl, utcnow() - timedelta(hours=1))  # planned, not done
        await SampleItem.create(conversation=extra, agent=carl, evaluator=eva, reason="flag",
                                week=pure.week_of(utcnow(), "UTC"))
    # Scores: 100 × (1 + 1) / 2 = 100; (0 + 0.5)/2 = 25; (1 + 0.75)/2 = 87.5; (1 + 0)/2 = 50.
    async with serve(center) as server:
        async with signed_in(server.url, "ada@example.com", pw) as http:
            page = await http.get("/quality/reports")
            assert page.status_code == 200 and "<h1>Quality reports</h1>" in page.text
            assert 'data-figure="evaluations">4<' in page.text
            assert 'data-figure="qa_score">65.62<' in page.text or 'data-figure="qa_score">65.63<' in page.text
            assert "over 3 chats" in page.text  # the pairs' sample size
            body = (await http.get("/quality/reports.csv", params={"table": "agents"})).text
            rows = list(csv.DictReader(io.StringIO(body)))
            by = {r["CSR"]: r for r in rows}
            assert by["Cora CSR"]["QA score"] == "62.5" and by["Carl CSR"]["QA score"] == "68.75"
            assert by["Cora CSR"]["Evaluations"] == "2"
            planned = list(csv.DictReader(io.StringIO(
                (await http.get("/quality/reports.csv", params={"table": "evaluators"})).text)))
            assert planned == [{"Evaluator": "Eva Evaluator", "Planned": "5", "Done": "4",
                                "Done (percent of planned)": "80.0"}]
            labelled = (await http.get("/quality/reports.csv", params={"table": "weeks", "labels": "1"})).text
            assert labelled.splitlines()[0] == labelled.splitlines()[1]  # English labels, then the header
            for params in ({"table": "nope"}, {"table": "agents", "labels": "2"}, {"table": "agents", "from": "x"},
                           {"table": "agents", "from": "2026-02-01", "to": "2026-01-01"}):
                assert (await http.get("/quality/reports.csv", params=params)).status_code == 400, params
            assert (await http.get("/quality/reports", params={"department": "abc"})).status_code == 400
        async with signed_in(server.url, "dana@example.com", pw) as dana:  # Billing: none of these CSRs
            page = await dana.get("/quality/reports")
            assert page.status_code == 200 and 'data-figure="evaluations">0<' in page.text


async def test_concurrent_triggers_and_flags_queue_a_chat_once(deployment):
    """On SQLite and on PostgreSQL with two workers: a chat rated bad twice at once and flagged by two
    admins at once (one on each worker) is queued once per reason; the second flag is told so."""
    import asyncio
    import json as json_

    from app.services import sampling

    tag = new_id()[:6]
    csr, ada, ben, qa = (f"csr-{tag}@example.com", f"ada-{tag}@example.com", f"ben-{tag}@example.com",
                         f"qa-{tag}@example.com")
    deployment.create_user(csr, "agent", f"Csr {tag}")
    deployment.create_user(ada, "admin", f"Ada {tag}")
    deployment.create_user(ben, "admin", f"Ben {tag}")
    deployment.create_user(qa, "qa", f"Qa {tag}")
    desk = json_.loads(cli(deployment.env, "create-department", "--site", deployment.site_key, "--name",
                           f"Quality {tag}", "--member", csr, "--json"))["id"]
    async with database(deployment):
        rule = await SamplingRule.create(department_id=desk, per_agent_per_week=0, on_bad_rating=True, active=True)
        await rule.evaluators.add(await User.get(email=qa))
    agent = await clients.agent(deployment.servers[0].url, csr, deployment.password)
    visitor = await clients.visitor(deployment.servers[-1].url, deployment.site_key, deployment.origin)
    try:
        await agent.call("set_status", {"status": "available"})
        cid = (await visitor.call("message", {"client_id": new_id(), "body": "Hello", "department_id": desk}))[
            "conversation_id"]
        await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
        assert (await agent.call("close", {"conversation_id": cid}))["ok"]
        acks = await asyncio.gather(*(visitor.call("rate", {"conversation_id": cid, "rating": "bad"}) for _ in range(3)))
        assert all(a["ok"] for a in acks)
    finally:
        await visitor.disconnect()
        await clients.sign_off(agent)
        await agent.disconnect()
    async with database(deployment, runtime=True):
        chat_ = await Conversation.get(id=cid)
        # The same trigger from two places at once: one item.
        made = await asyncio.gather(*(sampling.queue(chat_, "bad_rating", "Rated bad", evaluator_id=None)
                                      for _ in range(3)))
        assert made == [None, None, None]  # queued already by the listener
        assert await SampleItem.filter(conversation_id=cid, reason="bad_rating").count() == 1

    async def flag(url: str, email: str):
        async with signed_in(url, email, deployment.password) as http:
            token = console_csrf((await http.get("/console")).text)
            return await http.post("/api/quality/flags", json={"conversation_id": cid, "reason": email},
                                   headers={"X-CSRF-Token": token})

    answers = await asyncio.gather(flag(deployment.servers[0].url, ada), flag(deployment.servers[-1].url, ben))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    async with database(deployment):
        assert await SampleItem.filter(conversation_id=cid, reason="flag").count() == 1
        assert await QualityEvent.filter(conversation_id=cid, kind="sampled").count() == 2
