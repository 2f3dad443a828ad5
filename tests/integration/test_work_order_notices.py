"""Work order notices on the staff pages without the console: the `/notices` namespace
(app/realtime/notices.py), through real servers — SQLite with one process, and PostgreSQL + Redis
with two workers (the notice is sent on one worker, heard on the other).

A back-office handler has no console: their Work orders pages open /notices with the page's socket
token, and hear the notices meant for them (dispatched to them, urged …) — nobody else's. The
namespace refuses a missing or forged token, another origin and a role without work orders, and a
sign-out closes it. The socket token API now serves handlers (their pages renew it), never
marketers.

Every test makes its own users and orders (names carry the test's tag).
"""

from __future__ import annotations

import re

import httpx
import pytest

from app.security import Signer
from tests.integration.test_operations import TOKEN, scrape, value
from tests.integration.test_sessions import disconnected
from tests.integration.test_work_orders_api import person, site_id, staff, tag
from tests.support import clients
from tests.support.db import fetch
from tests.support.server import deploy
from tests.support.web import csrf_of

WAIT = 30.0


@pytest.fixture(scope="module")
def site():
    """SQLite, one server: this module's own."""
    d = deploy(database_url=None, redis_url=None, processes=1, extra_env={"METRICS_TOKEN": TOKEN})
    yield d
    d.stop()


@pytest.fixture(params=["sqlite", "postgres+redis x2"], scope="module")
def floor(request, site):
    """The module's SQLite server, and PostgreSQL + Redis with two workers (this module's own)."""
    if request.param == "sqlite":
        yield site
        return
    d = deploy(database_url=request.getfixturevalue("new_postgres_database")(),
               redis_url=request.getfixturevalue("redis_url"), processes=2, extra_env={"METRICS_TOKEN": TOKEN})
    yield d
    d.stop()


async def page_token(http: httpx.AsyncClient) -> str:
    """The socket token in the Work orders page, as the page's script reads it."""
    page = await http.get("/work-orders")
    assert page.status_code == 200, page.status_code
    return re.search(r'name="switchboard-socket-token" content="([^"]+)"', page.text).group(1)


async def notices(url: str, token: str | None, origin: str | None = None) -> clients.Client:
    client = clients.Client("/notices")
    headers = {"Origin": origin} if origin else {}
    await client.sio.connect(url, namespaces=["/notices"], auth={"token": token} if token else None,
                             transports=["websocket"], wait_timeout=10, headers=headers)
    return client


async def refusal(url: str, token: str | None, origin: str | None = None) -> dict:
    """What /notices answers a connection it refuses: the connect_error's data."""
    client = clients.Client("/notices")
    headers = {"Origin": origin} if origin else {}
    with pytest.raises(Exception):
        await client.sio.connect(url, namespaces=["/notices"], auth={"token": token} if token else None,
                                 transports=["websocket"], wait_timeout=10, headers=headers)
    await client.sio.disconnect()
    error = client.connect_error or {}
    return error.get("data", error)


async def test_a_handler_hears_their_notices_on_any_worker_and_nobody_elses(floor):
    d, t = floor, tag()
    cora = await person(d, t, "Cora")
    hal = await person(d, t, "Hal", "handler")
    uma = await person(d, t, "Uma", "handler")
    site = await site_id(d)
    # Hal and Uma read their pages on the last worker; Cora works on the first.
    async with staff(d, cora) as c, staff(d, hal, server=1) as h, staff(d, uma, server=1) as u:
        hal_socket = await notices(h.url, await page_token(h.http))
        uma_socket = await notices(u.url, await page_token(u.http))
        try:
            # The worker's metrics count the pages' notice sockets.
            assert value(scrape(d.servers[1 % len(d.servers)]), "switchboard_connected_sockets", namespace="notices") >= 2
            order = await c.create(site_id=site, subject=f"Zip broke {t}", handler_id=h.id)
            got = await hal_socket.rec.wait_for("work_order.notice", lambda n: n["id"] == order["id"], timeout=WAIT)
            assert got == {"id": order["id"], "number": order["number"], "kind": "dispatched",
                           "subject": f"Zip broke {t}", "text": f"{order['number']} is yours: Zip broke {t}"}
            urged = await c.post(f"/api/work-orders/{order['id']}/urge", {"note": "Twice on the phone."})
            assert urged.status_code == 200, urged.text
            nudge = await hal_socket.rec.wait_for("work_order.notice", lambda n: n["kind"] == "urged", timeout=WAIT)
            assert (nudge["id"], nudge["by"], nudge["count"]) == (order["id"], f"Cora {t}", 1)
            # Uma hears only her own order's notice, which comes after Hal's two.
            hers = await c.create(site_id=site, subject=f"Strap frayed {t}", handler_id=u.id)
            await uma_socket.rec.wait_for("work_order.notice", lambda n: n["id"] == hers["id"], timeout=WAIT)
            assert [n["id"] for n in uma_socket.rec.of("work_order.notice")] == [hers["id"]]
            assert {n["id"] for n in hal_socket.rec.of("work_order.notice")} == {order["id"]}
            assert hal_socket.connected and uma_socket.connected
        finally:
            await hal_socket.disconnect()
            await uma_socket.disconnect()


async def test_notices_refuse_forged_tokens_other_origins_and_roles_and_close_at_sign_out(site):
    d, t = site, tag()
    hal = await person(d, t, "Hal", "handler")
    mia = await person(d, t, "Mia", "marketer")
    url = d.server.url
    assert (await refusal(url, None))["code"] == "unauthorized"
    assert (await refusal(url, "not-a-token"))["code"] == "unauthorized"
    assert (await refusal(url, {"token": ["wrong", "type"]}))["code"] == "unauthorized"
    assert (await refusal(url, "x" * 60_000))["code"] == "unauthorized"  # under the 64 KiB a frame may weigh
    async with staff(d, hal) as h:
        token = await page_token(h.http)
        assert (await refusal(url, token, origin="https://evil.example"))["code"] == "unauthorized"
        # The marketer's session signs a well-formed token: the role is what is refused.
        async with httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=30) as m:
            login = await m.get("/login")
            signed = await m.post("/login", data={"email": mia, "password": d.password,
                                                  "csrf_token": csrf_of(login.text)})
            assert signed.status_code == 303, signed.text
            mia_id = d.users[mia]["id"]
            session = (await fetch(d, "SELECT id FROM staff_session WHERE user_id = ? ORDER BY id DESC", mia_id))[0]
            forged_by_role = Signer(d.env["SECRET_KEY"]).socket_token(mia_id, session["id"])
            refused = await refusal(url, forged_by_role)
            assert refused["code"] == "unauthorized" and "work orders" in refused["message"], refused
            # …and the token API serves handlers (their pages renew it) but not marketers.
            account = await m.get("/account")
            denied = await m.post("/api/socket-token", headers={"x-csrf-token": csrf_of(account.text)})
            assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden", denied.text
        renewed = await h.post("/api/socket-token")
        assert renewed.status_code == 200 and renewed.json()["token"], renewed.text
        listening = await notices(url, renewed.json()["token"])
        try:
            account = await h.http.get("/account")
            out = await h.http.post("/logout", data={"csrf_token": csrf_of(account.text)})
            assert out.status_code == 303, out.text
            await disconnected(listening)
        finally:
            await listening.disconnect()
