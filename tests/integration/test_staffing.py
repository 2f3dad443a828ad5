"""Workforce planning over HTTP: /staffing.csv and /staffing for supervisors and admins, bad
parameters refused with a message, and the figures of a seeded history."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.kpi import erlang
from app import runtime
from app.kpi.planning import StaffingTargets, to_csv
from app.models import Conversation, ConversationEvent, Site, User, Visitor
from app.reports.planning import PlanCache, staffing_plan
from tests.support.inprocess import database
from tests.support.server import deploy

ZONE = "America/New_York"
WEEKS = 8
# Every day of the history, four chats at 10:00, 10:05, 10:10 and 10:15 (local), each waiting
# QUEUE = 10 s and lasting 600 s with one CSR: AHT 600 s, concurrency 2,400 / 1,500 = 1.6.
OFFSETS_MINUTES = (0, 5, 10, 15)
QUEUE = 10
HANDLE = 600
CONCURRENCY = 2400 / 1500


async def seed_history(deployment, *, weeks: int = WEEKS, zone: str = ZONE, tag: str = "h", hour: int = 10) -> None:
    """Write `weeks` weeks of closed chats (4 a day at `hour`:00 local) into the deployment's event log."""
    tz = ZoneInfo(zone)
    today = datetime.now(timezone.utc).astimezone(tz).date()
    async with database(deployment):
        site = await Site.get(key=deployment.site_key)
        agent = await User.get(email="agent@example.com")
        i = 0
        for back in range(1, weeks * 7 + 1):
            day = today - timedelta(days=back)
            for minutes in OFFSETS_MINUTES:
                requested = datetime(day.year, day.month, day.day, hour, minutes, tzinfo=tz).astimezone(timezone.utc)
                assigned = requested + timedelta(seconds=QUEUE)
                closed = assigned + timedelta(seconds=HANDLE)
                visitor = await Visitor.create(id=f"v_seed_{tag}_{i}", site=site, first_seen=requested,
                                               last_seen=closed, visit_count=1)
                conversation = await Conversation.create(
                    site=site, visitor=visitor, agent=agent, status="closed", requested_at=requested,
                    assigned_at=assigned, closed_at=closed, closed_by="agent")
                rows = [("requested", requested, None, {}), ("queued", requested, None, {}),
                        ("assigned", assigned, agent.id, {"queue_seconds": QUEUE}),
                        ("closed", closed, agent.id, {"by": "agent"})]
                await ConversationEvent.bulk_create([
                    ConversationEvent(conversation=conversation, site=site, agent_id=agent_id, kind=kind, at=at,
                                      data=data)
                    for kind, at, agent_id, data in rows
                ])
                i += 1


@pytest.fixture(scope="module")
async def planned():
    """A center of its own (SQLite; nothing shared) with a seeded history, in New York time."""
    deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env={"CENTER_TIME_ZONE": ZONE})
    deployment.create_user("admin@example.com", "admin", "Ada Admin")
    await seed_history(deployment)
    yield deployment
    deployment.stop()


@contextlib.asynccontextmanager
async def signed_in(deployment, email: str | None):
    async with httpx.AsyncClient(base_url=deployment.server.url, follow_redirects=False, timeout=60) as http:
        if email is not None:
            page = await http.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            response = await http.post("/login", data={"email": email, "password": deployment.password,
                                                       "csrf_token": csrf})
            assert response.status_code == 303, response.text
        yield http


def rows_of(response: httpx.Response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_only_supervisors_and_admins_get_the_plan(planned):
    async with signed_in(planned, None) as http:
        for path in ("/staffing", "/staffing.csv"):
            response = await http.get(path)
            assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"
    for email in ("agent@example.com", "marketer@example.com"):
        async with signed_in(planned, email) as http:
            for path in ("/staffing", "/staffing.csv"):
                response = await http.get(path)
                assert response.status_code == 403, (email, path)
                assert response.text == "Workforce planning is for supervisors and admins."
    for email in ("boss@example.com", "admin@example.com"):
        async with signed_in(planned, email) as http:
            response = await http.get("/staffing.csv")
            assert response.status_code == 200, email
            assert response.headers["content-type"].startswith("text/csv")
            assert response.headers["content-disposition"].startswith('attachment; filename="staffing-')


async def test_the_csv_staffs_the_seeded_history(planned):
    async with signed_in(planned, "boss@example.com") as http:
        response = await http.get("/staffing.csv")
    rows = rows_of(response)
    assert len(rows) == 336
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(ZONE)).date()
    assert rows[0]["slot_start_local"] == f"{today.isoformat()} 00:00"
    busy = [r for r in rows if r["slot_start_local"].endswith(" 10:00")]
    assert len(busy) == 7
    expected = erlang.required_agents(4, 1800, HANDLE / CONCURRENCY, 0.8, 20, max_occupancy=0.85, shrinkage=0.3)
    for row in busy:
        local = datetime.fromisoformat(row["slot_start_utc"]).astimezone(ZoneInfo(ZONE))
        assert (local.hour, local.minute) == (10, 0)
        assert float(row["forecast_chats"]) == pytest.approx(4)
        assert (int(row["agents"]), int(row["staff"])) == (expected.agents, expected.staff)
        assert float(row["service_level"]) == pytest.approx(expected.service_level, abs=1e-4)
        assert float(row["occupancy"]) == pytest.approx(expected.occupancy, abs=1e-4)
    quiet = [r for r in rows if not r["slot_start_local"].endswith(" 10:00")]
    assert all(float(r["forecast_chats"]) == 0 and r["agents"] == "0" and r["service_level"] == "" for r in quiet)


async def test_parameters_change_the_plan(planned):
    async with signed_in(planned, "boss@example.com") as http:
        lean = rows_of(await http.get("/staffing.csv", params={"shrinkage": "0", "service_level": "95",
                                                                 "threshold": "10", "max_occupancy": "100",
                                                                 "weeks": "4"}))
    busy = next(r for r in lean if r["slot_start_local"].endswith(" 10:00"))
    expected = erlang.required_agents(4, 1800, HANDLE / CONCURRENCY, 0.95, 10, max_occupancy=1.0, shrinkage=0.0)
    assert (int(busy["agents"]), int(busy["staff"])) == (expected.agents, expected.agents)


@pytest.mark.parametrize("params, message", [
    ({"service_level": "abc"}, "Service-level target (%): 'abc' is not a number."),
    ({"service_level": "100"}, "The service-level target must be above 0 % and below 100 %."),
    ({"service_level": "nan"}, "Service-level target (%): must be a finite number."),
    ({"threshold": "-1"}, "The threshold must be between 0 and 3,600 seconds."),
    ({"max_occupancy": "0"}, "The maximum occupancy must be above 0 % and at most 100 %."),
    ({"shrinkage": "100"}, "Shrinkage must be at least 0 % and below 100 %."),
    ({"weeks": "1"}, "The history must be 2 to 26 weeks."),
    ({"weeks": "2.5"}, "History (weeks): must be a whole number."),
    ({"shrinkage": "1" * 100}, "Shrinkage (%): too long."),
    ({"department": "3"}, "Unknown parameter: department."),
    ({"model": "erlang_b"}, "Queueing model: choose Erlang C or Erlang A."),
    ({"model": "erlang_a", "max_abandon": "0"}, "The maximum abandonment must be above 0 % and below 100 %."),
    ({"model": "erlang_a", "max_abandon": "150"}, "The maximum abandonment must be above 0 % and below 100 %."),
    ({"max_abandon": "five"}, "Erlang A: maximum abandonment (%): 'five' is not a number."),
    ({"model": "erlang_a", "patience": "0"}, "The mean patience must be above 0 and at most 3,600 seconds."),
])
async def test_bad_parameters_are_refused_with_a_message(planned, params, message):
    async with signed_in(planned, "boss@example.com") as http:
        response = await http.get("/staffing.csv", params=params)
        assert response.status_code == 400 and response.text == message
        page = await http.get("/staffing", params=params)
        assert page.status_code == 400
        alert = re.search(r'<p class="st-error" role="alert">([^<]*)</p>', page.text).group(1)
        assert alert == message.replace("'", "&#39;")


async def test_the_page_shows_the_methods_the_model_and_the_days(planned):
    async with signed_in(planned, "boss@example.com") as http:
        response = await http.get("/staffing")
    assert response.status_code == 200
    html = response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script src="/static/staffing.js" defer></script>' in html and "<script>" not in html
    methods = re.search(r'<tbody>(.*?)</tbody>', html, re.S).group(1)
    used = re.findall(r'<tr class="st-used">\s*<th scope="row">([^<]+)</th>', methods)
    assert used == ["Seasonal naive (same slot last week)"]  # the baselines are exact on this history
    assert "Holt-Winters smoothing (statsmodels)" in methods
    assert "0.0 %" in methods
    assert "600 s over 224 chats" in html
    assert "1.60 chats at once" in html and "(measured from history)" in html
    assert "AHT / concurrency = 375 s" in html
    data = json.loads(re.search(r'<script type="application/json" id="staffing-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["labels"]) == 336 and data["can_staff"] is True and max(data["volume"]) == pytest.approx(4)
    assert ('href="/staffing.csv?service_level=80&amp;threshold=20&amp;max_occupancy=85&amp;shrinkage=30&amp;weeks=8'
            '&amp;model=erlang_c&amp;max_abandon=5&amp;patience=120"') in html
    # The model choice, labelled, Erlang C by default (today's plan), and the per-half-hour figures.
    form = re.search(r'<form method="get" action="/staffing".*?</form>', html, re.S).group(0)
    assert re.search(r'<span>Queueing model</span>\s*<select name="model">', form)
    assert re.search(r'<option value="erlang_c" selected>Erlang C \(nobody abandons\)</option>', form)
    assert '<option value="erlang_a">Erlang A (visitors abandon)</option>' in form
    assert "<span>Erlang A: maximum abandonment (%)</span>" in form and 'name="max_abandon" value="5"' in form
    assert "Erlang C per half hour" in html
    slots = re.search(r'<h2 id="slots-heading">By half hour</h2>.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert slots.count("<tr>") == 7 and "none (Erlang C)" in slots


async def test_erlang_a_plans_within_the_abandonment_limit(planned):
    # 4 chats at 10:00 (A = 4 × 375 / 1,800 = 0.83 erlangs), visitors' patience 30 s.
    params = {"model": "erlang_a", "patience": "30", "max_abandon": "2", "shrinkage": "0", "max_occupancy": "100"}
    aht = HANDLE / CONCURRENCY
    expected = erlang.required_agents(4, 1800, aht, 0.8, 20, max_occupancy=1.0, shrinkage=0.0, patience=30,
                                      max_abandon=0.02)
    assert expected.prob_abandon <= 0.02 and expected.agents >= 1
    # The limit binds: the service level alone would do with fewer agents.
    assert erlang.required_agents(4, 1800, aht, 0.8, 20, max_occupancy=1.0, patience=30,
                                  max_abandon=None).agents < expected.agents
    async with signed_in(planned, "boss@example.com") as http:
        rows = rows_of(await http.get("/staffing.csv", params=params))
        page = await http.get("/staffing", params=params)
    busy = [r for r in rows if r["slot_start_local"].endswith(" 10:00")]
    assert len(busy) == 7
    for row in busy:
        assert int(row["agents"]) == expected.agents
        assert float(row["abandonment"]) == pytest.approx(expected.prob_abandon, abs=1e-4)
        assert float(row["occupancy"]) == pytest.approx(expected.occupancy, abs=1e-4)
    assert page.status_code == 200
    assert re.search(r'<option value="erlang_a" selected>', page.text)
    assert "Erlang A per half hour (visitors abandon after 30 s on average)" in page.text
    slots = re.search(r'<h2 id="slots-heading">.*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
    assert f"{expected.prob_abandon * 100:.2f} %" in slots and f"{expected.occupancy * 100:.1f} %" in slots


async def test_the_plan_is_cached_until_the_history_changes():
    deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env={"CENTER_TIME_ZONE": ZONE})
    try:
        await seed_history(deployment, weeks=2)
        # In the process: the same inputs and history give the very same plan, read from the cache.
        async with database(deployment, runtime=True):
            targets = StaffingTargets(weeks=2)
            first = await staffing_plan(time_zone=ZONE, targets=targets, concurrency_override=None)
            again = await staffing_plan(time_zone=ZONE, targets=targets, concurrency_override=None)
            cache = runtime.current().state(PlanCache)
            assert again is first and (cache.hits, cache.misses) == (1, 1)
            fresh = await staffing_plan(time_zone=ZONE, targets=targets, concurrency_override=None, use_cache=False)
            assert fresh is not first and to_csv(fresh) == to_csv(first)
            erlang_a = await staffing_plan(time_zone=ZONE, targets=StaffingTargets(weeks=2, model="erlang_a"),
                                           concurrency_override=None)
            assert erlang_a is not first and cache.misses == 2  # other inputs, another plan
            await seed_history(deployment, weeks=1, tag="late", hour=14)  # the history changes
            changed = await staffing_plan(time_zone=ZONE, targets=targets, concurrency_override=None)
            assert changed is not first and cache.misses == 3
            assert to_csv(changed) == to_csv(await staffing_plan(time_zone=ZONE, targets=targets,
                                                                 concurrency_override=None, use_cache=False))
            assert max(s.volume for s in changed.slots if s.label.endswith(" 14:00")) > 0
        # Over HTTP: the server's own cache gives the same plan twice, and a new plan once chats are added.
        async with signed_in(deployment, "boss@example.com") as http:
            before = await http.get("/staffing.csv", params={"weeks": "2"})
            assert (await http.get("/staffing.csv", params={"weeks": "2"})).text == before.text
            await seed_history(deployment, weeks=1, tag="evening", hour=18)
            after = rows_of(await http.get("/staffing.csv", params={"weeks": "2"}))
        assert all(float(r["forecast_chats"]) == 0 for r in rows_of(before) if r["slot_start_local"].endswith(" 18:00"))
        assert any(float(r["forecast_chats"]) > 0 for r in after if r["slot_start_local"].endswith(" 18:00"))
    finally:
        deployment.stop()


async def test_a_center_without_history_gets_an_empty_state():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    try:
        async with signed_in(deployment, "boss@example.com") as http:
            page = await http.get("/staffing")
            assert page.status_code == 200
            assert "No chats to forecast from yet" in page.text and 'id="staffing-chart"' not in page.text
            rows = rows_of(await http.get("/staffing.csv"))
            assert len(rows) == 336 and all(r["agents"] == "0" for r in rows)
    finally:
        deployment.stop()


async def test_the_concurrency_setting_overrides_the_measurement():
    deployment = deploy(database_url=None, redis_url=None, processes=1,
                        extra_env={"CENTER_TIME_ZONE": ZONE, "STAFFING_CONCURRENCY": "1"})
    try:
        await seed_history(deployment, weeks=2)
        async with signed_in(deployment, "boss@example.com") as http:
            page = await http.get("/staffing", params={"weeks": "2"})
            assert "(set by STAFFING_CONCURRENCY; measured 1.60)" in page.text
            assert "AHT / concurrency = 600 s" in page.text
            rows = rows_of(await http.get("/staffing.csv", params={"weeks": "2"}))
        busy = next(r for r in rows if r["slot_start_local"].endswith(" 10:00"))
        expected = erlang.required_agents(4, 1800, HANDLE, 0.8, 20, max_occupancy=0.85, shrinkage=0.3)
        assert int(busy["agents"]) == expected.agents
    finally:
        deployment.stop()
