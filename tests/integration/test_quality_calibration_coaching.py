"""Calibration sessions and coaching against a real database and over HTTP: evaluators score the same
chats blind (each sees only their own answers until the session closes; its lead sees every answer, the
spread and sets the agreed answer), the deviation report and its CSV; coaching sessions created and
edited by a CSR's supervisor, read by the CSR, hidden from other CSRs (404); bad input on every form
(400 beside the field, nothing stored)."""

from __future__ import annotations

import csv
import io

import pytest

from app.models import CalibrationSession, CoachingSession, Evaluation, QualityEvent, ScorecardVersion, User
from app.services import ServiceError, calibration, coaching, evaluations
from tests.integration.test_quality_disputes import PEOPLE, browser, closed_chat, world
from tests.support.inprocess import add_user, database, prepare, serve


@pytest.fixture
async def center():
    deployment = await prepare()
    for email, role in PEOPLE + (("ed@example.com", "qa"),):
        await add_user(deployment, email, role)
    yield deployment
    deployment.stop()


async def calibrated(center) -> dict:
    """Ada leads a session on two of Cora's chats scored by Eva and Ed."""
    w = await world(center)
    w["ed"] = await User.get(email="ed@example.com")
    chats = [(await closed_chat(w["site"], w["cora"], w["returns"])).id for _ in range(2)]
    version = await ScorecardVersion.get(id=w["evaluation"].scorecard_version_id)
    session = await calibration.create(w["ada"], "March calibration", version.id, chats, [w["eva"].id, w["ed"].id])
    return {**w, "chats": chats, "session": session, "version": version}


async def test_blind_scoring_spread_agreed_answers_and_deviation(center):
    async with database(center):
        w = await calibrated(center)
        s, (one, two) = w["session"], w["chats"]
        # Bad input stores nothing.
        for args, field in ((("", w["version"].id, [one], [w["eva"].id, w["ed"].id]), "name"),
                            (("x" * 101, w["version"].id, [one], [w["eva"].id, w["ed"].id]), "name"),
                            (("S", 999999, [one], [w["eva"].id, w["ed"].id]), "scorecard_version_id"),
                            (("S", w["version"].id, [], [w["eva"].id, w["ed"].id]), "conversation_ids"),
                            (("S", w["version"].id, ["1"], [w["eva"].id, w["ed"].id]), "conversation_ids"),
                            (("S", w["version"].id, [999999], [w["eva"].id, w["ed"].id]), "conversation_ids"),
                            (("S", w["version"].id, [one], [w["eva"].id]), "evaluator_ids"),
                            (("S", w["version"].id, [one], [w["eva"].id, w["cora"].id]), "evaluator_ids"),
                            (("S", w["version"].id, [one], [w["eva"].id, w["sid"].id]), "evaluator_ids")):
            with pytest.raises(ServiceError) as bad:
                await calibration.create(w["ada"], *args)
            assert (bad.value.code, bad.value.field) == ("bad_request", field), args
        with pytest.raises(ServiceError) as csr:
            await calibration.create(w["cora"], "S", w["version"].id, [one], [w["eva"].id, w["ed"].id])
        assert csr.value.code == "forbidden"
        assert await CalibrationSession.all().count() == 1
        for stranger in (w["cora"], w["sid"]):
            with pytest.raises(ServiceError) as hidden:
                await calibration.get(stranger, s.id)
            assert hidden.value.code == "not_found"

        answers = {"eva": ({"c1": "yes", "c2": "yes", "c3": "5"}, {"c1": "yes", "c2": "yes", "c3": "3"}),
                   "ed": ({"c1": "no", "c2": "yes", "c3": "3"}, {"c1": "yes", "c2": "yes", "c3": "3"})}
        for name, (first, second) in answers.items():
            for chat, given in ((one, first), (two, second)):
                draft = await calibration.start(w[name], s.id, chat)
                assert draft.calibration_id == s.id and draft.scorecard_version_id == w["version"].id
                await evaluations.submit(w[name], draft.id, given)
        with pytest.raises(ServiceError) as outsider:
            await calibration.start(w["ada"], s.id, one)  # the lead is no evaluator here
        assert outsider.value.code == "forbidden"
        with pytest.raises(ServiceError) as other_chat:
            await calibration.start(w["eva"], s.id, 999999)
        assert other_chat.value.field == "conversation_id"
        # The solo evaluation of the chat is not blocked by calibration ones (and vice versa).
        assert await Evaluation.filter(calibration_id=s.id).count() == 4

        # Blind: Eva sees only her column while the session is open; Ada sees both and the spread.
        blind = await calibration.table(w["eva"], s, leads=False)
        assert [uid for uid, _ in blind["people"]] == [w["eva"].id] and not blind["reveal"]
        full = await calibration.table(w["ada"], s, leads=True)
        first = full["chats"][0]
        c1 = next(line for line in first["lines"] if line["criterion"]["key"] == "c1")
        assert c1["answers"] == {w["ed"].id: "no", w["eva"].id: "yes"} and c1["spread"].agreement == 0.5
        c3 = next(line for line in first["lines"] if line["criterion"]["key"] == "c3")
        assert (c3["spread"].range, c3["spread"].stdev) == (2, 1.0)
        assert first["score_spread"] == 50.0  # Eva 100, Ed 50 (c1 no: 0 + 1 + 2×0.5 of 4)

        for bad, field in (({"c1": "maybe"}, "agreed-c1"), ({"zz": "yes"}, "answers"), ("yes", "answers")):
            with pytest.raises(ServiceError) as refused:
                await calibration.set_agreed(w["ada"], s.id, one, bad)
            assert refused.value.field == field
        with pytest.raises(ServiceError) as not_lead:
            await calibration.set_agreed(w["eva"], s.id, one, {"c1": "yes"})
        assert not_lead.value.code == "forbidden"
        await calibration.set_agreed(w["ada"], s.id, one, {"c1": "yes", "c2": "yes", "c3": "4"})
        await calibration.set_agreed(w["ada"], s.id, two, {"c1": "yes", "c2": "yes", "c3": "3"})
        assert (await CalibrationSession.get(id=s.id)).agreed[str(one)] == {"c1": "yes", "c2": "yes", "c3": "4"}
        assert await QualityEvent.filter(kind="calibration_agreed").count() == 2

        report = {r["evaluator_id"]: r for r in await calibration.deviation_report(w["ada"], "month")}
        # Agreed 87.5 and 75. Eva: c3 5≠4 → 1 of 6; |100−87.5| + |75−75| → 6.25 → 6.2.
        assert (report[w["eva"].id]["differing"], report[w["eva"].id]["answers"]) == (1, 6)
        # Ed: c1 no≠yes, c3 3≠4 → 2 of 6; |50−87.5| + 0 → 18.75.
        assert report[w["ed"].id]["differing"] == 2 and report[w["ed"].id]["mean_score_gap"] == 18.8

        await calibration.close(w["ada"], s.id)
        with pytest.raises(ServiceError) as closed:
            await calibration.close(w["ada"], s.id)
        assert closed.value.code == "conflict"
        revealed = await calibration.table(w["eva"], await CalibrationSession.get(id=s.id), leads=False)
        assert len(revealed["people"]) == 2 and revealed["reveal"]


async def test_coaching_by_a_csrs_supervisor_read_by_the_csr(center):
    async with database(center):
        w = await world(center)
        e = w["evaluation"]
        good = {"agent_id": w["cora"].id, "held_on": "2026-03-02", "topics": "Greeting <script>x</script>",
                "goals": "Greet in the first message", "follow_up_on": "2026-03-16", "evaluation_ids": [e.id]}
        for change, field in (({"agent_id": "1"}, "agent_id"), ({"agent_id": w["carl"].id}, "agent_id"),
                              ({"agent_id": w["sue"].id}, "agent_id"), ({"held_on": ""}, "held_on"),
                              ({"held_on": "2026-02-30"}, "held_on"), ({"held_on": 5}, "held_on"),
                              ({"follow_up_on": "2026-03-01"}, "follow_up_on"), ({"topics": ""}, "topics"),
                              ({"topics": "x" * 4001}, "topics"), ({"goals": ["x"]}, "goals"),
                              ({"evaluation_ids": [999999]}, "evaluation_ids"),
                              ({"evaluation_ids": "1"}, "evaluation_ids")):
            with pytest.raises(ServiceError) as bad:
                await coaching.create(w["sue"], {**good, **change})
            assert (bad.value.code, bad.value.field) == ("bad_request", field), change
        for who in (w["cora"], w["eva"]):
            with pytest.raises(ServiceError) as refused:
                await coaching.create(who, good)
            assert refused.value.code == "forbidden"
        assert await CoachingSession.all().count() == 0 and await QualityEvent.filter(kind="coached").count() == 0

        made = await coaching.create(w["sue"], good)
        assert (await QualityEvent.get(kind="coached")).agent_id == w["cora"].id
        assert [r["id"] for r in await coaching.sessions(w["cora"])] == [made.id]
        assert await coaching.sessions(w["carl"]) == [] and await coaching.sessions(w["sid"]) == []
        for stranger in (w["carl"], w["sid"]):
            with pytest.raises(ServiceError) as hidden:
                await coaching.get(stranger, made.id)
            assert hidden.value.code == "not_found"
        with pytest.raises(ServiceError) as own:
            await coaching.change(w["cora"], made.id, good)
        assert own.value.code == "forbidden"
        later = await coaching.create(w["ada"], {**good, "held_on": "2026-03-20", "follow_up_on": ""})
        # Follow-ups due first (on 17 March the first session's is due), then latest first.
        rows = await coaching.sessions(w["sue"], today=__import__("datetime").date(2026, 3, 17))
        assert [r["id"] for r in rows] == [made.id, later.id] and rows[0]["due"]
        changed = await coaching.change(w["sue"], made.id, {**good, "goals": "Greet and close"})
        assert changed.goals == "Greet and close"
        assert await QualityEvent.filter(kind="coaching_edited").count() == 1


async def test_calibration_and_coaching_pages_over_http(center):
    async with database(center):
        w = await calibrated(center)
    s, (one, _) = w["session"], w["chats"]
    async with serve(center) as server:
        ada, ada_token = await browser(server.url, "ada@example.com", center.password)
        eva, eva_token = await browser(server.url, "eva@example.com", center.password)
        cora, cora_token = await browser(server.url, "cora@example.com", center.password)
        carl, carl_token = await browser(server.url, "carl@example.com", center.password)
        sue, sue_token = await browser(server.url, "sue@example.com", center.password)
        try:
            page = await ada.get("/quality/calibration")
            assert page.status_code == 200 and "March calibration" in page.text and "New calibration session" in page.text
            assert (await cora.get("/quality/calibration")).status_code == 403
            assert (await cora.get(f"/quality/calibration/{s.id}")).status_code == 404
            assert (await ada.get("/quality/calibration/999999")).status_code == 404
            # Creating: no token 403; bad fields 400 beside them; nothing stored.
            assert (await ada.post("/quality/calibration", data={"name": "x"})).status_code == 403
            for data, marker in (({"name": "", "scorecard_version_id": str(w["version"].id)}, "f-name-error"),
                                 ({"name": "N", "scorecard_version_id": "abc", "conversation_ids": [str(one)],
                                   "evaluator_ids": [str(w["eva"].id), str(w["ed"].id)]}, "f-scorecard-version-id-error"),
                                 ({"name": "N", "scorecard_version_id": str(w["version"].id),
                                   "conversation_ids": ["x"], "evaluator_ids": [str(w["eva"].id)]}, "f-chats-error"),
                                 ({"name": "N", "scorecard_version_id": str(w["version"].id),
                                   "conversation_ids": [str(one)], "evaluator_ids": [str(w["eva"].id)]},
                                  "f-evaluators-error")):
                bad = await ada.post("/quality/calibration", data={"csrf_token": ada_token, **data})
                assert bad.status_code == 400 and marker in bad.text, (data, bad.status_code)
            async with database(center):
                assert await CalibrationSession.all().count() == 1
            made = await ada.post("/quality/calibration", data={
                "csrf_token": ada_token, "name": "Second", "scorecard_version_id": str(w["version"].id),
                "conversation_ids": [str(one)], "evaluator_ids": [str(w["eva"].id), str(w["ed"].id)]})
            assert made.status_code == 303 and made.headers["location"].startswith("/quality/calibration/")
            # An evaluator starts their calibration evaluation: to the evaluation form.
            started = await eva.post(f"/quality/calibration/{s.id}/start",
                                     data={"csrf_token": eva_token, "conversation_id": str(one)})
            assert started.status_code == 303 and started.headers["location"].startswith("/quality/evaluations/")
            assert (await carl.post(f"/quality/calibration/{s.id}/start",
                                    data={"csrf_token": carl_token, "conversation_id": str(one)})).status_code == 404
            bad_agreed = await ada.post(f"/quality/calibration/{s.id}/agreed",
                                        data={"csrf_token": ada_token, "conversation_id": str(one), "agreed-c1": "7"})
            assert bad_agreed.status_code == 400
            assert (await eva.post(f"/quality/calibration/{s.id}/agreed", data={
                "csrf_token": eva_token, "conversation_id": str(one), "agreed-c1": "yes"})).status_code == 403
            agreed = await ada.post(f"/quality/calibration/{s.id}/agreed",
                                    data={"csrf_token": ada_token, "conversation_id": str(one), "agreed-c1": "yes"})
            assert agreed.status_code == 303
            report = await ada.get("/quality/calibration/deviation.csv?period=month")
            assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
            assert next(csv.reader(io.StringIO(report.text)))[0] == "period_start"
            assert (await ada.get("/quality/calibration/deviation.csv?period=year")).status_code == 400

            # Coaching: Sue for Cora; Carl sees nothing of it (404); Cora reads it, cannot edit it.
            assert (await sue.get("/quality/coaching")).status_code == 200
            bad = await sue.post("/quality/coaching", data={"csrf_token": sue_token, "agent_id": str(w["cora"].id),
                                                              "held_on": "not a date", "topics": "x"})
            assert bad.status_code == 400 and "f-held-on-error" in bad.text
            other = await sue.post("/quality/coaching", data={"csrf_token": sue_token, "agent_id": str(w["carl"].id),
                                                               "held_on": "2026-03-02", "topics": "x"})
            assert other.status_code == 400 and "f-agent-id-error" in other.text
            assert (await cora.post("/quality/coaching", data={"csrf_token": cora_token, "agent_id": str(w["cora"].id),
                                                               "held_on": "2026-03-02", "topics": "x"})).status_code == 403
            huge = await sue.post("/quality/coaching", data={"csrf_token": sue_token, "agent_id": str(w["cora"].id),
                                                              "held_on": "2026-03-02", "topics": "x" * 70000})
            assert huge.status_code == 413
            long = await sue.post("/quality/coaching", data={"csrf_token": sue_token, "agent_id": str(w["cora"].id),
                                                              "held_on": "2026-03-02", "topics": "x" * 4001})
            assert long.status_code == 400 and "f-topics-error" in long.text
            assert (await sue.post("/quality/coaching", data={"agent_id": str(w["cora"].id), "held_on": "2026-03-02",
                                                              "topics": "x"})).status_code == 403  # no CSRF token
            async with database(center):
                assert await CoachingSession.all().count() == 0
            made = await sue.post("/quality/coaching", data={
                "csrf_token": sue_token, "agent_id": str(w["cora"].id), "held_on": "2026-03-02",
                "topics": "Greeting", "goals": "Greet first", "follow_up_on": "2026-03-16",
                "evaluation_ids": [str(w["evaluation"].id)]})
            assert made.status_code == 303
            path = made.headers["location"].split("?")[0]
            assert "Greet first" in (await cora.get(path)).text
            assert (await carl.get(path)).status_code == 404
            assert "Greeting" not in (await carl.get("/quality/coaching")).text
            assert (await cora.post(path, data={"csrf_token": cora_token, "held_on": "2026-03-02",
                                                "topics": "mine now"})).status_code == 403
            assert (await carl.post(path, data={"csrf_token": carl_token, "held_on": "2026-03-02",
                                                "topics": "mine now"})).status_code == 404
            edited = await sue.post(path, data={"csrf_token": sue_token, "held_on": "2026-03-02", "topics": "Greeting",
                                                "goals": "Greet and close", "evaluation_ids": ["abc"]})
            assert edited.status_code == 400
            edited = await sue.post(path, data={"csrf_token": sue_token, "held_on": "2026-03-02", "topics": "Greeting",
                                                "goals": "Greet and close"})
            assert edited.status_code == 303
            async with database(center):
                assert (await CoachingSession.get()).goals == "Greet and close"
        finally:
            for client in (ada, eva, cora, carl, sue):
                await client.aclose()
