"""The evaluation service against a real database: one evaluation per chat outside calibration (two
evaluators starting together get one draft and one refusal), the score and its event in one write,
the chat leaving the queue, and who may read an evaluation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.models import Conversation, QualityEvent, SampleItem, Site, User, Visitor
from app.services import ServiceError, evaluations, scorecards
from tests.support.clients import new_id
from tests.support.inprocess import add_user, database, prepare

SECTIONS = [{"title": "Opening", "criteria": [
    {"label": "Greets the visitor", "weight": 1},
    {"label": "Verifies the order number", "critical": True, "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]


@pytest.fixture
async def center():
    deployment = await prepare()
    for email, role in (("eva@example.com", "qa"), ("ed@example.com", "qa"), ("cora@example.com", "agent"),
                        ("carl@example.com", "agent"), ("sue@example.com", "supervisor"),
                        ("mark@example.com", "marketer"), ("ada@example.com", "admin")):
        await add_user(deployment, email, role)
    yield deployment
    deployment.stop()


async def closed_chat(site: Site, agent: User) -> Conversation:
    visitor = await Visitor.create(id=new_id(), site=site, first_seen=utcnow(), last_seen=utcnow())
    at = utcnow() - timedelta(hours=1)
    return await Conversation.create(site=site, visitor=visitor, agent=agent, status="closed", requested_at=at,
                                     assigned_at=at, closed_at=at + timedelta(minutes=5), closed_by="agent")


async def test_one_evaluation_per_chat_scored_as_documented(center):
    async with database(center):
        site = await Site.get(key=center.site_key)
        admin = await User.get(email="ada@example.com")
        eva, ed, cora, carl, sue, mark = [await User.get(email=f"{n}@example.com")
                                          for n in ("eva", "ed", "cora", "carl", "sue", "mark")]
        with pytest.raises(ServiceError) as refused:
            await scorecards.save(eva, name="QA", sections=SECTIONS)
        assert refused.value.code == "forbidden"  # a qa user does not change scorecards
        card, version = await scorecards.save(admin, name="Chat quality", sections=SECTIONS)
        assert version.number == 1
        chat = await closed_chat(site, cora)
        await SampleItem.create(conversation=chat, agent=cora, evaluator=eva, reason="random", week=utcnow().date())

        first, second = await asyncio.gather(evaluations.start(eva, chat.id), evaluations.start(ed, chat.id),
                                             return_exceptions=True)
        outcomes = sorted(type(x).__name__ for x in (first, second))
        assert outcomes == ["Evaluation", "ServiceError"], (first, second)
        evaluation = first if not isinstance(first, Exception) else second
        evaluator = eva if evaluation.evaluator_id == eva.id else ed
        assert (await evaluations.start(evaluator, chat.id)).id == evaluation.id  # their own draft again

        with pytest.raises(ServiceError) as missing:
            await evaluations.submit(evaluator, evaluation.id, {"c1": "yes", "c2": "yes"})
        assert missing.value.field == "c3"
        with pytest.raises(ServiceError):
            await evaluations.submit(evaluator, evaluation.id, {"c1": "yes", "c2": "yes", "c3": "9"})
        assert await QualityEvent.filter(kind="submitted").count() == 0  # nothing half-stored

        done = await evaluations.submit(evaluator, evaluation.id, {"c1": "no", "c2": "yes", "c3": "4"},
                                        automatic=["c1"])
        assert (done.score, done.critical_failed) == (62.5, False)  # 100 × (0 + 1 + 2×0.75) ÷ 4
        event = await QualityEvent.get(kind="submitted", evaluation_id=evaluation.id)
        assert event.data["score"] == 62.5 and event.agent_id == cora.id
        assert (await evaluations.answers_of(evaluation.id))["c1"] == {"value": "no", "automatic": True, "note": ""}
        assert await SampleItem.filter(conversation_id=chat.id, status="open").count() == 0
        with pytest.raises(ServiceError):
            await evaluations.submit(evaluator, evaluation.id, {"c1": "yes", "c2": "yes", "c3": "5"})

        # Who reads it: the CSR evaluated, evaluators, the CSR's supervisor (admin here) — not another CSR
        # nor a marketer, who get `not_found` as for an id that does not exist.
        for reader in (cora, eva, ed, admin):
            assert (await evaluations.get(reader, evaluation.id)).id == evaluation.id
        for stranger in (carl, mark):
            with pytest.raises(ServiceError) as hidden:
                await evaluations.get(stranger, evaluation.id)
            assert hidden.value.code == "not_found"
        with pytest.raises(ServiceError) as again:
            await evaluations.start(eva, chat.id)
        assert again.value.code == "conflict"


async def test_a_critical_no_scores_zero_and_a_new_version_keeps_the_old_evaluations(center):
    async with database(center):
        site = await Site.get(key=center.site_key)
        admin = await User.get(email="ada@example.com")
        eva, cora = await User.get(email="eva@example.com"), await User.get(email="cora@example.com")
        card, v1 = await scorecards.save(admin, name="Chat quality", sections=SECTIONS)
        evaluation = await evaluations.start(eva, (await closed_chat(site, cora)).id)
        done = await evaluations.submit(eva, evaluation.id, {"c1": "yes", "c2": "no", "c3": "5"})
        assert (done.score, done.critical_failed) == (0.0, True)
        same, unchanged = await scorecards.save(admin, name="Chat quality", sections=SECTIONS, scorecard_id=card.id)
        assert unchanged.id == v1.id
        changed = SECTIONS + [{"title": "Closing", "criteria": [{"label": "Offers more help"}]}]
        _, v2 = await scorecards.save(admin, name="Chat quality", sections=changed, scorecard_id=card.id)
        assert v2.number == 2
        later = await evaluations.start(eva, (await closed_chat(site, cora)).id)
        assert later.scorecard_version_id == v2.id
        await evaluation.refresh_from_db()
        assert evaluation.scorecard_version_id == v1.id
