"""Sign-in throttling that cannot be turned against a user: failures count per (e-mail, address)
pair, per address and per account, and a flood of failures against an account does not keep its
owner out. The address is the peer's, or what a trusted proxy (FORWARDED_ALLOW_IPS) forwarded for;
X-Forwarded-For from anyone else is ignored."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.server import Deployment, deploy


# The limits (failures, per seconds) these deployments are given: the rules at a smaller scale than
# the defaults (5, 50 and 200), so that reaching an account's limit takes tens of attempts, not hundreds.
PAIR_LIMIT, ADDRESS_LIMIT, ACCOUNT_LIMIT = (4, 900.0), (12, 900.0), (24, 3600.0)
LIMITS = {"SIGNIN_FAILURES_PER_PAIR": "4/900", "SIGNIN_FAILURES_PER_ADDRESS": "12/900",
          "SIGNIN_FAILURES_PER_ACCOUNT": "24/3600"}


@pytest.fixture(scope="module")
def trusting() -> Deployment:
    """Behind a proxy on 127.0.0.1 (where the tests connect from): X-Forwarded-For names the address."""
    deployment = deploy(database_url=None, redis_url=None, extra_env={"FORWARDED_ALLOW_IPS": "127.0.0.1", **LIMITS})
    yield deployment
    deployment.stop()


@pytest.fixture(scope="module")
def untrusting() -> Deployment:
    """Its only trusted proxy is elsewhere: the tests' X-Forwarded-For is forged."""
    deployment = deploy(database_url=None, redis_url=None, extra_env={"FORWARDED_ALLOW_IPS": "10.255.255.1", **LIMITS})
    yield deployment
    deployment.stop()


async def sign_in(d: Deployment, email: str, password: str, address: str | None = None) -> int:
    """The status of one sign-in attempt (from `address`, via X-Forwarded-For), in a fresh browser."""
    headers = {"x-forwarded-for": address} if address else {}
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=60, headers=headers) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await http.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
        if response.status_code == 429:
            assert "Too many sign-in attempts" in response.text and int(response.headers["retry-after"]) > 0
        return response.status_code


def victim(d: Deployment) -> str:
    email = f"victim-{new_id()[:8]}@example.com"
    d.create_user(email)
    return email


async def addresses_of(d: Deployment, email: str) -> list[str]:
    rows = await fetch(d, "SELECT s.address FROM staff_session s JOIN app_user u ON u.id = s.user_id "
                          "WHERE u.email = ? ORDER BY s.id", email)
    return [r["address"] for r in rows]


async def test_an_attacker_cannot_lock_the_victim_out(trusting):
    d = trusting
    email = victim(d)
    attacker = "203.0.113.7"
    statuses = [await sign_in(d, email, "guess-" + str(i), attacker) for i in range(20)]
    assert statuses == [401] * PAIR_LIMIT[0] + [429] * (20 - PAIR_LIMIT[0])
    # From the attacker's address even the right password waits; from the victim's it works.
    assert await sign_in(d, email, d.password, attacker) == 429
    assert await sign_in(d, email, d.password, "198.51.100.20") == 303
    assert await addresses_of(d, email) == ["198.51.100.20"]


async def test_one_address_may_fail_only_so_often(trusting):
    d = trusting
    email = victim(d)
    office = "203.0.113.50"
    for i in range(ADDRESS_LIMIT[0]):  # one failure each against many accounts: no pair reaches its limit
        assert await sign_in(d, f"nobody-{i}-{new_id()[:6]}@example.com", "guess", office) == 401
    assert await sign_in(d, f"nobody-{new_id()[:6]}@example.com", "guess", office) == 429
    assert await sign_in(d, email, d.password, office) == 429
    assert await sign_in(d, email, d.password, "203.0.113.51") == 303


async def test_a_locked_account_still_lets_its_owner_in_from_a_clean_address(trusting):
    d = trusting
    email = victim(d)
    per_address = PAIR_LIMIT[0]
    attackers = [f"192.0.2.{n}" for n in range(1, ACCOUNT_LIMIT[0] // per_address + 1)]

    async def flood(address: str) -> list[int]:
        return [await sign_in(d, email, "guess", address) for _ in range(per_address)]

    for batch in range(0, len(attackers), 10):
        for statuses in await asyncio.gather(*(flood(a) for a in attackers[batch:batch + 10])):
            assert statuses == [401] * per_address
    # The account is locked now: a new address that has failed before (against anyone) is refused ...
    assert await sign_in(d, f"nobody-{new_id()[:6]}@example.com", "guess", "198.51.100.77") == 401
    assert await sign_in(d, email, d.password, "198.51.100.77") == 429
    # ... one with no failure gets one try: a wrong password is its failure, then it is refused too ...
    assert await sign_in(d, email, "one-more-guess", "198.51.100.78") == 401
    assert await sign_in(d, email, d.password, "198.51.100.78") == 429
    # ... and the owner, from an address with no failure, signs in.
    assert await sign_in(d, email, d.password, "198.51.100.79") == 303


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(untrusting):
    d = untrusting
    email = victim(d)
    assert await sign_in(d, email, d.password, "198.51.100.20") == 303
    assert await addresses_of(d, email) == ["127.0.0.1"]
    # A new forged address on every attempt: the real peer is what the per-address limit counts.
    for i in range(ADDRESS_LIMIT[0]):
        assert await sign_in(d, f"nobody-{i}-{new_id()[:6]}@example.com", "guess", f"198.18.0.{i + 1}") == 401
    assert await sign_in(d, f"nobody-{new_id()[:6]}@example.com", "guess", "198.18.1.1") == 429
