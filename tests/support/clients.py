"""Real socket.io clients for tests, with waiting on events by condition (never by sleeping)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, Callable

import httpx
import pytest
import socketio

DEFAULT_TIMEOUT = 10.0


class Recorder:
    """Records every event a client receives; `wait_for` blocks until one matches."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()

    async def record(self, event: str, data: Any) -> None:
        async with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def of(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda d: True,
                       timeout: float = DEFAULT_TIMEOUT) -> Any:
        async def find() -> Any:
            async with self._changed:
                while True:
                    for e, d in self.events:
                        if e == event and predicate(d):
                            return d
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(find(), timeout)
        except asyncio.TimeoutError:
            seen = [repr(d)[:300] for e, d in self.events if e == event][-5:]
            raise asyncio.TimeoutError(f"no matching {event!r} within {timeout} s; the last ones received: {seen}, "
                                       f"{len(self.events)} events in all") from None


class Client:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.rec = Recorder()
        self.connect_error: Any = None

        @self.sio.on("*", namespace=namespace)
        async def any_event(event: str, data: Any = None) -> None:
            await self.rec.record(event, data)

        @self.sio.on("connect_error", namespace=namespace)
        async def on_connect_error(data: Any = None) -> None:
            self.connect_error = data

    async def call(self, event: str, data: Any = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    @property
    def connected(self) -> bool:
        return self.sio.connected and self.namespace in self.sio.namespaces


async def visitor(base_url: str, site_key: str, origin: str, token: str | None = None,
                  user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                                    "Chrome/131.0 Safari/537.36", headers: dict[str, str] | None = None) -> Client:
    client = Client("/visitor")
    auth = {"site": site_key, "token": token}
    await client.sio.connect(base_url, namespaces=["/visitor"], auth=auth, transports=["websocket"],
                             headers={"Origin": origin, "User-Agent": user_agent, **(headers or {})},
                             wait_timeout=10)
    await client.rec.wait_for("session")
    return client


async def refused(url: str, namespace: str, **connect) -> dict:
    """Connects to `namespace` expecting a refusal; returns the refusal's data (its `code`, `message`)."""
    client = Client(namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.sio.connect(url, namespaces=[namespace], transports=["websocket"], wait_timeout=10, **connect)
    await client.sio.disconnect()
    error = client.connect_error or {}
    return error.get("data", error)  # python-socketio passes {message, data}; JS gets err.data


async def socket_token(base_url: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await http.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
        assert response.status_code == 303, response.text
        console = await http.get("/console")
        return re.search(r'name="switchboard-socket-token" content="([^"]+)"', console.text).group(1)


async def agent(base_url: str, email: str, password: str, token: str | None = None) -> Client:
    client = Client("/agent")
    token = token or await socket_token(base_url, email, password)
    await client.sio.connect(base_url, namespaces=["/agent"], auth={"token": token}, transports=["websocket"],
                             wait_timeout=10)
    await client.rec.wait_for("status")
    return client


def new_id() -> str:
    return uuid.uuid4().hex


async def sign_off(agent: Client) -> None:
    """A test's CSR leaves cleanly: closes the chats they still hold (going Offline would hand them
    back to the queue, where another test's CSR could get them), then goes Offline."""
    listed = await agent.call("list", {})
    for conversation in listed.get("conversations", []) if listed.get("ok") else []:
        if conversation["status"] != "closed":
            await agent.call("close", {"conversation_id": conversation["id"]})
    await agent.call("set_status", {"status": "offline"})
