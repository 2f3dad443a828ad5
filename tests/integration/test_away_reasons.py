"""Away with a reason code: the reasons come from a list admins keep; each change is a status
event with its reason, shown on the live board."""

from __future__ import annotations

import json

from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import cli


def code(ack) -> str | None:
    return None if ack.get("ok") else ack["error"]["code"]


async def test_away_with_a_reason_from_the_list(deployment):
    tag = new_id()[:6]
    deployment.create_user(f"rae-{tag}@example.com", "agent", f"Rae {tag}")
    deployment.create_user(f"sue-{tag}@example.com", "supervisor", f"Sue {tag}")
    rae = await clients.agent(deployment.servers[0].url, f"rae-{tag}@example.com", deployment.password)
    sue = await clients.agent(deployment.servers[-1].url, f"sue-{tag}@example.com", deployment.password)
    try:
        reasons = (await rae.call("away_reasons", {}))["reasons"]
        assert "Meal" in reasons and "After-chat work" in reasons
        ack = await rae.call("set_status", {"status": "away", "reason": "Meal"})
        assert ack["ok"] and ack["status"] == "away" and ack["reason"] == "Meal"
        await rae.rec.wait_for("status", lambda s: s["status"] == "away" and s["reason"] == "Meal")
        board = await sue.call("board", {})
        row = next(a for a in board["agents"] if a["name"] == f"Rae {tag}")
        assert row["status"] == "away" and row["reason"] == "Meal"
        # Back to Available clears the reason.
        ack = await rae.call("set_status", {"status": "available"})
        assert ack["reason"] is None
        # Refused: a reason not on the list, a reason with another state, wrong types, oversize.
        for payload in ({"status": "away", "reason": "Nap"}, {"status": "available", "reason": "Meal"},
                        {"status": "away", "reason": 5}, {"status": "away", "reason": "disconnected"}):
            assert code(await rae.call("set_status", payload)) == "bad_request", payload
        assert code(await rae.call("set_status", {"status": "away", "reason": "x" * 65})) == "too_large"
        assert (await rae.call("set_status", {"status": "offline"}))["ok"]
        for payload in ([], "x", 3):
            assert code(await rae.call("away_reasons", payload)) == "bad_request"
        assert rae.connected
    finally:
        await rae.disconnect()
        await sue.disconnect()


def test_admins_edit_the_list_from_the_command_line(sqlite_deployment):
    env = sqlite_deployment.env
    before = json.loads(cli(env, "away-reasons", "--json"))
    try:
        assert json.loads(cli(env, "away-reasons", "--set", "Coffee", "Coaching", "--json")) == ["Coffee", "Coaching"]
        assert json.loads(cli(env, "away-reasons", "--json")) == ["Coffee", "Coaching"]
    finally:
        cli(env, "away-reasons", "--set", *before)


def test_a_bad_list_is_refused(sqlite_deployment):
    import subprocess
    import sys

    from tests.support.server import ROOT

    for bad in (["Meal", "meal"], [""], ["x" * 65]):
        result = subprocess.run([sys.executable, "-m", "app", "away-reasons", "--set", *bad], cwd=ROOT,
                                env=sqlite_deployment.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.startswith("error:"), (bad, result.stderr)
