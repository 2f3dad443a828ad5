"""Scorecards and evaluations over HTTP (app/web/quality/scorecards.py, evaluate.py), through a real
server: who may (a `qa` user reads scorecards but never changes them; CSRs and marketers are refused),
CSRF on every POST, bad input (wrong types, missing fields, oversize bodies, other people's ids and
evaluations, a message of another chat) → a clear 4xx and nothing stored; the automatic checks
pre-filled on the form from the chat's messages and events; comments pinned to a message; the Score.
Both databases: each deployment is this module's own, each test makes its own users and chats."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.models import (
    Conversation, ConversationEvent, Evaluation, EvaluationAnswer, EvaluationComment, Message, Scorecard,
    Site, User, Visitor,
)
from tests.support.clients import new_id
from tests.support.inprocess import add_user, database
from tests.support.server import Deployment, deploy
from tests.support.web import csrf_of

SECTIONS = [{"title": "Opening", "criteria": [
    {"label": "Greets the visitor", "auto": "greeting"},
    {"label": "Answers in time", "auto": "first_response", "auto_param": 30},
    {"label": "Verifies the order number", "critical": True},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def d(request):
    url = None if request.param == "sqlite" else request.getfixturevalue("new_postgres_database")()
    deployment = deploy(database_url=url, redis_url=None, processes=1)
    yield deployment
    deployment.stop()


class Staff:
    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http, self.csrf = http, csrf

    async def post(self, path: str, body=None, *, csrf: bool = True, content: bytes | None = None, method="POST"):
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        if content is not None:
            return await self.http.request(method, path, content=content,
                                           headers={"content-type": "application/json", **headers})
        return await self.http.request(method, path, json={} if body is None else body, headers=headers)


@contextlib.asynccontextmanager
async def staff(d: Deployment, email: str):
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60) as http:
        page = await http.get("/login")
        done = await http.post("/login", data={"email": email, "password": d.password, "csrf_token": csrf_of(page.text)})
        assert done.status_code == 303, done.text
        yield Staff(http, csrf_of((await http.get("/account")).text))


async def people(d: Deployment, *roles: str) -> list[str]:
    t = new_id()[:6]
    out = []
    for i, role in enumerate(roles):
        email = f"{role}{i}-{t}@example.com"
        await add_user(d, email, role, f"{role.title()} {i} {t}")
        out.append(email)
    return out


async def scripted_chat(d: Deployment, agent_email: str, *, first_reply_after: int = 10,
                        greeting: str = "Hello, how can I help?") -> tuple[int, list[int]]:
    """A closed chat: the visitor asks, the CSR replies `first_reply_after` seconds later."""
    async with database(d):
        site = await Site.get(key=d.site_key)
        agent = await User.get(email=agent_email)
        at = utcnow() - timedelta(hours=2)
        visitor = await Visitor.create(id=new_id(), site=site, first_seen=at, last_seen=at)
        chat = await Conversation.create(site=site, visitor=visitor, agent=agent, status="closed", requested_at=at,
                                         assigned_at=at + timedelta(seconds=2),
                                         first_response_at=at + timedelta(seconds=first_reply_after),
                                         closed_at=at + timedelta(minutes=5), closed_by="agent", last_seq=3)
        ids = []
        for seq, (kind, body, s) in enumerate([("visitor", "Where is my order?", 1), ("agent", greeting, first_reply_after),
                                               ("agent", "It ships today. Anything else?", 60)], start=1):
            m = await Message.create(conversation=chat, seq=seq, visitor_seq=seq, sender_kind=kind, body=body,
                                     visitor=visitor if kind == "visitor" else None,
                                     author=agent if kind == "agent" else None,
                                     author_name=agent.display_name if kind == "agent" else None,
                                     created_at=at + timedelta(seconds=s))
            ids.append(m.id)
        for kind, s in (("requested", 0), ("assigned", 2), ("first_response", first_reply_after), ("closed", 300)):
            await ConversationEvent.create(conversation=chat, site=site, agent=agent, kind=kind,
                                           at=at + timedelta(seconds=s), data={})
        return chat.id, ids


async def count(d: Deployment, model) -> int:
    async with database(d):
        return await model.all().count()


async def test_scorecards_who_may_and_bad_input(d):
    admin, qa, csr, marketer = await people(d, "admin", "qa", "agent", "marketer")
    before = await count(d, Scorecard)
    async with staff(d, qa) as q, staff(d, csr) as c, staff(d, marketer) as m, staff(d, admin) as a:
        assert (await q.http.get("/quality/scorecards")).status_code == 200
        assert (await q.http.get("/api/quality/scorecards")).status_code == 200
        for other in (c, m):
            assert (await other.http.get("/quality/scorecards")).status_code == 404
            assert (await other.http.get("/api/quality/scorecards")).status_code == 403
        refused = await q.post("/api/quality/scorecards", {"name": "QA's own", "sections": SECTIONS})
        assert refused.status_code == 403, refused.text
        assert (await c.post("/api/quality/scorecards", {"name": "x", "sections": SECTIONS})).status_code == 403
        assert (await a.post("/api/quality/scorecards", {"name": "x", "sections": SECTIONS}, csrf=False)).status_code == 403
        bad = [
            ({"sections": SECTIONS}, "name"),
            ({"name": 5, "sections": SECTIONS}, "name"),
            ({"name": "x" * 101, "sections": SECTIONS}, "name"),
            ({"name": "Card", "sections": "x"}, "sections"),
            ({"name": "Card", "sections": [{"title": "A", "criteria": [{"label": "a", "weight": "heavy"}]}]},
             "sections.0.criteria.0.weight"),
            ({"name": "Card", "sections": [{"title": "A", "criteria": [{"label": "a", "scale": "five",
                                                                        "critical": True}]}]},
             "sections.0.criteria.0.critical"),
            ({"name": "Card", "sections": [{"title": "A", "criteria": [{"label": "a", "auto": "greeting",
                                                                        "phrases": [7]}]}]},
             "sections.0.criteria.0.phrases"),
            ({"name": "Card", "sections": SECTIONS, "department_id": 999999}, "department_id"),
            ({"name": "Card", "sections": SECTIONS, "active": "yes"}, "active"),
        ]
        for body, field in bad:
            answer = await a.post("/api/quality/scorecards", body)
            assert answer.status_code == 400, (body, answer.text)
            assert answer.json()["error"]["field"] == field, (body, answer.text)
        huge = await a.post("/api/quality/scorecards", content=b'{"name": "' + b"x" * 300_000 + b'"}')
        assert huge.status_code == 413
        assert (await a.post("/api/quality/scorecards", content=b"[1, 2")).status_code == 400
        assert await count(d, Scorecard) == before  # nothing stored

        made = await a.post("/api/quality/scorecards", {"name": "Chat quality", "sections": SECTIONS})
        assert made.status_code == 201, made.text
        card = made.json()["scorecard"]
        assert card["version"] == 1 and card["sections"][0]["criteria"][0]["phrases"] == []
        same = await a.post(f"/api/quality/scorecards/{card['id']}", {"name": "Chat quality", "sections": card["sections"]})
        assert same.json()["scorecard"]["version"] == 1  # unchanged content: no new version
        changed = card["sections"] + [{"title": "Closing", "criteria": [{"label": "Offers more help", "auto": "closing",
                                                                           "phrases": ["anything else"]}]}]
        again = await a.post(f"/api/quality/scorecards/{card['id']}", {"name": "Chat quality", "sections": changed})
        assert again.json()["scorecard"]["version"] == 2
        assert (await q.post(f"/api/quality/scorecards/{card['id']}", {"name": "Mine", "sections": changed})).status_code == 403
        assert (await a.post("/api/quality/scorecards/99999999", {"name": "x", "sections": SECTIONS})).status_code == 404
        assert (await a.post("/api/quality/scorecards/abc", {"name": "x", "sections": SECTIONS})).status_code == 404
        listed = (await q.http.get("/api/quality/scorecards")).json()
        mine = next(s for s in listed["scorecards"] if s["id"] == card["id"])
        assert [v["number"] for v in mine["versions"]] == [2, 1] and mine["editable"] is False
        assert listed["may_create"] is False
        # Clean up: later tests' chats pick the center-wide scorecard they make.
        async with database(d):
            await Scorecard.filter(id=card["id"]).update(active=False)


async def test_an_evaluation_with_automatic_checks_comments_and_the_score(d):
    admin, qa, other_qa, csr, marketer = await people(d, "admin", "qa", "qa", "agent", "marketer")
    async with database(d):
        await Scorecard.filter(active=True).update(active=False)
    async with staff(d, admin) as a:
        made = await a.post("/api/quality/scorecards", {"name": "Chat quality " + new_id()[:4], "sections": SECTIONS})
        assert made.status_code == 201, made.text
    chat, messages = await scripted_chat(d, csr, first_reply_after=10)
    elsewhere, foreign_messages = await scripted_chat(d, csr, first_reply_after=90, greeting="Yes?")

    async with staff(d, qa) as q, staff(d, other_qa) as o, staff(d, csr) as c, staff(d, marketer) as m:
        for who in (c, m):
            assert (await who.post("/api/quality/evaluations", {"conversation_id": chat})).status_code == 403
        assert (await q.post("/api/quality/evaluations", {"conversation_id": chat}, csrf=False)).status_code == 403
        for body, status in (({}, 400), ({"conversation_id": str(chat)}, 400), ({"conversation_id": 99999999}, 404),
                             ({"conversation_id": chat, "calibration_id": 99999}, 404),
                             ({"conversation_id": chat, "calibration_id": "x"}, 400)):
            answer = await q.post("/api/quality/evaluations", body)
            assert answer.status_code == status, (body, answer.text)
        started = await q.post("/api/quality/evaluations", {"conversation_id": chat})
        assert started.status_code == 201, started.text
        evaluation = started.json()["id"]
        assert started.json()["url"] == f"/quality/evaluations/{evaluation}"
        assert (await q.post("/api/quality/evaluations", {"conversation_id": chat})).json()["id"] == evaluation
        taken = await o.post("/api/quality/evaluations", {"conversation_id": chat})
        assert taken.status_code == 409  # a chat is evaluated once

        # The form: the transcript and the automatic answers pre-filled (greeting yes, first reply in 10 s ≤ 30 s).
        form = await q.http.get(f"/quality/evaluations/{evaluation}")
        assert form.status_code == 200
        html = form.text
        assert "Where is my order?" in html and "Comment on this message" in html
        assert 'name="c1" value="yes" checked' in html and 'name="c2" value="yes" checked' in html
        assert 'id="q-c1-auto" >' in html or 'id="q-c1-auto">' in html  # shown, not hidden
        assert (await o.http.get(f"/quality/evaluations/{evaluation}")).status_code == 404  # another's draft
        assert (await c.http.get(f"/quality/evaluations/{evaluation}")).status_code == 404  # not submitted yet

        base = f"/api/quality/evaluations/{evaluation}"
        # Draft: bad input refused, nothing stored.
        for body in ({"answers": ["yes"]}, {"answers": {"zz": "yes"}}, {"answers": {"c1": "maybe"}},
                     {"answers": {"c1": "yes"}, "notes": {"c1": "x" * 501}}, {"answers": {"c1": "yes"}, "automatic": "c1"}):
            answer = await q.post(base + "/draft", body, method="PUT")
            assert answer.status_code == 400, (body, answer.text)
        assert (await o.post(base + "/draft", {"answers": {"c1": "yes"}}, method="PUT")).status_code == 404
        assert (await q.post(base + "/draft", {"answers": {"c1": "yes"}}, csrf=False, method="PUT")).status_code == 403
        assert (await q.post("/api/quality/evaluations/x/draft", {"answers": {}})).status_code == 404
        async with database(d):
            assert await EvaluationAnswer.filter(evaluation_id=evaluation).count() == 0
        saved = await q.post(base + "/draft", {"answers": {"c1": "yes", "c2": "yes"}, "automatic": ["c1", "c2"]},
                             method="PUT")
        assert saved.status_code == 200, saved.text

        # Comments pinned to a message of this chat only.
        for body, status in (({"message_id": foreign_messages[0], "body": "x"}, 404),
                             ({"message_id": 99999999, "body": "x"}, 404), ({"message_id": "1", "body": "x"}, 400),
                             ({"message_id": messages[1], "body": "  "}, 400), ({"message_id": messages[1]}, 400),
                             ({"message_id": messages[1], "body": "x" * 2001}, 400)):
            answer = await q.post(base + "/comments", body)
            assert answer.status_code == status, (body, answer.text)
        assert (await o.post(base + "/comments", {"message_id": messages[1], "body": "mine"})).status_code == 404
        assert (await q.post(base + "/comments", {"message_id": messages[1], "body": "x"}, csrf=False)).status_code == 403
        assert await count(d, EvaluationComment) == 0
        pinned = await q.post(base + "/comments", {"message_id": messages[1], "body": "Warm <b>greeting</b>"})
        assert pinned.status_code == 201, pinned.text
        assert pinned.json()["comment"]["message_id"] == messages[1]
        page = (await q.http.get(f"/quality/evaluations/{evaluation}")).text
        assert "Warm &lt;b&gt;greeting&lt;/b&gt;" in page  # text, never markup

        # Submit: every criterion answered; the score by the documented rule.
        incomplete = await q.post(base + "/submit", {"answers": {"c1": "yes", "c2": "yes", "c3": "yes"}})
        assert incomplete.status_code == 400 and incomplete.json()["error"]["field"] == "c4"
        assert (await o.post(base + "/submit", {"answers": {"c1": "yes", "c2": "yes", "c3": "yes", "c4": "4"}})).status_code == 404
        done = await q.post(base + "/submit", {"answers": {"c1": "yes", "c2": "yes", "c3": "yes", "c4": "4"},
                                               "automatic": ["c1", "c2"], "notes": {"c4": "Clear answer"}})
        assert done.status_code == 200, done.text
        assert done.json()["score"] == 90.0  # 100 × (1 + 1 + 1 + 2 × 0.75) ÷ 5
        again = await q.post(base + "/submit", {"answers": {"c1": "yes", "c2": "yes", "c3": "yes", "c4": "5"}})
        assert again.status_code == 409
        async with database(d):
            answers = {a.criterion: a for a in await EvaluationAnswer.filter(evaluation_id=evaluation)}
            assert answers["c1"].automatic and not answers["c3"].automatic and answers["c4"].note == "Clear answer"

        # The slow chat: its automatic answers say so (90 s > 30 s, "Yes?" is no greeting).
        slow = await q.post("/api/quality/evaluations", {"conversation_id": elsewhere})
        html = (await q.http.get(slow.json()["url"])).text
        assert 'name="c1" value="no" checked' in html and 'name="c2" value="no" checked' in html


async def test_start_evaluation_from_a_chat_in_no_queue(d):
    admin, qa, other_qa, csr = await people(d, "admin", "qa", "qa", "agent")
    async with database(d):
        await Scorecard.filter(active=True).update(active=False)
    async with staff(d, admin) as a:
        assert (await a.post("/api/quality/scorecards", {"name": "Any chat " + new_id()[:4], "sections": SECTIONS})).status_code == 201
    chat, _ = await scripted_chat(d, csr)
    async with staff(d, qa) as q, staff(d, other_qa) as o, staff(d, csr) as c:
        page = await q.http.get(f"/quality/chats/{chat}")
        assert page.status_code == 200 and "Start evaluation" in page.text and "Where is my order?" in page.text
        assert (await q.http.get("/quality/chats/abc")).status_code == 404
        assert (await c.http.get(f"/quality/chats/{chat}")).status_code == 404  # a CSR: like a missing chat
        assert (await q.http.get("/quality/chats/99999999")).status_code == 404
        assert (await q.http.post(f"/quality/chats/{chat}", data={"csrf_token": "forged"})).status_code == 403
        assert (await c.http.post(f"/quality/chats/{chat}", data={"csrf_token": c.csrf})).status_code == 404
        async with database(d):
            assert await Evaluation.filter(conversation_id=chat).count() == 0
        started = await q.http.post(f"/quality/chats/{chat}", data={"csrf_token": q.csrf})
        assert started.status_code == 303 and started.headers["location"].startswith("/quality/evaluations/")
        assert "Continue your evaluation" in (await q.http.get(f"/quality/chats/{chat}")).text
        assert "Another evaluator is evaluating this chat." in (await o.http.get(f"/quality/chats/{chat}")).text
        refused = await o.http.post(f"/quality/chats/{chat}", data={"csrf_token": o.csrf})
        assert refused.status_code == 409 and "This chat has been evaluated already." in refused.text


async def test_a_supervisor_builds_only_their_departments_scorecards(d):
    import json

    from tests.support.server import cli

    admin, sam, csr = await people(d, "admin", "supervisor", "agent")
    t = new_id()[:4]
    mine = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Returns {t}",
                          "--member", sam, "--member", csr, "--json"))["id"]
    theirs = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Billing {t}", "--json"))["id"]
    before = await count(d, Scorecard)
    async with staff(d, sam) as s, staff(d, admin) as a:
        made = await s.post("/api/quality/scorecards", {"name": f"Returns {t}", "sections": SECTIONS, "department_id": mine})
        assert made.status_code == 201, made.text
        for department in (theirs, None):
            refused = await s.post("/api/quality/scorecards", {"name": "Not mine", "sections": SECTIONS,
                                                               "department_id": department})
            assert refused.status_code == 403, refused.text
        billing = await a.post("/api/quality/scorecards", {"name": f"Billing {t}", "sections": SECTIONS,
                                                           "department_id": theirs, "active": False})
        assert billing.status_code == 201
        card = billing.json()["scorecard"]["id"]
        # Another department's scorecard: not theirs to change, even moved into their own department.
        moved = await s.post(f"/api/quality/scorecards/{card}", {"name": "Mine now", "sections": SECTIONS,
                                                                 "department_id": mine})
        assert moved.status_code == 404, moved.text
        listed = {c["id"]: c for c in (await s.http.get("/api/quality/scorecards")).json()["scorecards"]}
        assert listed[card]["editable"] is False and listed[made.json()["scorecard"]["id"]]["editable"] is True
        assert [x["id"] for x in (await s.http.get("/api/quality/scorecards")).json()["departments"]] == [mine]
    assert await count(d, Scorecard) == before + 2
    async with database(d):
        assert (await Scorecard.get(id=card)).name == f"Billing {t}"
        await Scorecard.filter(department_id=mine).update(active=False)


async def test_the_facts_of_a_transfer_a_gap_and_a_department_threshold(d):
    from app.quality import checks
    from app.services import autochecks

    admin, cora, carl = await people(d, "admin", "agent", "agent")
    async with database(d):
        site = await Site.get(key=d.site_key)
        from app.models import Department
        desk = await Department.create(site=site, name="Fast desk " + new_id()[:4], sl_threshold_seconds=5)
        cora_user, carl_user = await User.get(email=cora), await User.get(email=carl)
        at = utcnow() - timedelta(hours=1)
        visitor = await Visitor.create(id=new_id(), site=site, first_seen=at, last_seen=at)
        chat = await Conversation.create(site=site, visitor=visitor, agent=carl_user, department=desk, status="closed",
                                         requested_at=at, assigned_at=at + timedelta(seconds=2),
                                         first_response_at=at + timedelta(seconds=8),
                                         closed_at=at + timedelta(minutes=10), closed_by="agent")
        script = [("visitor", "Hi", 1), ("agent", "您好，请问有什么可以帮您？", 8), ("visitor", "My refund?", 20),
                  ("internal", "checking", 30), ("agent", "Done", 200), ("agent", "祝您生活愉快", 210)]
        for seq, (kind, body, s) in enumerate(script, start=1):
            await Message.create(conversation=chat, seq=seq, sender_kind=kind, body=body,
                                 created_at=at + timedelta(seconds=s))
        for kind, s, data in (("requested", 0, {}), ("assigned", 2, {}), ("first_response", 8, {}),
                              ("transferred", 100, {"from_agent_id": cora_user.id, "to_agent_id": carl_user.id,
                                                    "has_note": False}), ("closed", 600, {})):
            await ConversationEvent.create(conversation=chat, site=site, department=desk, agent=cora_user, kind=kind,
                                           at=at + timedelta(seconds=s), data=data)
        facts = await autochecks.facts(chat)
        assert facts.threshold_seconds == 5.0 and facts.transfers == [False]
        assert checks.first_response(facts) == "no"  # 8 s > the desk's 5 s
        assert checks.reply_gap(facts) == "no"  # 20 s → 200 s: the internal note is no reply
        assert checks.transfer_note(facts) == "no"
        assert (checks.greeting(facts), checks.closing(facts), checks.category(facts)) == ("yes", "yes", "no")
