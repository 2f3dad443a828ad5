"""A scripted history for the CSR scorecard tests (integration and Chromium), written straight into a
deployment's database: a new CSR (Nell, started two weeks before this week), a veteran (Vera, started 400
days ago) and a teammate who is no veteran (Tom, three weeks), all in one department; their chats with
their event-log rows, status events, shifts, evaluations and a coaching session.

Weeks: A = the Monday two weeks before this week's Monday (Nell's tenure week 0), B = the week after
(her tenure week 1). Only the Mondays have activity. Each day: Available 09:00–17:00 UTC but Away
12:00–12:30 (27 000 s Available, 28 800 s signed in), a shift 09:00–17:00 (adherence 27 000 ÷ 28 800 =
0.9375). The figures each test expects are computed by hand in `EXPECTED` below (docs/kpis.md)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from app.models import CoachingSession, Department, Evaluation, Site, User
from app.services import admin, scorecards
from app.services.quality_demo import ChatScript, DayScript, write_history
from tests.support.inprocess import database


def mondays(today: date | None = None) -> tuple[date, date, date]:
    today = today or datetime.now(timezone.utc).date()
    this = today - timedelta(days=today.weekday())
    return this - timedelta(days=14), this - timedelta(days=7), this


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=timezone.utc)


# Week A, by hand:
# Nell: 3 chats — first responses 60, 40, 20 s (mean 40); handles 600, 1000, 200 s (AHT 600); ratings good,
#   bad (CSAT 1/2 = 0.5); the second chat's visitor comes back at 14:00 (FCR 2/3 = 0.6667); chat time
#   1800 s, idle 27000 − 1800 = 25200 s → occupancy 1800 ÷ 27000 = 0.0667; 3 chats ÷ 8 h = 0.375 per hour;
#   QA: evaluations of 80 and 60 (mean 70; a calibration evaluation of 0 does not count).
# Vera: 4 chats — first responses 10, 20, 20, 30 (20); handles 300 each (AHT 300); good, good, good, bad
#   (0.75); FCR 1; occupancy 1200 ÷ 27000 = 0.0444; 4 ÷ 8 = 0.5 per hour; QA 95.
# Tom: 1 chat — first response 30, handle 400, good; FCR 1; occupancy 400 ÷ 27000 = 0.0148; 0.125; no QA.
# Team median (Nell, Vera, Tom): QA 82.5 (70, 95), CSAT 0.75, first response 30, AHT 400, FCR 1,
#   occupancy 0.0444, adherence 0.9375, chats per hour 0.375.
# Week B: Nell only — first responses 30, 20 (25); handles 500, 500 (500); good, good (1); FCR 1;
#   occupancy 1000 ÷ 27000 = 0.037; 2 ÷ 8 = 0.25; QA 90. Vera is away all week: no veterans' figure.
EXPECTED = {
    "nell_a": {"qa_score": 70.0, "csat": 0.5, "first_response_seconds": 40.0, "aht_seconds": 600.0, "fcr": 0.6667,
               "occupancy": 0.0667, "adherence": 0.9375, "chats_per_hour": 0.375},
    "vera_a": {"qa_score": 95.0, "csat": 0.75, "first_response_seconds": 20.0, "aht_seconds": 300.0, "fcr": 1.0,
               "occupancy": 0.0444, "adherence": 0.9375, "chats_per_hour": 0.5},
    "team_a": {"qa_score": 82.5, "csat": 0.75, "first_response_seconds": 30.0, "aht_seconds": 400.0, "fcr": 1.0,
               "occupancy": 0.0444, "adherence": 0.9375, "chats_per_hour": 0.375},
    "nell_b": {"qa_score": 90.0, "csat": 1.0, "first_response_seconds": 25.0, "aht_seconds": 500.0, "fcr": 1.0,
               "occupancy": 0.037, "adherence": 0.9375, "chats_per_hour": 0.25},
}


async def script(deployment, tag: str) -> dict:
    """Write the history; return the users' ids, the department id and the Mondays."""
    week_a, week_b, this = mondays()
    async with database(deployment, runtime=True):
        site = await Site.get(key=deployment.site_key)
        department = await Department.create(site=site, name=f"Support {tag}")
        made = {}
        for key, role, name in (("nell", "agent", f"Nell New {tag}"), ("vera", "agent", f"Vera Veteran {tag}"),
                                ("tom", "agent", f"Tom Teammate {tag}"), ("sue", "supervisor", f"Sue Supervisor {tag}"),
                                ("quinn", "qa", f"Quinn Evaluator {tag}"), ("hal", "handler", f"Hal Backoffice {tag}"),
                                ("ada", "admin", f"Ada Admin {tag}")):
            email = f"{key}-{tag}@example.com"
            made[key] = await admin.create_user(email, deployment.password, role, name)
            deployment.users[email] = {"id": made[key].id, "email": email, "role": role}
        for key in ("nell", "vera", "tom", "sue"):
            await department.users.add(made[key])
        today = datetime.now(timezone.utc).date()
        await User.filter(id=made["nell"].id).update(started_on=week_a)
        await User.filter(id=made["vera"].id).update(started_on=today - timedelta(days=400))
        await User.filter(id=made["tom"].id).update(started_on=week_a - timedelta(days=7))
        day = DayScript(week_a)
        nell_a = await write_history(site, made["nell"], [
            ChatScript(at(week_a, 10), 10, 60, 600, "good", f"v1-{tag}"),
            ChatScript(at(week_a, 11), 10, 40, 1000, "bad", f"v2-{tag}"),
            ChatScript(at(week_a, 14), 10, 20, 200, None, f"v2-{tag}"),
        ], [day], department)
        vera_a = await write_history(site, made["vera"], [
            ChatScript(at(week_a, 9, 30), 5, 10, 300, "good"), ChatScript(at(week_a, 10, 30), 5, 20, 300, "good"),
            ChatScript(at(week_a, 13), 5, 20, 300, "good"), ChatScript(at(week_a, 15), 5, 30, 300, "bad"),
        ], [day], department)
        await write_history(site, made["tom"], [ChatScript(at(week_a, 10), 5, 30, 400, "good")], [day], department)
        nell_b = await write_history(site, made["nell"], [
            ChatScript(at(week_b, 10), 10, 30, 500, "good"), ChatScript(at(week_b, 11), 10, 20, 500, "good"),
        ], [DayScript(week_b)], department)

        _, version = await scorecards.save(made["ada"], name=f"Chat quality {tag}", sections=[
            {"title": "All", "criteria": [{"label": "Greets", "weight": 1}, {"label": "Verifies", "critical": True}]}])

        async def evaluation(conversation, score, calibration=None):
            from app.models import CalibrationSession

            session = None
            if calibration:
                session = await CalibrationSession.create(name=f"Calibration {tag}", scorecard_version=version,
                                                          conversation_ids=[conversation.id])
            return await Evaluation.create(
                conversation=conversation, scorecard_version=version, evaluator=made["quinn"],
                agent_id=conversation.agent_id, department_id=department.id, calibration=session,
                solo=None if session else conversation.id, status="submitted", score=score,
                critical_failed=score == 0, started_at=conversation.closed_at, submitted_at=conversation.closed_at)

        evaluations = [await evaluation(nell_a[0], 80.0), await evaluation(nell_a[1], 60.0),
                       await evaluation(nell_a[2], 0.0, calibration=True), await evaluation(vera_a[0], 95.0),
                       await evaluation(nell_b[0], 90.0)]
        await CoachingSession.create(agent=made["nell"], coach=made["sue"], held_on=week_b,
                                     topics=f"Verify the order number first {tag}", goals="Every order verified",
                                     follow_up_on=week_b + timedelta(days=14), evaluation_ids=[evaluations[1].id])
    return {"ids": {k: u.id for k, u in made.items()}, "emails": {k: u.email for k, u in made.items()},
            "names": {k: u.display_name for k, u in made.items()}, "department": department.id,
            "week_a": week_a, "week_b": week_b, "this": this, "evaluations": [e.id for e in evaluations]}
