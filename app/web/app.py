"""The ASGI application: starlette routes wrapped by the socket.io server, run with the server's
own runtime and database (`ServerApp`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from urllib.parse import urlsplit

import itsdangerous
import socketio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import db, logs
from app import runtime as runtime_mod
from app.config import Settings, load_settings
from app.paths import CONSOLE_DIST, DEMO_STATIC
from app import bus, presence
from app.mail import inbound
from app.realtime import rooms, server
from app.realtime.agent import AgentNamespace
from app.realtime.notices import NoticesNamespace
from app.realtime.visitor import VisitorNamespace
from app.reports import kept_days
from app.services import after_hours, deployment, listeners, mail, routing, sampling, timers, tracking, workorders
from app.tracking import live as live_visitors
from app.web import admin, admin_rules, auth, explorer, health, pages, privacy, reports, staffing, track, wallboard
from app.web import canned as canned_web
from app.web import knowledge as knowledge_web
from app.web import knowledge_console
from app.web import workorders as workorders_web
from app.web import quality as quality_web
from app.web.security_headers import SecurityHeaders

log = logging.getLogger("app")



SHUTDOWN_LOOPS_SECONDS = 5.0  # how long a stopping server waits for its background loops to end


def redis_channel(redis_url: str, deployment_uid: str) -> str:
    """The pub/sub channel a deployment's workers share: named by the deployment's identity (so
    another deployment on the same Redis never hears it) and by the Redis database (pub/sub ignores
    database numbers: a copy of the deployment on another database of the server stays apart too)."""
    path = urlsplit(redis_url).path.strip("/")
    return f"switchboard:{deployment_uid}:{path or '0'}"


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    # With Redis the channel is named at start-up, once the database has said which deployment
    # this is (`create_app`); until then it is a channel nobody else uses.
    manager = (rooms.RedisManager(settings.redis_url, channel=f"switchboard:starting:{secrets.token_hex(8)}")
               if settings.redis_url else rooms.LocalManager())
    sio = server.Server(
        async_mode="asgi",
        client_manager=manager,
        # Origins are checked per site in the /visitor connect handler, and against the
        # console's own host in /agent; engine.io lets any origin through to them, and answers
        # CORS only for origins some site allows (app/realtime/server.py).
        cors_allowed_origins="*",
        transports=list(settings.transports),
        ping_interval=20,
        ping_timeout=20,
    )
    sio.register_namespace(VisitorNamespace(bus.VISITOR_NS))
    sio.register_namespace(AgentNamespace(bus.AGENT_NS))
    sio.register_namespace(NoticesNamespace(bus.NOTICES_NS))
    return sio


class ServerApp:
    """One server's ASGI app. Every call it gets — the lifespan, each HTTP request, each socket —
    runs with this server's runtime and database connections as the current ones (context
    variables: `app.runtime.activated`, `app.db.using`), and so does every task the call spawns
    (socket.io handlers, timers, the routing tick). Set per call, not once in the lifespan: the
    ASGI server runs the lifespan in a task of its own, whose context requests never see."""

    def __init__(self, asgi: socketio.ASGIApp, runtime: runtime_mod.Runtime) -> None:
        self.asgi = asgi
        self.runtime = runtime

    async def __call__(self, scope, receive, send) -> None:
        with runtime_mod.activated(self.runtime), db.using(self.runtime.database):
            if scope["type"] == "http" and scope["path"].startswith("/socket.io"):
                await server.learn_origin(_header(scope, b"origin"))  # for the CORS answer
            await self.asgi(scope, receive, send)


class RotatingSessionMiddleware(SessionMiddleware):
    """Starlette's signed session cookie, signed with the first key and accepted with any of
    `secret_keys` (a SECRET_KEYS rotation keeps everyone signed in)."""

    def __init__(self, app, secret_keys: tuple[str, ...], **options) -> None:
        super().__init__(app, secret_key=secret_keys[0], **options)
        self.signer = itsdangerous.TimestampSigner(list(reversed(secret_keys)))  # signs with the last


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def create_app(settings: Settings | None = None, *, process_wide: bool = True) -> ServerApp:
    """The server for `settings`. `process_wide` (the one server of `python -m app serve`) also
    makes its runtime and database the process's fallback, for code that runs outside any of its
    calls; a server started in-process next to others (tests/support/inprocess.py) leaves it off."""
    settings = settings or load_settings()
    if process_wide:
        # Here, not only in the CLI: `uvicorn --factory` (the Procfile) starts the server too.
        logs.configure(settings.log_level, settings.log_format)
    rt = runtime_mod.build(settings)
    rt.database = db.TortoiseContext()  # its connections open in the lifespan
    listeners.install(rt.listeners)
    rt.state(timers.TimerHandlers).update({workorders.SLA_TIMER: workorders.sla_timer,
                                           workorders.CALLBACK_TIMER: workorders.callback_timer,
                                           after_hours.QUEUE_HELD: after_hours.queue_held,
                                           sampling.WEEKLY_TIMER: sampling.weekly_timer,
                                           kept_days.NIGHTLY_TIMER: kept_days.nightly_timer})
    sio = create_socket_server(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if process_wide:
            runtime_mod.install(rt)
        bus.bind(sio)
        await db.open_database(settings, rt.database, process_wide=process_wide)
        # Which deployment this is (made on the first start): its Redis namespace and channel.
        uid = await deployment.identity()
        rt.bind_deployment(uid)
        if settings.redis_url:
            # Named before any socket connects; `join_peers` below then subscribes to it.
            sio.manager.channel = redis_channel(settings.redis_url, uid)
            try:  # listening before any socket connects; the other workers know this one
                await bus.join_peers()
            except Exception:  # it then publishes every emit, as python-socketio does
                log.exception("meeting the other workers on the pub/sub channel failed")
        # The routing store follows the database before the first request is served: whatever
        # Redis holds that the database does not confirm (another copy's leftovers, a restored
        # backup) is corrected, without undoing live workers' fresh decisions (routing.reconcile).
        reconciled = False
        try:
            fixed = await routing.reconcile()
            reconciled = True
            if fixed:
                log.info("routing store reconciled with the database at start-up: %d corrections", fixed)
        except Exception:  # the routing tick's first step retries
            log.exception("reconciling the routing store at start-up failed")
        ticker = asyncio.create_task(routing.tick_forever(reconciled=reconciled))
        retention = asyncio.create_task(tracking.purge_forever(settings.retention_interval_seconds))
        heartbeat = asyncio.create_task(live_visitors.heartbeat_forever()) if rt.redis is not None else None
        # With Redis: whether this worker is alone on the pub/sub channel (app/realtime/rooms.py).
        peers = (asyncio.create_task(bus.check_peers_forever(presence.heartbeat_seconds()))
                 if settings.redis_url else None)
        # The shared schedule (grace periods) and, with Redis, this worker's presence lease: taken
        # before the first socket connects, and the lapsed leases of dead workers reaped.
        lease = None
        if rt.redis is not None:
            try:
                await timers.renew_lease()
            except Exception:  # the lease loop retries
                log.exception("taking the presence lease at start-up failed")
            lease = asyncio.create_task(timers.lease_forever())
        schedule = asyncio.create_task(timers.run_forever())
        # Mail (docs/deployment.md "Mail"): this worker's sender, and the receiver of customers'
        # replies where INBOUND_SMTP_PORT is set (one worker; a port taken is logged, not fatal).
        mailer = asyncio.create_task(mail.send_forever()) if settings.smtp_url else None
        receiver = None
        if settings.inbound_smtp_port:
            try:
                receiver = await inbound.start(settings.inbound_smtp_host, settings.inbound_smtp_port)
            except OSError:
                log.exception("the reply mail receiver could not listen on %s:%s", settings.inbound_smtp_host,
                              settings.inbound_smtp_port)
        # CSRs with no console anywhere (the previous process stopped; with Redis, workers that
        # stopped cleanly scheduled it already) get the grace period to come back.
        try:
            await timers.watch_absent_agents()
        except Exception:
            log.exception("watching absent CSRs at start-up failed")
        # Work orders' SLA steps and callbacks: in the shared schedule from the orders themselves.
        try:
            await workorders.resume_sla_timers()
        except Exception:
            log.exception("resuming the work orders' timers at start-up failed")
        try:  # quality: the weekly random draw (app/services/sampling.py)
            await sampling.schedule_weekly()
        except Exception:
            log.exception("scheduling the weekly quality draw at start-up failed")
        try:  # KPI reports: recent finished days kept ahead of the reports (app/reports/kept_days.py)
            await kept_days.schedule_nightly(settings.center_time_zone)
        except Exception:
            log.exception("scheduling the nightly keeping of KPI days at start-up failed")
        try:
            yield
        finally:
            loops = [task for task in (ticker, retention, heartbeat, peers, lease, schedule, mailer)
                     if task is not None]
            for task in loops:
                task.cancel()
            with contextlib.suppress(Exception):
                await tracking.flush()  # the last page views of this worker's batch
            if receiver is not None:
                with contextlib.suppress(Exception):
                    await receiver.close()
            # Nothing of this server runs on after it (in-process, the event loop goes on): the
            # engine.io service task, the socket.io pub/sub listener, the namespaces' grace
            # timers and the timers and tasks of the runtime's states.
            with contextlib.suppress(Exception):
                await sio.shutdown()
            stray = [getattr(sio.manager, "thread", None)]
            loops += [task for task in stray if isinstance(task, asyncio.Task) and not task.done()]
            for task in loops:
                task.cancel()
            rt.cancel_pending()
            # Each loop ends at its next await; a pub/sub listener cancelled mid-read can hang in
            # redis-py's disconnect (redis/redis-py#3941), so the wait is bounded.
            if loops:
                done, stuck = await asyncio.wait(loops, timeout=SHUTDOWN_LOOPS_SECONDS)
                for task in done:
                    if not task.cancelled():
                        task.exception()  # retrieved: a loop's failure was logged where it happened
                if stuck:
                    log.warning("%d background tasks had not stopped %s s after the shutdown began: left behind",
                                len(stuck), SHUTDOWN_LOOPS_SECONDS)
            await rt.database.close_connections()
            if rt.redis is not None:
                await rt.redis.aclose()
            if process_wide:
                runtime_mod.uninstall(rt)

    routes = [
        Route("/", pages.home),
        Route("/healthz", pages.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics_endpoint),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/account", pages.account, methods=["GET"]),
        Route("/account/password", pages.change_password, methods=["POST"]),
        Route("/account/language", pages.change_language, methods=["POST"]),
        Route("/account/sign-out-everywhere", pages.sign_out_everywhere, methods=["POST"]),
        Route("/api/socket-token", pages.socket_token_api, methods=["POST"]),
        Route("/console", pages.console),
        Route("/supervise", pages.supervise),
        Route("/visitors", pages.visitors),
        Route("/wallboard", wallboard.wallboard),
        Route("/reports", reports.reports_page),
        Route("/api/reports/{name:str}", reports.report_api),
        Route("/staffing", staffing.staffing),
        Route("/explorer", explorer.explorer_page),
        Route("/api/explorer", explorer.explorer_all),
        Route("/api/explorer/visitors/{visitor_id:str}", explorer.visitor_trail),
        Route("/api/explorer/{name:str}", explorer.explorer_api),
        *admin.routes(),
        *workorders_web.ROUTES,
        *knowledge_web.ROUTES,
        *knowledge_console.ROUTES,
        *canned_web.ROUTES,
        *quality_web.routes(),
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
        Middleware(logs.RequestContext),  # each request's log lines carry its request_id
        Middleware(SecurityHeaders),
        # The signed `sb_session` cookie holds the CSRF token and the staff session's token; the
        # session itself lives on the server (app/services/sessions.py), which decides when it ends.
        Middleware(
            RotatingSessionMiddleware, secret_keys=(settings.secret_key, *settings.old_secret_keys),
            session_cookie="sb_session",
            max_age=max(60, round(settings.session_max_hours * 3600)), same_site="lax",
            https_only=settings.secure_cookies,
        ),
    ]
    web = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return ServerApp(socketio.ASGIApp(sio, other_asgi_app=web, socketio_path="socket.io"), rt)


def asgi_factory() -> ServerApp:
    """For `uvicorn --factory app.web.app:asgi_factory` (the Procfile's web process)."""
    return create_app()
