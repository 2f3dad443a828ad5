"""Settings, read once from environment variables with embedded defaults.

| variable | default | meaning |
|---|---|---|
| DATA_DIR | ./data | where the embedded database and the generated secret live |
| DATABASE_URL | sqlite://DATA_DIR/switchboard.sqlite3 | tortoise URL: sqlite://path or postgres://user:pass@host:port/db |
| REDIS_URL | unset | unset: one process, in-memory shared state; set: socket.io Redis manager + Redis state |
| SECRET_KEY | generated once into DATA_DIR/secret_key | signs visitor tokens, sessions, CSRF tokens |
| SHUTDOWN_TIMEOUT_SECONDS | 10 | how long a stopping worker waits for requests in flight |
| SECRET_KEYS | unset | a rotation: "new,old,…" — the first signs, every one is accepted |
| HOST / PORT | 127.0.0.1 / 8000 | where `serve` listens |
| PUBLIC_URL | http://HOST:PORT | the base URL printed in snippets |
| SECURE_COOKIES | false | set to true behind TLS (cookies get the Secure flag) |
| FORWARDED_ALLOW_IPS | 127.0.0.1 | proxies whose X-Forwarded-For / -Proto are believed (comma-separated addresses or networks) |
| SESSION_MAX_HOURS | 12 | a staff sign-in ends this long after it began, whatever happens |
| SESSION_IDLE_MINUTES | 120 | ... or after this long without a request (an open console renews its socket token: activity) |
| SOCKET_TOKEN_SECONDS | 300 | how long a console's socket token opens /agent (the console renews it) |
| PRESENCE_LEASE_SECONDS | 10 | with Redis: a worker silent this long (plus a quarter) loses its sockets' presence |
| SOCKETIO_TRANSPORTS | polling,websocket | set to websocket to run without sticky sessions |
| LOG_LEVEL | info | debug, info, warning, error: ours and uvicorn's, however the server is started |
| LOG_FORMAT | text at a terminal, else json | json: one JSON object a line (docs/operations.md "Logs"); text: for people |
| WORKER_NAME | the process id | this worker's name in logs and in the `worker` label of its metrics |
| METRICS_TOKEN | unset | bearer token that opens /metrics; unset: /metrics answers 404 |
| MESSAGE_RATE_LIMIT | 20/10 | chat messages a visitor may send per N seconds (agents: 3×) |
| NEW_VISITORS_PER_ADDRESS / NEW_VISITORS_PER_SITE | 30/60 / 600/60 | new visitors (widget connects without a token) per N seconds from one address (IPv6: one /64) / for one site |
| SIGNIN_FAILURES_PER_PAIR / _PER_ADDRESS / _PER_ACCOUNT | 5/900 / 50/900 / 200/3600 | failed sign-ins per N seconds for one e-mail from one address / from one address / for one account (docs/deployment.md "Sign-in throttling") |
| CENTER_TIME_ZONE | UTC | IANA zone of the center: where "today" and reporting intervals begin; queues' hours unless a department sets its own |
| SITE_KEY_GRACE_HOURS | 168 | after a site's key is rotated, the old key keeps working this long |
| SERVICE_LEVEL_THRESHOLD_SECONDS | 20 | T: a chat answered within T seconds of queueing meets the service level |
| SHORT_ABANDON_SECONDS | 5 | visitors who leave the queue sooner are neither offered nor abandoned |
| STAFFING_CONCURRENCY | unset | chats a CSR holds at once, for staffing; unset: measured from history |
| SMTP_URL | unset | where mail goes: smtp://user:pass@host:port (?starttls=1 requires STARTTLS, 0 never) or smtps://…; unset: mail stays in the outbox |
| MAIL_FROM | Switchboard <support@localhost> | the From of every mail the product sends |
| MAIL_REPLY_DOMAIN | the domain of MAIL_FROM | the domain of per-order reply addresses (reply+TOKEN@domain) |
| ATTACHMENTS_DIR | DATA_DIR/attachments | where work-order attachments are stored (shared by every worker); served only to staff who read the order and to the customer's link |
| KB_STALE_DAYS | 180 | a knowledge-base article not reviewed for this many days is flagged stale |
| MAIL_RETRY_SECONDS | 30 | a mail SMTP did not take is tried again after this long, doubling each time (5 attempts) |
| INBOUND_SMTP_PORT | unset | where this worker receives customers' replies by SMTP; unset: no receiver |
| INBOUND_SMTP_HOST | 127.0.0.1 | the interface the receiver listens on |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_keys(env: dict[str, str], data_dir: Path) -> tuple[str, ...]:
    """SECRET_KEYS ("new,old,…": the first signs, all are accepted — a rotation), else SECRET_KEY,
    else the key generated once into DATA_DIR/secret_key."""
    keys = tuple(k.strip() for k in (env.get("SECRET_KEYS") or "").split(",") if k.strip())
    if keys:
        return keys
    return (env.get("SECRET_KEY") or _load_or_create_secret(data_dir),)


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two workers starting at once agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    host: str
    port: int
    public_url: str
    secure_cookies: bool
    transports: tuple[str, ...]
    log_level: str
    # Limits (documented in docs/protocol.md).
    max_message_chars: int = 5000
    message_rate: tuple[int, float] = (20, 10.0)  # events, per seconds
    new_visitors_per_address: tuple[int, float] = (30, 60.0)  # new visitor rows, per seconds
    new_visitors_per_site: tuple[int, float] = (600, 60.0)
    # Failed sign-ins (app/web/auth.py, docs/deployment.md "Sign-in throttling").
    signin_failures_per_pair: tuple[int, float] = (5, 15 * 60.0)
    signin_failures_per_address: tuple[int, float] = (50, 15 * 60.0)
    signin_failures_per_account: tuple[int, float] = (200, 60 * 60.0)
    visitor_token_max_age: int = 60 * 60 * 24 * 400  # ~13 months, like analytics ids
    # Staff sessions (app/services/sessions.py, docs/deployment.md "Sessions").
    socket_token_seconds: int = 300
    session_max_hours: float = 12.0
    session_idle_minutes: float = 120.0
    # Which peers' X-Forwarded-For / X-Forwarded-Proto uvicorn believes (`serve`, the Procfile).
    forwarded_allow_ips: str = "127.0.0.1"
    # A CSR whose every console is gone keeps their chats this long, then goes Offline and the
    # chats go back to the front of the queue.
    disconnect_grace_seconds: float = 60.0
    # A visitor queued with no tab open for this long has left: the chat is abandoned (at the
    # moment they left).
    visitor_abandon_grace_seconds: float = 60.0
    # A visitor leaves the live Visitors view this long after their last tab closed.
    live_visitor_gone_seconds: float = 10.0
    # With Redis: a worker that stops heartbeating loses its sockets' presence after this long (plus
    # one heartbeat, a quarter of it): its visitors go offline, its CSRs enter the grace period.
    presence_lease_seconds: float = 10.0
    # How often the retention job purges the trail older than each site's retention_days.
    retention_interval_seconds: float = 3600.0
    # KPIs and staffing (docs/kpis.md).
    center_time_zone: str = "UTC"
    service_level_threshold_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    # First-contact resolution: a chat is resolved when its visitor starts no other chat within
    # this many hours of its close (FCR_WINDOW_HOURS; docs/kpis.md).
    fcr_window_hours: float = 24.0
    # The CSR scorecard's tenure curves: veterans have worked here more than this many months
    # (QA_VETERAN_MONTHS; docs/quality.md).
    qa_veteran_months: int = 6
    staffing_concurrency: float | None = None  # None: calibrated from the center's history
    # Operations (docs/operations.md): "" = text at a terminal, else json.
    log_format: str = ""
    metrics_token: str | None = None  # None: no /metrics
    # How long a stopping worker waits for requests in flight (SHUTDOWN_TIMEOUT_SECONDS).
    shutdown_timeout_seconds: float = 10.0
    # Earlier secret keys, still accepted while a rotation runs (SECRET_KEYS; `secret_key` signs).
    old_secret_keys: tuple[str, ...] = ()
    # How long a site's previous key keeps working after a rotation (SITE_KEY_GRACE_HOURS, default a
    # week; docs/admin.md "Rotating a site key").
    site_key_grace_seconds: float = 7 * 24 * 3600.0
    # Mail (app/services/mail.py, app/mail/inbound.py; docs/deployment.md "Mail"). No SMTP_URL: mail
    # stays in the outbox (admin page Outgoing mail); no INBOUND_SMTP_PORT: no receiver here.
    smtp_url: str | None = None
    mail_from: str = "Switchboard <support@localhost>"
    mail_reply_domain: str = "localhost"
    mail_retry_seconds: float = 30.0
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int | None = None
    # Where work-order attachments are kept (ATTACHMENTS_DIR; default DATA_DIR/attachments). With
    # several workers on several hosts it must be a shared directory.
    attachments_dir: str | None = None
    # A knowledge-base article not reviewed for this many days is flagged stale (KB_STALE_DAYS).
    kb_stale_days: int = 180
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _rate(value: str | None, default: tuple[int, float]) -> tuple[int, float]:
    if not value:
        return default
    count, _, seconds = value.partition("/")
    return int(count), float(seconds or 1)


def _time_zone(value: str | None) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = (value or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"CENTER_TIME_ZONE must be an IANA time zone such as Europe/Berlin; got {name!r}") from None
    return name


def _positive_float(name: str, value: str | None, default: float | None) -> float | None:
    if value is None or value.strip() == "":
        return default
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return number


MAX_FCR_WINDOW_HOURS = 720.0  # 30 days: the reports read the chats that far past a window's end


MAX_VETERAN_MONTHS = 120


def _veteran_months(value: str | None) -> int:
    if value is None or not value.strip():
        return 6
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_VETERAN_MONTHS:
        raise ValueError(f"QA_VETERAN_MONTHS must be a whole number of months from 1 to {MAX_VETERAN_MONTHS}; "
                         f"got {value!r}")
    return int(text)


def _fcr_window(value: str | None) -> float:
    try:
        hours = _positive_float("FCR_WINDOW_HOURS", value, 24.0)
    except ValueError:
        hours = None
    if hours is None or hours > MAX_FCR_WINDOW_HOURS:
        raise ValueError(f"FCR_WINDOW_HOURS must be a number of hours above 0 and at most "
                         f"{MAX_FCR_WINDOW_HOURS:g}; got {value!r}")
    return hours


def _smtp_url(value: str | None) -> str | None:
    url = (value or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or not port_ok:
        # Not the URL itself: it may hold a password.
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://user:pass@host:port")
    return url


def _mail_from(value: str | None) -> str:
    text = (value or "").strip() or "Switchboard <support@localhost>"
    _, address = parseaddr(text)
    if "@" not in address or any(c in text for c in "\r\n"):
        raise ValueError(f"MAIL_FROM must be an address such as Support <support@example.com>; got {text!r}")
    return text


def _domain_of(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2].strip().lower()


def _port(name: str, value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{name} must be a port number; got {value!r}")
    return int(value)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("DATA_DIR") or "./data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite://{data_dir / 'switchboard.sqlite3'}"
    if database_url.startswith("sqlite://"):
        data_dir.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("postgresql://"):
        database_url = "postgres://" + database_url[len("postgresql://"):]
    host = env.get("HOST") or "127.0.0.1"
    port = int(env.get("PORT") or 8000)
    transports = tuple(t.strip() for t in (env.get("SOCKETIO_TRANSPORTS") or "polling,websocket").split(",") if t.strip())
    mail_from = _mail_from(env.get("MAIL_FROM"))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=_secret_keys(env, data_dir)[0],
        old_secret_keys=_secret_keys(env, data_dir)[1:],
        shutdown_timeout_seconds=_positive_float(
            "SHUTDOWN_TIMEOUT_SECONDS", env.get("SHUTDOWN_TIMEOUT_SECONDS"), 10.0),
        host=host,
        port=port,
        public_url=(env.get("PUBLIC_URL") or f"http://{host}:{port}").rstrip("/"),
        secure_cookies=_bool(env.get("SECURE_COOKIES")),
        transports=transports,
        log_level=(env.get("LOG_LEVEL") or "info").lower(),
        log_format=(env.get("LOG_FORMAT") or "").strip().lower(),
        metrics_token=(env.get("METRICS_TOKEN") or "").strip() or None,
        message_rate=_rate(env.get("MESSAGE_RATE_LIMIT"), (20, 10.0)),
        new_visitors_per_address=_rate(env.get("NEW_VISITORS_PER_ADDRESS"), (30, 60.0)),
        new_visitors_per_site=_rate(env.get("NEW_VISITORS_PER_SITE"), (600, 60.0)),
        signin_failures_per_pair=_rate(env.get("SIGNIN_FAILURES_PER_PAIR"), (5, 15 * 60.0)),
        signin_failures_per_address=_rate(env.get("SIGNIN_FAILURES_PER_ADDRESS"), (50, 15 * 60.0)),
        signin_failures_per_account=_rate(env.get("SIGNIN_FAILURES_PER_ACCOUNT"), (200, 60 * 60.0)),
        disconnect_grace_seconds=float(env.get("AGENT_DISCONNECT_GRACE_SECONDS") or 60),
        visitor_abandon_grace_seconds=float(env.get("VISITOR_ABANDON_GRACE_SECONDS") or 60),
        live_visitor_gone_seconds=float(env.get("LIVE_VISITOR_GONE_SECONDS") or 10),
        presence_lease_seconds=_positive_float("PRESENCE_LEASE_SECONDS", env.get("PRESENCE_LEASE_SECONDS"), 10.0),
        retention_interval_seconds=_positive_float(
            "RETENTION_INTERVAL_SECONDS", env.get("RETENTION_INTERVAL_SECONDS"), 3600.0),
        center_time_zone=_time_zone(env.get("CENTER_TIME_ZONE")),
        service_level_threshold_seconds=_positive_float(
            "SERVICE_LEVEL_THRESHOLD_SECONDS", env.get("SERVICE_LEVEL_THRESHOLD_SECONDS"), 20.0),
        short_abandon_seconds=_positive_float("SHORT_ABANDON_SECONDS", env.get("SHORT_ABANDON_SECONDS"), 5.0),
        fcr_window_hours=_fcr_window(env.get("FCR_WINDOW_HOURS")),
        qa_veteran_months=_veteran_months(env.get("QA_VETERAN_MONTHS")),
        staffing_concurrency=_positive_float("STAFFING_CONCURRENCY", env.get("STAFFING_CONCURRENCY"), None),
        socket_token_seconds=max(1, round(_positive_float("SOCKET_TOKEN_SECONDS", env.get("SOCKET_TOKEN_SECONDS"), 300))),
        session_max_hours=_positive_float("SESSION_MAX_HOURS", env.get("SESSION_MAX_HOURS"), 12.0),
        session_idle_minutes=_positive_float("SESSION_IDLE_MINUTES", env.get("SESSION_IDLE_MINUTES"), 120.0),
        forwarded_allow_ips=(env.get("FORWARDED_ALLOW_IPS") or "127.0.0.1").strip(),
        site_key_grace_seconds=3600 * _positive_float("SITE_KEY_GRACE_HOURS", env.get("SITE_KEY_GRACE_HOURS"), 168.0),
        smtp_url=_smtp_url(env.get("SMTP_URL")),
        mail_from=mail_from,
        mail_reply_domain=(env.get("MAIL_REPLY_DOMAIN") or "").strip().lower() or _domain_of(mail_from),
        mail_retry_seconds=_positive_float("MAIL_RETRY_SECONDS", env.get("MAIL_RETRY_SECONDS"), 30.0),
        inbound_smtp_host=(env.get("INBOUND_SMTP_HOST") or "127.0.0.1").strip(),
        inbound_smtp_port=_port("INBOUND_SMTP_PORT", env.get("INBOUND_SMTP_PORT")),
        attachments_dir=(env.get("ATTACHMENTS_DIR") or "").strip() or None,
        kb_stale_days=int(_positive_float("KB_STALE_DAYS", env.get("KB_STALE_DAYS"), 180.0)),
    )
