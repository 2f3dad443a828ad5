"""Who reaches which quality page (docs/quality.md "Where the pages are"): marketers and back-office staff
none of them; a CSR only My scorecard and their coaching (the evaluators' pages refuse them); a `qa`
user every evaluator's page but Disputes; nobody signed out. One deployment, every page by GET, so a new
page that forgets its check shows up here."""

from __future__ import annotations

import httpx
import pytest

from tests.support.inprocess import add_user, prepare, serve
from tests.support.web import signed_in

EVALUATOR_PAGES = ["/quality", "/quality/scorecards", "/quality/sampling", "/quality/calibration",
                   "/quality/team", "/quality/reports", "/api/quality/team"]
SUPERVISOR_PAGES = ["/quality/disputes"]
CSR_PAGES = ["/quality/scorecard", "/quality/coaching"]
REFUSED = (403, 404)


@pytest.fixture(scope="module")
async def center():
    deployment = await prepare()
    for email, role in (("qa-access@example.com", "qa"), ("handler-access@example.com", "handler"),
                        ("admin-access@example.com", "admin")):
        await add_user(deployment, email, role)
    async with serve(deployment) as server:
        yield deployment, server.url
    deployment.stop()


async def statuses(url: str, email: str, password: str, paths: list[str]) -> dict[str, int]:
    async with signed_in(url, email, password) as http:
        return {path: (await http.get(path, follow_redirects=False)).status_code for path in paths}


@pytest.mark.parametrize("email", ["marketer@example.com", "handler-access@example.com"])
async def test_marketers_and_back_office_reach_no_quality_page(center, email):
    d, url = center
    found = await statuses(url, email, d.password, EVALUATOR_PAGES + SUPERVISOR_PAGES + CSR_PAGES)
    assert {p: s for p, s in found.items() if s not in REFUSED} == {}


async def test_a_csr_reaches_their_own_pages_only(center):
    d, url = center
    found = await statuses(url, "agent@example.com", d.password, EVALUATOR_PAGES + SUPERVISOR_PAGES + CSR_PAGES)
    assert {p: s for p in EVALUATOR_PAGES + SUPERVISOR_PAGES if (s := found[p]) not in REFUSED} == {}
    assert {p: found[p] for p in CSR_PAGES} == {p: 200 for p in CSR_PAGES}


async def test_evaluators_reach_the_evaluators_pages(center):
    d, url = center
    qa = await statuses(url, "qa-access@example.com", d.password, EVALUATOR_PAGES + SUPERVISOR_PAGES)
    assert {p: qa[p] for p in EVALUATOR_PAGES} == {p: 200 for p in EVALUATOR_PAGES}
    assert qa["/quality/disputes"] in REFUSED
    for email in ("boss@example.com", "admin-access@example.com"):
        found = await statuses(url, email, d.password, EVALUATOR_PAGES + SUPERVISOR_PAGES)
        assert found == {p: 200 for p in EVALUATOR_PAGES + SUPERVISOR_PAGES}, email


async def test_signed_out_visitors_are_sent_to_sign_in(center):
    _, url = center
    async with httpx.AsyncClient(base_url=url) as http:
        for path in EVALUATOR_PAGES[:-1] + SUPERVISOR_PAGES + CSR_PAGES:
            response = await http.get(path, follow_redirects=False)
            assert response.status_code in (303, 401, 403) and "/login" in response.headers.get("location", "/login"), path
