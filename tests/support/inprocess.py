"""A real Switchboard server inside the test process, and a deployment's database opened there.

`serve(env)` runs uvicorn on `create_app(settings)` in the current event loop, on a free port, and
stops it cleanly; several can run at once, each with its own runtime and database connections
(`app.web.app.ServerApp`: every call the server gets runs with its own). The test can read each
server's in-memory state (`server.runtime.state(...)`, `server.runtime.routing_store`).

`database(target)` opens a deployment's database in the test process (its own tortoise context,
nothing process-wide), so a test seeds or reads rows with the models directly:

    async with database(deployment):
        site = await Site.get(key=deployment.site_key)

With `runtime=True` the block also runs with a runtime of that deployment (bound to its identity,
no sockets, no listeners), like a CLI command's, so services can be called (`tracking.page_view`).

Tortoise keeps each model's base query, built with its database's SQL dialect, on the model class:
servers and databases open at the same time in one process must all be SQLite or all PostgreSQL.
`prepare()` makes a deployment for in-process servers in this process (what `deploy()` does with
the CLI): the schema, a site and the usual users; `add_user` adds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx
import uvicorn

from app import db
from app import runtime as runtime_mod
from app.config import Settings, load_settings
from app.services import admin
from app.services import deployment as deployment_identity
from app.web.app import ServerApp, create_app
from tests.support.server import ORIGIN, USERS, Deployment, deployment_env


class UvicornServer(uvicorn.Server):
    """uvicorn's server, without taking over the process's signal handlers (that is the test
    runner's, and several of these run at once)."""

    def capture_signals(self):
        return contextlib.nullcontext()


@dataclass
class InProcessServer:
    app: ServerApp
    url: str

    @property
    def runtime(self) -> runtime_mod.Runtime:
        return self.app.runtime

    @property
    def settings(self) -> Settings:
        return self.app.runtime.settings


def settings_of(target: Deployment | Mapping[str, str] | Settings, **overrides: str) -> Settings:
    if isinstance(target, Settings):
        return target
    env = dict(target.env if isinstance(target, Deployment) else target)
    env.update(overrides)
    return load_settings(env)


@contextlib.asynccontextmanager
async def serve(target: Deployment | Mapping[str, str], *, timeout: float = 30.0) -> AsyncIterator[InProcessServer]:
    """A server for a deployment (or its environment) in this event loop, until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = settings_of(target, HOST="127.0.0.1", PORT=str(port), PUBLIC_URL=url)
    app = create_app(settings, process_wide=False)
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, log_level=settings.log_level,
                            timeout_graceful_shutdown=5)
    server = UvicornServer(config)

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exit:  # uvicorn's answer to a failed start-up: not the test runner's
            raise RuntimeError(f"the in-process server at {url} exited ({exit.code}): see the log") from None

    # An empty context: the server owes nothing to the caller's context variables (its ASGI app
    # sets its own runtime and database on every call).
    task = asyncio.get_running_loop().create_task(run(), name=f"uvicorn {url}", context=contextvars.Context())
    try:
        await _ready(url, task, timeout)
        yield InProcessServer(app=app, url=url)
    finally:
        server.should_exit = True
        try:
            # Shutting down (5 s of grace, then the lifespan's end) once took over 30 s on a two-core
            # machine with a core kept busy: a hang still fails, after a minute.
            await asyncio.wait_for(asyncio.shield(task), max(timeout, 60.0))
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        finally:
            sock.close()


async def _ready(url: str, task: asyncio.Task, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if task.done():
                task.result()  # its exception
                raise RuntimeError(f"the in-process server at {url} stopped during start-up")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)  # polling for readiness, not synchronising with the code under test
    raise RuntimeError(f"the in-process server at {url} did not become ready in {timeout} s")


@contextlib.asynccontextmanager
async def database(target: Deployment | Mapping[str, str] | Settings, *,
                   runtime: bool = False) -> AsyncIterator[db.TortoiseContext]:
    """The deployment's database, for the models used in this block (and the tasks it spawns)."""
    settings = settings_of(target)
    context = await db.open_database(settings)
    rt = None
    try:
        with db.using(context):
            if not runtime:
                yield context
                return
            rt = runtime_mod.build(settings, await deployment_identity.identity())
            with runtime_mod.activated(rt):
                yield context
    finally:
        if rt is not None:
            rt.cancel_pending()
            if rt.redis is not None:
                await rt.redis.aclose()
        await context.close_connections()


async def prepare(*, extra_env: dict[str, str] | None = None) -> Deployment:
    """A new SQLite deployment made in this process — schema, site and the usual users, as
    `deploy()` makes them with the CLI — for in-process servers: no process runs for it.
    `Deployment.stop()` removes its data."""
    env = deployment_env(database_url=None, redis_url=None, extra_env=extra_env)
    settings = load_settings(env)
    with db.using(db.TortoiseContext()):  # the migration opens (and closes) its own connections here
        await db.migrate(settings)
    async with database(settings, runtime=True):  # also makes the deployment's identity
        site = await admin.create_site("Test shop", [ORIGIN])
        deployment = Deployment(env=env, servers=[], site_key=site.key, origin=ORIGIN, users={})
        for email, role, name in USERS:
            await _create_user(deployment, email, role, name, 3)
    return deployment


async def add_user(deployment: Deployment, email: str, role: str = "agent", name: str | None = None,
                   max_chats: int | None = 3) -> dict:
    """`Deployment.create_user`, in this process: a user with the deployment's password."""
    async with database(deployment):
        return await _create_user(deployment, email, role, name, max_chats)


async def _create_user(deployment: Deployment, email: str, role: str, name: str | None,
                       max_chats: int | None) -> dict:
    user = await admin.create_user(email, deployment.password, role, name, max_chats)
    deployment.users[email] = found = {"id": user.id, "email": user.email, "role": user.role}
    return found
