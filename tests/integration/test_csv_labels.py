"""The CSV downloads of Reports, Staffing and the trail explorer keep their header of stable names as
the first row; `labels=1` adds, before it, a row of the columns' names in the user's language
(docs/kpis.md "CSV downloads"). Any other value of `labels` is refused with a 400 that says so."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from app.kpi.planning import CSV_COLUMNS
from tests.support.clients import new_id
from tests.support.db import execute
from tests.support.server import deploy

REPORT = "/api/reports/queues?format=csv"
KNOWLEDGE = "/api/reports/knowledge_unanswered?format=csv"
STAFFING = "/staffing.csv?weeks=2"
EXPLORER = "/api/explorer/visits?format=csv"
URLS = (REPORT, KNOWLEDGE, STAFFING, EXPLORER)


@pytest.fixture(scope="module")
def site():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    yield deployment
    deployment.stop()


async def signed_in(d, language: str | None) -> httpx.AsyncClient:
    email = f"sup-{new_id()[:8]}@example.com"
    d.create_user(email, "supervisor", "Sam Supervisor")
    if language:
        await execute(d, "UPDATE app_user SET language = ? WHERE email = ?", language, email)
    http = httpx.AsyncClient(base_url=d.server.url, headers={"accept-language": "en-US"})
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert (await http.post("/login", data={"email": email, "password": d.password,
                                            "csrf_token": token})).status_code == 303
    return http


async def rows(http: httpx.AsyncClient, url: str) -> list[list[str]]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


async def test_without_the_option_the_header_is_the_same_for_an_english_and_a_chinese_user(site):
    english, chinese = await signed_in(site, None), await signed_in(site, "zh-CN")
    try:
        for url in URLS:
            assert (await rows(english, url))[0] == (await rows(chinese, url))[0], url
            assert (await rows(english, url + "&labels=0"))[0] == (await rows(english, url))[0], url
        assert (await rows(english, REPORT))[0][:3] == ["Queue", "Offered", "Answered"]
        assert (await rows(english, KNOWLEDGE))[0] == ["query", "searches", "last_searched"]
        assert (await rows(english, STAFFING))[0] == list(CSV_COLUMNS)
        assert (await rows(english, EXPLORER))[0][:3] == ["Started", "Visitor", "Visit"]
    finally:
        await english.aclose()
        await chinese.aclose()


async def test_labels_1_adds_the_column_names_in_english_before_the_unchanged_header(site):
    http = await signed_in(site, None)
    try:
        for url in URLS:
            plain, labelled = await rows(http, url), await rows(http, url + "&labels=1")
            assert labelled[1:] == plain, url  # the machine header second, then the same rows
        assert (await rows(http, REPORT + "&labels=1"))[0][:3] == ["Queue", "Offered", "Answered"]
        assert (await rows(http, KNOWLEDGE + "&labels=1"))[0] == ["Search", "Searches", "Last searched"]
        assert (await rows(http, STAFFING + "&labels=1"))[0][:3] == ["Slot start (local time)", "Slot start (UTC)",
                                                                     "Forecast chats"]
        assert (await rows(http, EXPLORER + "&labels=1"))[0][:3] == ["Started", "Visitor", "Visit"]
    finally:
        await http.aclose()


async def test_labels_1_adds_the_column_names_in_chinese_for_a_chinese_user(site):
    http = await signed_in(site, "zh-CN")
    try:
        for url in URLS:
            plain, labelled = await rows(http, url), await rows(http, url + "&labels=1")
            assert labelled[1:] == plain, url
        assert (await rows(http, REPORT + "&labels=1"))[0][:3] == ["队列", "进线", "已接听"]
        assert (await rows(http, KNOWLEDGE + "&labels=1"))[0] == ["搜索", "搜索次数", "最近搜索时间"]
        assert (await rows(http, STAFFING + "&labels=1"))[0][:3] == ["时段开始（本地时间）", "时段开始（UTC）", "预测对话数"]
        assert (await rows(http, EXPLORER + "&labels=1"))[0][:3] == ["开始时间", "访客", "访问"]
        # The page's JSON speaks the user's language too; its keys stay.
        queues = (await http.get("/api/reports/queues")).json()
        assert queues["title"] == "队列" and [c["key"] for c in queues["columns"]][:2] == ["queue", "offered"]
    finally:
        await http.aclose()


@pytest.mark.parametrize("value", ["2", "yes", "true", "-1", "1 "])
async def test_any_other_value_of_labels_is_refused_with_a_message(site, value):
    http = await signed_in(site, None)
    try:
        for url in URLS:
            response = await http.get(url, params={"labels": value})
            assert response.status_code == 400, url
            message = response.text if url == STAFFING else response.json()["error"]["message"]
            assert message == "'labels' must be 0 or 1.", url
    finally:
        await http.aclose()


async def test_the_charts_profiles_have_their_csv_too(site):
    """The 24-hour and day-of-week profiles (charts on the reports page) as CSV: machine names, every
    hour and day listed, and `labels=1` adds their names in the user's language."""
    english, chinese = await signed_in(site, None), await signed_in(site, "zh-CN")
    try:
        hours = await rows(english, "/api/reports/traffic_hours?format=csv")
        assert hours[0] == ["hour", "offered"] and [r[0] for r in hours[1:]] == [str(h) for h in range(24)]
        days = await rows(english, "/api/reports/traffic_weekdays?format=csv")
        assert days[0] == ["weekday", "offered"]
        assert [r[0] for r in days[1:]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        assert (await rows(english, "/api/reports/traffic_hours?format=csv&labels=1"))[:2] == [
            ["Hour", "Chats"], ["hour", "offered"]]
        named = await rows(chinese, "/api/reports/traffic_weekdays?format=csv&labels=1")
        assert named[1] == ["weekday", "offered"] and named[0] != named[1] and named[2][0] == "Mon"
        assert all(not re.search("[A-Za-z]", cell) for cell in named[0]), named[0]
        shown = (await chinese.get("/api/reports/traffic_hours")).json()
        assert shown["title"] != "24-hour profile" and len(shown["rows"]) == 24
        assert (await english.get("/api/reports/traffic_hours", params={"labels": "x", "format": "csv"})).status_code == 400
    finally:
        await english.aclose()
        await chinese.aclose()
