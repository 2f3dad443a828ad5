"""KPI inputs recorded by the services and read back through the reports: notes left through the
offline form in the missed-chats report, after-chat work in AHT, and schedule conformance."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.test_kpi_report import signed_in
from tests.integration.test_offline_messages import closed_day_hours, department
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli, deploy


@pytest.fixture(scope="module")
def center():
    deployment = deploy(database_url=None, redis_url=None, processes=1)
    deployment.create_user("chief@example.com", "supervisor", "Chief")
    yield deployment
    deployment.stop()


def window() -> dict[str, str]:
    today = datetime.now(timezone.utc).date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}


async def test_notes_left_through_the_offline_form_are_missed_chats_by_cause(center):
    d = center
    d.create_user("nia@example.com", "agent", "Nia")
    # Nia and the desk's supervisor stay Offline; the supervisor's are both queues (a supervisor
    # reads the reports of their departments: app/services/scope.py).
    d.create_user("desk-chief@example.com", "supervisor", "Desk chief")
    staffed = department(d, "Nobody in", "nia@example.com", "desk-chief@example.com")
    closed = department(d, "Night desk", "nia@example.com", "desk-chief@example.com", hours=closed_day_hours())
    http = await signed_in(d, "desk-chief@example.com")

    async def note(department_id: int, visitor=None) -> int:
        visitor = visitor or await clients.visitor(d.server.url, d.site_key, d.origin)
        ack = await visitor.call("leave_message", {"email": "v@example.org", "body": "Call me",
                                                   "department_id": department_id})
        assert ack["ok"], ack
        await visitor.disconnect()
        return ack["id"]

    await note(staffed)
    await note(closed)
    # A visitor who waits in the queue, then leaves a note instead: one missed chat, the note's cause.
    waiting = await clients.visitor(d.server.url, d.site_key, d.origin)
    ack = await waiting.call("message", {"client_id": new_id(), "body": "Anyone?", "department_id": staffed})
    assert ack["ok"], ack
    await note(staffed, waiting)

    missed = (await http.get("/api/reports/missed", params=window())).json()
    causes = sorted((r["queue"], r["cause"], r["conversation"]) for r in missed["rows"])
    assert causes == sorted([
        ("Nobody in", "No agent online — left a note (offline form)", None),
        ("Night desk", "Outside business hours — left a note (offline form)", None),
        ("Nobody in", "Left a note (offline form) instead of waiting", ack["conversation_id"]),
    ])
    # The department filter applies to notes too, and the CSV carries the cause.
    night = (await http.get("/api/reports/missed", params={**window(), "department": str(closed),
                                                           "format": "csv"})).text
    lines = list(csv.reader(io.StringIO(night)))
    assert lines[0] == ["When", "Chat", "Queue", "Cause", "Waited", "CSR"]
    assert [(r[1], r[2], r[3]) for r in lines[1:]] == [
        ("", "Night desk", "Outside business hours — left a note (offline form)")]
    # The abandoned chat still counts once in the summary, as an abandon.
    summary = (await http.get("/api/reports/summary", params={**window(), "department": str(staffed)})).json()
    assert summary["headline"]["abandoned"] + summary["headline"]["short_abandons"] == 1
    await http.aclose()


async def _aht(http, agent_id: int) -> float:
    summary = (await http.get("/api/reports/summary", params={**window(), "agent": str(agent_id)})).json()
    return summary["headline"]["aht_seconds"]


async def test_after_chat_work_is_added_to_the_chats_handle_time(center):
    d = center
    wes = d.create_user("wes@example.com", "agent", "Wes")
    agent = await clients.agent(d.server.url, "wes@example.com", d.password)
    await agent.call("set_status", {"status": "available"})
    visitor = await clients.visitor(d.server.url, d.site_key, d.origin)
    cid = (await visitor.call("message", {"client_id": new_id(), "body": "Help"}))["conversation_id"]
    await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == cid)
    assert (await agent.call("close", {"conversation_id": cid}))["ok"]
    http = await signed_in(d, "chief@example.com")
    talk = await _aht(http, wes["id"])  # close − answer, no wrap-up yet
    assert talk is not None

    assert (await agent.call("set_status", {"status": "away", "reason": "After-chat work"}))["ok"]
    assert await _aht(http, wes["id"]) == talk  # still in after-chat work: nothing recorded yet
    await asyncio.sleep(1.2)  # scenario timing: the after-chat work is the input
    assert (await agent.call("set_status", {"status": "available"}))["ok"]

    states = (await http.get("/api/reports/states", params={**window(), "agent": str(wes["id"])})).json()["rows"]
    wrap = [r for r in states if r["state"] == "away" and r["reason"] == "After-chat work"]
    assert len(wrap) == 1 and wrap[0]["seconds"] >= 1.2
    assert await _aht(http, wes["id"]) == pytest.approx(talk + wrap[0]["seconds"], abs=0.11)

    # A second After-chat work with no chat closed since adds nothing (the chat has its wrap-up).
    with_wrap = await _aht(http, wes["id"])
    assert (await agent.call("set_status", {"status": "away", "reason": "After-chat work"}))["ok"]
    assert (await agent.call("set_status", {"status": "available"}))["ok"]
    assert await _aht(http, wes["id"]) == with_wrap
    await http.aclose()
    await agent.call("set_status", {"status": "offline"})
    await agent.disconnect()
    await visitor.disconnect()


async def test_schedule_conformance_in_the_agents_report(center):
    d = center
    cy = d.create_user("cy@example.com", "agent", "Cy")
    http = await signed_in(d, "chief@example.com")
    params = {**window(), "agent": str(cy["id"])}
    report = (await http.get("/api/reports/agents", params=window())).json()
    assert "conformance" not in [c["key"] for c in report["columns"]]  # no schedule yet

    agent = await clients.agent(d.server.url, "cy@example.com", d.password)
    await agent.call("set_status", {"status": "available"})
    # Scenario timing: ready time, then a break (each long enough that a busy machine's delays
    # keep the conformance near 3 / 7).
    await asyncio.sleep(3.0)
    await agent.call("set_status", {"status": "away", "reason": "Break"})
    await asyncio.sleep(3.0)
    await agent.call("set_status", {"status": "offline"})
    await agent.disconnect()
    states = (await http.get("/api/reports/states", params=params)).json()["rows"]
    ready = next(r for r in states if r["state"] == "available")
    offline_at = datetime.fromisoformat([r for r in states if r["state"] == "offline"][-1]["from"])
    ready_from, ready_to = datetime.fromisoformat(ready["from"]), datetime.fromisoformat(ready["to"])
    # Scheduled from 1 s before Cy became Available until Cy signed off.
    start = ready_from - timedelta(seconds=1)
    shift = json.loads(cli(d.env, "schedule", "--user", "cy@example.com", "--start", start.isoformat(),
                           "--end", offline_at.isoformat(), "--json"))
    listed = json.loads(cli(d.env, "schedule", "--user", "cy@example.com", "--list", "--json"))
    assert [s["id"] for s in listed] == [shift["id"]]

    scheduled = (offline_at - start).total_seconds()
    expected = (ready_to - ready_from).total_seconds() / scheduled
    report = (await http.get("/api/reports/agents", params=params)).json()
    row = next(r for r in report["rows"] if r["agent"] == "Cy")
    assert row["scheduled_seconds"] == pytest.approx(scheduled, abs=0.1)
    assert row["conformance"] == pytest.approx(expected, abs=1e-3)
    assert 0.25 < row["conformance"] < 0.7  # about 3 s ready of about 7 s scheduled
    exported = list(csv.reader(io.StringIO(
        (await http.get("/api/reports/agents", params={**params, "format": "csv"})).text)))
    assert exported[0][-2:] == ["Scheduled", "Conformance"]
    assert exported[1][0] == "Cy" and float(exported[1][-1]) == row["conformance"]
    await http.aclose()


def test_the_schedule_command_refuses_bad_shifts(center):
    import subprocess
    import sys

    from tests.support.server import ROOT

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app", "schedule", *args], cwd=ROOT, env=center.env,
                              capture_output=True, text=True, timeout=60)

    center.create_user("dot@example.com", "agent", "Dot")
    ok = run("--user", "dot@example.com", "--start", "2026-03-02T09:00", "--end", "2026-03-02T17:00")
    assert ok.returncode == 0 and "dot@example.com" in ok.stdout
    for args, message in (
        (("--start", "2026-03-02T16:00", "--end", "2026-03-02T18:00"), "overlaps"),
        (("--start", "2026-03-03T10:00", "--end", "2026-03-03T09:00"), "end after it starts"),
        (("--start", "2026-03-03T10:00", "--end", "2026-03-05T09:00"), "at most 24 hours"),
        (("--start", "tomorrow", "--end", "2026-03-03T09:00"), "ISO date-time"),
        (("--start", "2026-03-03T10:00"), "--start and --end"),
    ):
        result = run("--user", "dot@example.com", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    assert run("--user", "nobody@example.com", "--list").returncode == 2
