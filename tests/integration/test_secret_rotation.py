"""Rotating the secret key without signing everyone out (issue: operations): with
SECRET_KEYS="new,old" a console session and a visitor token made under the old key stay valid, and
what the server signs from then on uses the new key; once the old key is dropped, only the old
signatures stop working."""

from __future__ import annotations

import re

import httpx
import pytest
import socketio

from tests.support import clients
from tests.support.server import Server, deploy

OLD, NEW = "rotation-old-" + "x" * 20, "rotation-new-" + "y" * 20


@pytest.fixture
def rotated():
    deployment = deploy(database_url=None, redis_url=None, processes=1, extra_env={"SECRET_KEY": OLD})
    servers: list[Server] = []

    def restart(**env: str) -> Server:
        for s in [deployment.server, *servers]:
            s.stop()
        env_now = {k: v for k, v in deployment.env.items() if k not in ("SECRET_KEY", "SECRET_KEYS")}
        server = Server(dict(env_now, **env)).start()
        servers.append(server)
        return server

    yield deployment, restart
    for s in servers:
        s.stop()
    deployment.stop()


def _sign_in(url: str, email: str, password: str) -> str:
    """The session cookie of a fresh sign-in."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=20) as http:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text).group(1)
        assert http.post("/login", data={"email": email, "password": password, "csrf_token": csrf}).status_code == 303
        return http.cookies["sb_session"]


def _console(url: str, cookie: str) -> int:
    return httpx.get(url + "/console", cookies={"sb_session": cookie}, follow_redirects=False, timeout=20).status_code


async def test_a_rotation_keeps_sessions_and_visitor_tokens_until_the_old_key_is_dropped(rotated):
    deployment, restart = rotated
    url = deployment.server.url
    old_cookie = _sign_in(url, "agent@example.com", deployment.password)
    assert _console(url, old_cookie) == 200
    visitor = await clients.visitor(url, deployment.site_key, deployment.origin)
    session = visitor.rec.of("session")[0]
    old_token, visitor_id = session["token"], session["visitor_id"]
    await visitor.disconnect()

    # The rotation: the new key signs, the old one is still accepted.
    server = restart(SECRET_KEYS=f"{NEW},{OLD}")
    assert _console(server.url, old_cookie) == 200
    again = await clients.visitor(server.url, deployment.site_key, deployment.origin, token=old_token)
    assert again.rec.of("session")[0]["visitor_id"] == visitor_id  # the same visitor, not a new one
    new_token = again.rec.of("session")[0]["token"]
    await again.disconnect()
    new_cookie = _sign_in(server.url, "other@example.com", deployment.password)

    # The old key dropped: what it signed is refused, what the new one signed still works.
    server = restart(SECRET_KEYS=NEW)
    assert _console(server.url, old_cookie) == 303  # to the sign-in page
    assert _console(server.url, new_cookie) == 200
    with pytest.raises(socketio.exceptions.ConnectionError):
        await clients.visitor(server.url, deployment.site_key, deployment.origin, token=old_token)
    fresh = await clients.visitor(server.url, deployment.site_key, deployment.origin, token=new_token)
    assert fresh.rec.of("session")[0]["visitor_id"] == visitor_id
    await fresh.disconnect()
