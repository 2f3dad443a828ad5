"""The CSR scorecard's figures on PostgreSQL (a server of its own, two workers): the same scripted history
as tests/integration/test_quality_scorecard.py (SQLite), read back through the API, equal to the figures
computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.clients import new_id
from tests.support.quality_history import EXPECTED, script
from tests.support.server import deploy
from tests.support.web import signed_in

METRICS = tuple(EXPECTED["nell_a"])


@pytest.fixture(scope="module")
def center(new_postgres_database, redis_url):
    deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2)
    yield deployment
    deployment.stop()


async def test_the_scorecard_on_postgres(center):
    d = center
    w = await script(d, new_id()[:6])
    to = (w["week_b"] + timedelta(days=6)).isoformat()
    for server in d.servers:  # every worker answers the same
        async with signed_in(server.url, w["emails"]["sue"], d.password) as sue:
            weekly = (await sue.get(f"/api/quality/scorecard/{w['ids']['nell']}?weeks=2&to={to}")).json()
            a, b = weekly["rows"]
            assert {k: a[k] for k in METRICS} == EXPECTED["nell_a"]
            assert {k: a[k + "_team"] for k in METRICS} == EXPECTED["team_a"]
            assert {k: b[k] for k in METRICS} == EXPECTED["nell_b"]
            curve = (await sue.get(f"/api/quality/scorecard/{w['ids']['nell']}?view=tenure&to={to}")).json()
            assert {k: curve["rows"][0][k + "_veterans"] for k in METRICS} == EXPECTED["vera_a"]
            team = (await sue.get(f"/api/quality/team?weeks=2&to={to}")).json()
            assert len(team["rows"]) == 3 and team["median"]["adherence"] == 0.9375
