"""Malformed socket.io frames, CORS on the socket.io endpoint and the demo site's origin, through a
running server (issue: security — hostile input gets a 4xx or an error ack, never a traceback)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.support import clients
from tests.support.server import cli, deploy


class RawSocket:
    """A socket.io client speaking the wire format by hand: frames no library would send."""

    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, base_url: str, origin: str, site_key: str) -> "RawSocket":
        url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        ws = await ws_connect(url, additional_headers={"Origin": origin}, max_size=None)
        raw = cls(ws)
        assert (await raw.next_frame()).startswith("0{")  # engine.io open
        await ws.send("40/visitor," + json.dumps({"site": site_key}))
        while not (await raw.next_frame()).startswith("40/visitor,"):  # the session event may come first
            pass
        return raw

    async def next_frame(self, timeout: float = 20.0) -> str:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if frame == "2":  # engine.io ping
                await self.ws.send("3")
                continue
            return frame

    async def ack(self, ack_id: int, timeout: float = 20.0) -> dict:
        prefix = f"43/visitor,{ack_id}["
        seen: list[str] = []
        while True:
            try:
                frame = await self.next_frame(timeout)
            except TimeoutError:
                raise AssertionError(f"no ack {ack_id}; frames meanwhile: {[f[:200] for f in seen]}") from None
            if frame.startswith(prefix):
                return json.loads(frame[len(prefix) - 1:])[0]
            seen.append(frame)


def tracebacks(log: str) -> int:
    return log.count("Traceback")


async def test_malformed_frames_get_an_error_ack_or_nothing_and_never_a_traceback(deployment):
    d = deployment
    server = d.servers[-1]
    before = tracebacks(server.log())
    raw = await RawSocket.open(server.url, d.origin, d.site_key)
    try:
        refused = {
            1: "42/visitor,1[not json",
            2: '42/visitor,2[123,{"url":"https://shop.example.com/"}]',
            3: "42/visitor,3[]",
            4: '42/visitor,4["page_view",' + "[" * 30000 + "]" * 30000 + "]",
            5: '42/visitor,5["page_view",{"url":' + "7" * 5000 + "}]",
            6: '42/visitor,6["page_view",{"url":"https://shop.example.com/a"},{"more":1}]',
            7: '42/visitor,7["no_such_event",{}]',
            8: '42/visitor,8["page_view",{"url":NaN}]',
            9: '42/visitor,9["track",{"name":"x","props":{"a":Infinity}}]',
            10: '42/visitor,10["' + "e" * 5000 + '",{}]',
        }
        for ack_id, frame in refused.items():
            await raw.ws.send(frame)
            ack = await raw.ack(ack_id)
            assert ack["ok"] is False and ack["error"]["code"] == "bad_request", (ack_id, ack)
        # Frames that name no ack are dropped without an answer: binary attachments (the protocol
        # has none), a packet type no client sends, a bare engine.io message.
        for frame in ('451-/visitor,11["page_view",{"_placeholder":true,"num":0}]', "49/visitor,12",
                      "44/visitor,{}", "4", "4zz"):
            await raw.ws.send(frame)
        await raw.ws.send(b"\x00\x01binary")
        # Over 64 KiB: too_large, and the connection stays.
        await raw.ws.send('42/visitor,13["message",{"client_id":"c1","body":"' + "x" * 70_000 + '"}]')
        ack = await raw.ack(13)
        assert ack["error"]["code"] == "too_large", ack
        # Still connected and served.
        await raw.ws.send('42/visitor,14["availability",{}]')
        assert (await raw.ack(14))["ok"] is True
        # Past what engine.io accepts at all (1 MiB), the connection is closed, as documented.
        await raw.ws.send('42/visitor,15["message",{"body":"' + "y" * (1024 * 1024 + 16) + '"}]')
        with pytest.raises((ConnectionClosed, asyncio.TimeoutError)):
            while True:
                await raw.next_frame(timeout=20)
    finally:
        await raw.ws.close()
    assert tracebacks(server.log()) == before, server.log()[-3000:]


def _polling_open(base_url: str, origin: str) -> httpx.Response:
    return httpx.get(base_url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}, timeout=20)


async def test_cors_on_the_socket_endpoint_answers_only_allowed_origins(deployment):
    d = deployment
    url = d.server.url
    allowed = _polling_open(url, d.origin)
    assert allowed.status_code == 200
    assert allowed.headers.get("access-control-allow-origin") == d.origin
    assert allowed.headers.get("access-control-allow-credentials") == "true"
    # The console's own origin (its host) is answered too.
    own = _polling_open(url, url)
    assert own.headers.get("access-control-allow-origin") == url
    # Anyone else: no CORS headers at all, so a page there cannot read the answer.
    evil = _polling_open(url, "https://evil.example")
    assert "access-control-allow-origin" not in evil.headers
    assert "access-control-allow-credentials" not in evil.headers
    # A site added a moment ago (by another process) is known at once.
    fresh_origin = f"https://fresh-{clients.new_id()[:8]}.example"
    cli(d.env, "create-site", "--name", "Fresh", "--origin", fresh_origin, "--json")
    fresh = _polling_open(url, fresh_origin)
    assert fresh.headers.get("access-control-allow-origin") == fresh_origin


@pytest.fixture(scope="module")
def demo_only():
    deployment = deploy(database_url=None, redis_url=None, processes=1, seed_demo=True)
    yield deployment
    deployment.stop()


def _engine_sid(body: str) -> str:
    return json.loads(body[body.index("{"):])["sid"]


async def test_the_demo_site_allows_its_configured_base_url_not_any_host_header(demo_only):
    url = demo_only.server.url
    key = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"',
                    httpx.get(url + "/demo/").text).group(1)
    # From its own base URL: welcome.
    visitor = await clients.visitor(url, key, url)
    await visitor.disconnect()
    # A request that claims another host and comes from a page there: refused, though Origin and
    # Host agree (DNS rebinding, or a proxy that passes any Host through).
    evil = "http://evil.example:8080"
    headers = {"Origin": evil, "Host": "evil.example:8080"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as http:
        opened = await http.get("/socket.io/?EIO=4&transport=polling")
        sid = _engine_sid(opened.text)
        posted = await http.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                                 content="40/visitor," + json.dumps({"site": key}))
        assert posted.status_code == 200
        answer = (await http.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}")).text
    assert answer.startswith("44/visitor,"), answer
    assert json.loads(answer[len("44/visitor,"):])["data"]["code"] == "origin_not_allowed", answer
