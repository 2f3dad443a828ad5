"""The CSR scorecard through a real server (in-process, SQLite): a scripted history of a new CSR, a veteran
and a teammate (tests/support/quality_history.py, figures computed by hand there) read back from the API
as JSON and CSV — weekly values against the team median, the tenure curve against the veterans' median,
the team view; who may read whose (a CSR only their own: another's id is 404; marketers and back office
refused); bad parameters → 400 with a message; the start date in Admin → Users."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from app.models import User
from tests.support.clients import new_id
from tests.support.inprocess import database, prepare, serve
from tests.support.quality_history import EXPECTED, script
from tests.support.server import ROOT, cli
from tests.support.web import csrf_of, signed_in

METRICS = ("qa_score", "csat", "first_response_seconds", "aht_seconds", "fcr", "occupancy", "adherence",
           "chats_per_hour")


@pytest.fixture
async def center():
    deployment = await prepare()
    tag = new_id()[:6]
    world = await script(deployment, tag)
    async with serve(deployment) as server:
        yield deployment, server.url, world
    deployment.stop()


def row_of(rows, key, value):
    return next(r for r in rows if r[key] == value)


async def test_weekly_values_and_the_team_median_computed_by_hand(center):
    d, url, w = center
    to = (w["week_b"] + timedelta(days=6)).isoformat()
    async with signed_in(url, w["emails"]["nell"], d.password) as nell:
        weekly = (await nell.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=weekly&weeks=2&to={to}")).json()
        assert [r["week"] for r in weekly["rows"]] == [w["week_a"].isoformat(), w["week_b"].isoformat()]
        a, b = weekly["rows"]
        assert {k: a[k] for k in METRICS} == EXPECTED["nell_a"]
        assert {k: a[k + "_team"] for k in METRICS} == EXPECTED["team_a"]
        assert {k: b[k] for k in METRICS} == EXPECTED["nell_b"]
        assert {k: b[k + "_team"] for k in METRICS} == EXPECTED["nell_b"]  # only Nell worked that week

        response = await nell.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=weekly&weeks=2&to={to}&format=csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        first = row_of(rows, "Week", w["week_a"].isoformat())
        assert first["QA score"] == "70.0" and first["QA score (team median)"] == "82.5"
        assert first["First response time"] == "40.0" and first["AHT (team median)"] == "400.0"
        assert first["Adherence to schedule"] == "0.9375"


async def test_the_tenure_curve_against_the_veterans_median(center):
    d, url, w = center
    to = (w["week_b"] + timedelta(days=6)).isoformat()
    async with signed_in(url, w["emails"]["sue"], d.password) as sue:
        curve = (await sue.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=tenure&to={to}")).json()
        assert curve["start"] == w["week_a"].isoformat() and curve["started_on_set"] is True
        assert curve["veterans"] == 1 and curve["veteran_months"] == 6  # Vera; Tom has three weeks
        assert [r["tenure_week"] for r in curve["rows"]] == [0, 1]
        week0, week1 = curve["rows"]
        assert {k: week0[k] for k in METRICS} == EXPECTED["nell_a"]
        assert {k: week0[k + "_veterans"] for k in METRICS} == EXPECTED["vera_a"]
        assert {k: week1[k] for k in METRICS} == EXPECTED["nell_b"]
        assert all(week1[k + "_veterans"] is None for k in METRICS)  # the veterans had no week that week
        # Veterans from 1 month on: Tom (3 weeks) is still none; from 13 months Vera (400 days) is none either.
        later = (await sue.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=tenure&to={to}&veteran_months=13")).json()
        assert later["veterans"] == 0 and later["rows"][0]["qa_score_veterans"] is None
        page = await sue.get(f"/quality/scorecard/{w['ids']['nell']}?to={to}&veteran_months=13")
        assert "been here more than 13 months: there is no veterans' line." in page.text
        text = (await sue.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=tenure&to={to}&format=csv")).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["Week of tenure"] == "0" and rows[0]["CSAT (veterans)"] == "0.75"

        # The team view: every CSR of Sue's department, and the median over the period.
        team = (await sue.get(f"/api/quality/team?weeks=2&to={to}")).json()
        names = [r["csr"] for r in team["rows"]]
        assert names == sorted([w["names"]["nell"], w["names"]["tom"], w["names"]["vera"]], key=str.casefold)
        nell = row_of(team["rows"], "csr", w["names"]["nell"])
        # Two weeks together: 5 chats, first responses 60 40 20 30 20 → 34; QA 80 60 90 → 76.7.
        assert nell["first_response_seconds"] == 34.0 and nell["qa_score"] == 76.7
        assert team["median"]["adherence"] == 0.9375
        page = await sue.get(f"/quality/team?weeks=2&to={to}")
        assert page.status_code == 200 and "Team scorecard" in page.text and w["names"]["vera"] in page.text
        assert f'/quality/scorecard/{w["ids"]["nell"]}' in page.text
        shown = await sue.get(f"/quality/scorecard/{w['ids']['nell']}?weeks=2&to={to}")
        assert shown.status_code == 200 and "Scorecard of" in shown.text and "Verify the order number first" in shown.text


async def test_who_may_read_whose_scorecard(center):
    d, url, w = center
    nell, vera = w["ids"]["nell"], w["ids"]["vera"]
    async with signed_in(url, w["emails"]["nell"], d.password) as http:
        page = await http.get("/quality/scorecard")
        assert page.status_code == 200 and "<h1" in page.text and "My scorecard" in page.text
        assert f'href="/quality/evaluations/{w["evaluations"][0]}"' in page.text
        assert f'/quality/evaluations/{w["evaluations"][2]}"' not in page.text  # calibration: not hers to see here
        for path in (f"/quality/scorecard/{vera}", f"/api/quality/scorecard/{vera}", f"/api/quality/scorecard/{vera}?format=csv",
                     "/quality/scorecard/999999", "/api/quality/scorecard/999999"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.get("/quality/team")).status_code == 403
        assert (await http.get("/api/quality/team")).status_code == 403
    for who in ("hal", "quinn", "ada"):
        async with signed_in(url, w["emails"][who], d.password) as http:
            answer = await http.get(f"/api/quality/scorecard/{nell}")
            if who == "hal":
                assert answer.status_code == 403 and "scorecard" in answer.json()["error"]["message"]
                assert (await http.get(f"/quality/scorecard/{nell}")).status_code == 403
                assert (await http.get("/quality/scorecard")).status_code == 403
            else:
                assert answer.status_code == 200
                assert (await http.get("/quality/scorecard")).status_code == 303  # to the team view
    async with signed_in(url, "marketer@example.com", d.password) as http:
        assert (await http.get(f"/api/quality/scorecard/{nell}")).status_code == 403
        assert (await http.get("/quality/team")).status_code == 403
    async with signed_in(url, "boss@example.com", d.password) as http:  # a supervisor of no department
        assert (await http.get(f"/api/quality/scorecard/{nell}")).status_code == 404
        assert w["names"]["nell"] not in (await http.get("/quality/team")).text


async def test_bad_parameters_are_refused_with_a_message(center):
    d, url, w = center
    nell = w["ids"]["nell"]
    future = (datetime.now(timezone.utc).date() + timedelta(days=3)).isoformat()
    async with signed_in(url, w["emails"]["nell"], d.password) as http:
        for query, words in (("weeks=0", "'weeks'"), ("weeks=abc", "'weeks'"), ("weeks=53", "'weeks'"),
                             ("to=2026-13-01", "'to'"), (f"to={future}", "future"), ("veteran_months=0", "veteran_months"),
                             ("view=monthly", "'view'"), ("format=xml", "'format'"), ("to=" + "9" * 40, "too long")):
            answer = await http.get(f"/api/quality/scorecard/{nell}?{query}")
            assert answer.status_code == 400 and words in answer.json()["error"]["message"], (query, answer.text)
        page = await http.get("/quality/scorecard?weeks=0")
        assert page.status_code == 400 and "&#39;weeks&#39; must be a whole number" in page.text


async def test_the_start_date_in_admin_users(center):
    d, url, w = center
    today = datetime.now(timezone.utc).date()
    async with signed_in(url, w["emails"]["ada"], d.password) as http:
        page = await http.get("/admin/users")
        token = csrf_of(page.text)
        base = {"csrf_token": token, "name": "Stella Start", "role": "agent", "capacity": ""}
        for value, message in (("2026-02-30", "must be a date"), ("yesterday", "must be a date"),
                               ((today + timedelta(days=2)).isoformat(), "cannot be in the future")):
            refused = await http.post("/admin/users", data={**base, "email": f"stella-{value}@example.com",
                                                             "started_on": value})
            assert refused.status_code == 400
            assert re.search(r'id="f-started-on-error">[^<]*' + message, refused.text), value
        async with database(d):
            assert not await User.filter(display_name="Stella Start").exists()
        made = await http.post("/admin/users", data={**base, "email": "stella@example.com", "started_on": "2025-03-03"})
        assert made.status_code == 200
        async with database(d):
            stella = await User.get(email="stella@example.com")
        assert stella.started_on.isoformat() == "2025-03-03"
        listed = await http.get("/admin/users?q=stella")
        assert '<time datetime="2025-03-03">2025-03-03</time>' in listed.text
        edit = await http.get(f"/admin/users/{stella.id}")
        assert 'name="started_on" type="date" value="2025-03-03"' in edit.text
        saved = await http.post(f"/admin/users/{stella.id}", data={**base, "csrf_token": csrf_of(edit.text),
                                                                   "started_on": ""})
        assert saved.status_code == 303
        async with database(d):
            assert (await User.get(id=stella.id)).started_on is None
        # A quality evaluator takes no chats: no department for them.
        departments = await http.post("/admin/users", data={**base, "email": "q@example.com", "role": "qa",
                                                             "departments": str(w["department"])})
        assert departments.status_code == 400 and "Quality evaluators take no chats" in departments.text
        qa = await http.post("/admin/users", data={**base, "email": "q@example.com", "role": "qa"})
        assert qa.status_code == 200 and "is added as Quality evaluator" in qa.text

    # The command line: the same check.
    made = json.loads(cli(d.env, "create-user", "--email", "cli-start@example.com", "--password", "cli-password",
                          "--started-on", "2025-01-06", "--json"))
    async with database(d):
        assert (await User.get(id=made["id"])).started_on.isoformat() == "2025-01-06"
    refused = subprocess.run([sys.executable, "-m", "app", "create-user", "--email", "cli-late@example.com",
                              "--password", "cli-password", "--started-on", (today + timedelta(days=1)).isoformat()],
                             cwd=ROOT, env=d.env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "cannot be in the future" in refused.stderr
