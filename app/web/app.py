"""The ASGI application: starlette routes wrapped by the socket.io server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

import socketio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import runtime as runtime_mod
from app.config import Settings, load_settings
from app.db import close_db, init_db
from app.paths import CONSOLE_DIST, DEMO_STATIC
from app import bus
from app.realtime.agent import AgentNamespace
from app.realtime.visitor import VisitorNamespace
from app.services import routing, tracking
from app.tracking import live as live_visitors
from app.web import admin_rules, auth, explorer, pages, privacy, reports, staffing, track, wallboard
from app.web.security_headers import SecurityHeaders

log = logging.getLogger("app")

MAX_SOCKET_PAYLOAD = 64 * 1024


def redis_channel(redis_url: str) -> str:
    """The pub/sub channel workers share. Pub/sub ignores Redis database numbers, so the channel
    names the database: deployments on different databases of one Redis server stay apart."""
    path = urlsplit(redis_url).path.strip("/")
    return f"switchboard:{path or '0'}"


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    manager = (socketio.AsyncRedisManager(settings.redis_url, channel=redis_channel(settings.redis_url))
               if settings.redis_url else None)
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        # Origins are checked per site in the /visitor connect handler, and against the
        # console's own host in /agent; engine.io itself lets any origin through to them.
        cors_allowed_origins="*",
        transports=list(settings.transports),
        max_http_buffer_size=MAX_SOCKET_PAYLOAD,
        ping_interval=20,
        ping_timeout=20,
    )
    sio.register_namespace(VisitorNamespace(bus.VISITOR_NS))
    sio.register_namespace(AgentNamespace(bus.AGENT_NS))
    return sio


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    settings = settings or load_settings()
    rt = runtime_mod.build(settings)
    sio = create_socket_server(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        runtime_mod.install(rt)
        bus.bind(sio)
        await init_db(settings)
        ticker = asyncio.create_task(routing.tick_forever())
        retention = asyncio.create_task(tracking.purge_forever(settings.retention_interval_seconds))
        heartbeat = asyncio.create_task(live_visitors.heartbeat_forever()) if rt.redis is not None else None
        if rt.redis is None:
            # One process: nobody's console survived the restart; give each CSR the grace period.
            await sio.namespace_handlers[bus.AGENT_NS].watch_absent_agents()
        try:
            yield
        finally:
            ticker.cancel()
            retention.cancel()
            with contextlib.suppress(Exception):
                await tracking.flush()  # the last page views of this worker's batch
            if heartbeat is not None:
                heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await close_db()
            if rt.redis is not None:
                await rt.redis.aclose()

    routes = [
        Route("/", pages.home),
        Route("/healthz", pages.healthz),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/console", pages.console),
        Route("/supervise", pages.supervise),
        Route("/visitors", pages.visitors),
        Route("/wallboard", wallboard.wallboard),
        Route("/reports", reports.reports_page),
        Route("/api/reports/{name:str}", reports.report_api),
        Route("/staffing", staffing.staffing),
        Route("/explorer", explorer.explorer_page),
        Route("/api/explorer/visitors/{visitor_id:str}", explorer.visitor_trail),
        Route("/api/explorer/{name:str}", explorer.explorer_api),
        Route("/admin/invitation-rules", admin_rules.rules_page, methods=["GET"]),
        Route("/admin/invitation-rules", admin_rules.rules_submit, methods=["POST"]),
        Route("/staffing.csv", staffing.staffing_csv),
        Route("/api/track", track.beacon, methods=["POST"]),
        Route("/api/admin/visitors/{visitor_id:str}/export", privacy.export, methods=["GET"]),
        Route("/api/admin/visitors/{visitor_id:str}/erase", privacy.erase, methods=["POST"]),
        Route("/widget.js", pages.widget_js),
        Route("/widget-chat.js", pages.widget_chat_js),
        Route("/demo/", pages.demo),
        Route("/demo/{page:str}", pages.demo),
        # The demo site's own scripts (its pages are under a CSP without inline script).
        Mount("/demo/static", StaticFiles(directory=str(DEMO_STATIC), check_dir=False), name="demo-static"),
        Mount("/static", StaticFiles(directory=str(CONSOLE_DIST), check_dir=False), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware, secret_key=settings.secret_key, session_cookie="sb_session",
            max_age=60 * 60 * 12, same_site="lax", https_only=settings.secure_cookies,
        ),
    ]
    web = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return socketio.ASGIApp(sio, other_asgi_app=web, socketio_path="socket.io")


def asgi_factory() -> socketio.ASGIApp:
    """For `uvicorn --factory app.web.app:asgi_factory` (the Procfile's web process)."""
    return create_app()
