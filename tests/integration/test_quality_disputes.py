"""Acknowledgement and disputes against a real database (app/services/disputes.py): only the CSR
evaluated acknowledges or disputes, once per criterion, never after acknowledging; a supervisor of the
CSR decides — "changed" recomputes the score over the evaluation's own version; every step an event in
the same write; of two decisions at once one wins (SQLite and PostgreSQL). Then the HTTP forms: CSRF,
bad input (400 beside the field, nothing stored), other people's ids (404)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest

from app.clock import utcnow
from app.models import Conversation, Department, Dispute, Evaluation, QualityEvent, Site, User, Visitor
from app.services import ServiceError, disputes, evaluations, scorecards
from tests.support.clients import new_id
from tests.support.inprocess import add_user, database, prepare, serve
from tests.support.server import deploy

SECTIONS = [{"title": "Opening", "criteria": [
    {"label": "Greets the visitor", "weight": 1},
    {"label": "Verifies the order number", "critical": True, "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]
PEOPLE = (("eva@example.com", "qa"), ("cora@example.com", "agent"), ("carl@example.com", "agent"),
          ("sue@example.com", "supervisor"), ("sid@example.com", "supervisor"), ("ada@example.com", "admin"))


async def closed_chat(site: Site, agent: User, department: Department | None = None) -> Conversation:
    visitor = await Visitor.create(id=new_id(), site=site, first_seen=utcnow(), last_seen=utcnow())
    at = utcnow() - timedelta(hours=1)
    return await Conversation.create(site=site, visitor=visitor, agent=agent, status="closed", requested_at=at,
                                     assigned_at=at, closed_at=at + timedelta(minutes=5), closed_by="agent",
                                     department=department)


async def world(deployment) -> dict:
    """A scorecard; Cora (CSR) and Sue (her supervisor) in Returns, Carl and Sid in Billing; an
    evaluation of Cora's chat submitted by Eva: no / yes / 4 → 62.5."""
    site = await Site.get(key=deployment.site_key)
    people = {e.split("@")[0]: await User.get(email=e) for e, _ in PEOPLE}
    returns = await Department.create(site=site, name="Returns")
    billing = await Department.create(site=site, name="Billing")
    await returns.users.add(people["cora"], people["sue"])
    await billing.users.add(people["carl"], people["sid"])
    await scorecards.save(people["ada"], name="Chat quality", sections=SECTIONS)
    chat = await closed_chat(site, people["cora"], returns)
    draft = await evaluations.start(people["eva"], chat.id)
    done = await evaluations.submit(people["eva"], draft.id, {"c1": "no", "c2": "yes", "c3": "4"}, automatic=["c1"])
    assert done.score == 62.5
    return {"site": site, "returns": returns, "evaluation": done, **people}


@pytest.fixture
async def center():
    deployment = await prepare()
    for email, role in PEOPLE:
        await add_user(deployment, email, role)
    yield deployment
    deployment.stop()


async def test_the_csr_disputes_and_a_supervisor_changes_the_answer(center):
    async with database(center):
        w = await world(center)
        e = w["evaluation"]
        # Nobody but Cora acknowledges or disputes; who may not read it gets not_found.
        for who, code in ((w["eva"], "forbidden"), (w["sue"], "forbidden"), (w["carl"], "not_found")):
            for act in (disputes.acknowledge(who, e.id), disputes.dispute(who, e.id, "c1", "Unfair")):
                with pytest.raises(ServiceError) as refused:
                    await act
                assert refused.value.code == code
        for criterion, comment, field in (("c9", "x", "criterion"), (None, "x", "criterion"), (1, "x", "criterion"),
                                          ("c1", "", "comment"), ("c1", "   ", "comment"), ("c1", 5, "comment"),
                                          ("c1", "x" * 2001, "comment")):
            with pytest.raises(ServiceError) as bad:
                await disputes.dispute(w["cora"], e.id, criterion, comment)
            assert (bad.value.code, bad.value.field) == ("bad_request", field)
        assert await Dispute.all().count() == 0 and await QualityEvent.filter(kind="disputed").count() == 0

        opened = await disputes.dispute(w["cora"], e.id, "c1", "I greeted them in my second message.")
        with pytest.raises(ServiceError) as twice:
            await disputes.dispute(w["cora"], e.id, "c1", "Again")
        assert twice.value.code == "conflict"
        with pytest.raises(ServiceError) as early:
            await disputes.acknowledge(w["cora"], e.id)  # not while a dispute is open
        assert early.value.code == "conflict"
        event = await QualityEvent.get(kind="disputed")
        assert (event.agent_id, event.evaluation_id, event.data["criterion"]) == (w["cora"].id, e.id, "c1")

        # Deciding: Sue (Cora's supervisor) and admins; not Sid (another department: not_found), nor Eva (qa).
        assert [d["id"] for d in await disputes.open_disputes(w["sue"])] == [opened.id]
        assert await disputes.open_disputes(w["sid"]) == [] and await disputes.open_disputes(w["eva"]) == []
        with pytest.raises(ServiceError) as other:
            await disputes.decide(w["sid"], opened.id, "upheld")
        assert other.value.code in ("not_found", "forbidden")
        with pytest.raises(ServiceError) as qa:
            await disputes.decide(w["eva"], opened.id, "upheld")
        assert qa.value.code == "forbidden"
        for outcome, value, note, field in (("maybe", None, "", "outcome"), (None, None, "", "outcome"),
                                            ("changed", None, "", "new_value"), ("changed", "7", "", "new_value"),
                                            ("changed", "yes", "x" * 2001, "note"), ("changed", "yes", 3, "note")):
            with pytest.raises(ServiceError) as bad:
                await disputes.decide(w["sue"], opened.id, outcome, value, note)
            assert (bad.value.code, bad.value.field) == ("bad_request", field)
        for missing in (999999, "1", None, True):
            with pytest.raises(ServiceError) as gone:
                await disputes.decide(w["sue"], missing, "upheld")
            assert gone.value.code == "not_found"
        assert await QualityEvent.filter(kind="decided").count() == 0

        decided = await disputes.decide(w["sue"], opened.id, "changed", "yes", "Fair: the greeting is there.")
        assert decided.outcome == "changed"
        await e.refresh_from_db()
        assert (e.score, e.critical_failed, e.agent_state) == (87.5, False, "decided")  # (1 + 1 + 2×0.75) ÷ 4
        assert (await evaluations.answers_of(e.id))["c1"] == {"value": "yes", "automatic": False, "note": ""}
        event = await QualityEvent.get(kind="decided")
        assert (event.data["score_before"], event.data["score"], event.data["old_value"]) == (62.5, 87.5, "no")
        with pytest.raises(ServiceError) as final:
            await disputes.decide(w["ada"], opened.id, "upheld")
        assert final.value.code == "conflict"

        # A second dispute, decided "changed" to a critical "no": the score is 0 and the failure shown.
        second = await disputes.dispute(w["cora"], e.id, "c2", "Order number checked by the bot")
        await disputes.decide(w["ada"], second.id, "changed", "no")
        await e.refresh_from_db()
        assert (e.score, e.critical_failed) == (0.0, True)
        acknowledged = await disputes.acknowledge(w["cora"], e.id)
        assert acknowledged.agent_state == "acknowledged"
        with pytest.raises(ServiceError):
            await disputes.acknowledge(w["cora"], e.id)
        with pytest.raises(ServiceError) as late:
            await disputes.dispute(w["cora"], e.id, "c3", "Too late")
        assert late.value.code == "conflict"
        assert await QualityEvent.filter(kind="acknowledged").count() == 1
        assert await Dispute.all().count() == 2


async def concurrent_decisions(deployment) -> None:
    w = await world(deployment)
    e = w["evaluation"]
    opened = await disputes.dispute(w["cora"], e.id, "c3", "It was solved")
    outcomes = await asyncio.gather(disputes.decide(w["sue"], opened.id, "changed", "5"),
                                    disputes.decide(w["ada"], opened.id, "changed", "1"),
                                    disputes.decide(w["ada"], opened.id, "upheld"), return_exceptions=True)
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and all(isinstance(x, ServiceError) and x.code == "conflict" for x in lost), outcomes
    assert await QualityEvent.filter(kind="decided").count() == 1
    await e.refresh_from_db()
    expected = {"5": 75.0, "1": 25.0, None: 62.5}[won[0].new_value]  # c3 → 1.0 / 0.0 / 0.75 (weight 2)
    assert e.score == expected


async def test_concurrent_decisions_one_wins_on_sqlite(center):
    async with database(center):
        await concurrent_decisions(center)


@pytest.fixture
def pg_center(new_postgres_database):
    deployment = deploy(database_url=new_postgres_database(), redis_url=None, processes=0)
    yield deployment
    deployment.stop()


async def test_concurrent_decisions_one_wins_on_postgresql(pg_center):
    for email, role in PEOPLE:
        await add_user(pg_center, email, role)
    async with database(pg_center):
        await concurrent_decisions(pg_center)


# ---- over HTTP: the result page's forms ------------------------------------------------------------


async def browser(base: str, email: str, password: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(base_url=base)
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await http.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    account = await http.get("/account")  # the signed-in session's token
    return http, re.search(r'name="csrf_token" value="([^"]+)"', account.text).group(1)


async def test_the_forms_refuse_bad_input_and_other_peoples_ids(center):
    async with database(center):
        w = await world(center)
    e = w["evaluation"]
    async with serve(center) as server:
        cora, token = await browser(server.url, "cora@example.com", center.password)
        carl, carl_token = await browser(server.url, "carl@example.com", center.password)
        sue, sue_token = await browser(server.url, "sue@example.com", center.password)
        try:
            page = await cora.get(f"/quality/evaluations/{e.id}")
            assert page.status_code == 200
            assert "Acknowledge" in page.text and "Dispute" in page.text and "62.5" in page.text
            assert "Automatic" in page.text
            # Another CSR: 404 like a missing id; posting to it stores nothing.
            assert (await carl.get(f"/quality/evaluations/{e.id}")).status_code == 404
            assert (await carl.get("/quality/evaluations/999999")).status_code == 404
            hidden = await carl.post(f"/quality/evaluations/{e.id}/dispute",
                                     data={"csrf_token": carl_token, "criterion": "c1", "comment": "mine?"})
            assert hidden.status_code == 404
            assert (await carl.post(f"/quality/evaluations/{e.id}/acknowledge",
                                    data={"csrf_token": carl_token})).status_code == 404
            # No CSRF token, a wrong one: 403.
            assert (await cora.post(f"/quality/evaluations/{e.id}/dispute",
                                    data={"criterion": "c1", "comment": "x"})).status_code == 403
            assert (await cora.post(f"/quality/evaluations/{e.id}/acknowledge",
                                    data={"csrf_token": "nope"})).status_code == 403
            # Bad fields: 400 with the message beside the field.
            missing = await cora.post(f"/quality/evaluations/{e.id}/dispute", data={"csrf_token": token, "criterion": "c1"})
            assert missing.status_code == 400 and 'id="f-comment-error"' in missing.text
            wrong = await cora.post(f"/quality/evaluations/{e.id}/dispute",
                                    data={"csrf_token": token, "criterion": "nope", "comment": "x"})
            assert wrong.status_code == 400 and 'id="f-criterion-error"' in wrong.text
            long = await cora.post(f"/quality/evaluations/{e.id}/dispute",
                                   data={"csrf_token": token, "criterion": "c1", "comment": "x" * 2001})
            assert long.status_code == 400
            huge = await cora.post(f"/quality/evaluations/{e.id}/dispute",
                                   data={"csrf_token": token, "criterion": "c1", "comment": "x" * 70000})
            assert huge.status_code == 413
            # Visitor-like text in a comment comes back as text.
            made = await cora.post(f"/quality/evaluations/{e.id}/dispute",
                                   data={"csrf_token": token, "criterion": "c1", "comment": "<b>I did</b> greet"})
            assert made.status_code == 303
            page = await sue.get(f"/quality/evaluations/{e.id}")
            assert "&lt;b&gt;I did&lt;/b&gt; greet" in page.text and "Decide" in page.text
            async with database(center):
                dispute = await Dispute.get(evaluation_id=e.id)
            assert (await sue.get("/quality/disputes")).text.count(f"/quality/evaluations/{e.id}") == 1
            assert (await cora.get("/quality/disputes")).status_code == 403
            # Deciding: the CSR may not (403 beside the form), bad outcome/value 400, unknown dispute 404.
            own = await cora.post(f"/quality/disputes/{dispute.id}/decide",
                                  data={"csrf_token": token, "outcome": "changed", "new_value": "yes"})
            assert own.status_code == 403
            for data in ({"outcome": "perhaps"}, {"outcome": "changed"}, {"outcome": "changed", "new_value": "9"}):
                bad = await sue.post(f"/quality/disputes/{dispute.id}/decide", data={"csrf_token": sue_token, **data})
                assert bad.status_code == 400, data
            assert (await sue.post("/quality/disputes/999999/decide",
                                   data={"csrf_token": sue_token, "outcome": "upheld"})).status_code == 404
            async with database(center):
                assert await QualityEvent.filter(kind="decided").count() == 0
                assert await Dispute.all().count() == 1
            done = await sue.post(f"/quality/disputes/{dispute.id}/decide",
                                  data={"csrf_token": sue_token, "outcome": "changed", "new_value": "yes", "note": "ok"})
            assert done.status_code == 303
            page = await cora.get(f"/quality/evaluations/{e.id}")
            assert "87.5" in page.text and "Acknowledge" in page.text
            async with database(center):
                assert (await Evaluation.get(id=e.id)).score == 87.5
        finally:
            for client in (cora, carl, sue):
                await client.aclose()
