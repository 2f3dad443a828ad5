"""Staff sessions, kept on the server: a sign-in makes one; sign-out, deactivation, a password
change and "sign out everywhere" end it, and so do idle time and an absolute lifetime.

The browser holds a random token (inside the signed `sb_session` cookie); the table keeps only its
SHA-256, so a copy of the table opens nothing, and a copy of the cookie opens nothing once the
session has ended. A console's socket token names its session and lives minutes
(SOCKET_TOKEN_SECONDS); the console renews it over HTTP while the session lasts. Each console
socket sits in its session's room (`bus.session_room`), so ending a session closes its sockets on
every worker at once; every socket event checks the session again (`socket_user`: one SELECT
written once, no ORM), which covers a worker that missed the broadcast.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from app import bus, rows, runtime
from app.clock import utcnow
from app.models import StaffSession, User
from app.security import hash_password, verify_password
from app.services import ServiceError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
MAX_TOKEN_CHARS = 128
# `last_seen_at` is written at most this often (or a tenth of the idle timeout, if shorter), so a
# busy console does not write a row on every request.
TOUCH_EVERY = timedelta(minutes=1)

ENDED_MESSAGE = "Your session has ended. Sign in again."


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_limit() -> timedelta:
    return timedelta(minutes=runtime.current().settings.session_idle_minutes)


def _ended(session: StaffSession, now: datetime, *, idle: bool = True) -> bool:
    return _over(session.revoked_at, session.expires_at, session.last_seen_at, session.user.is_active, now, idle=idle)


def _over(revoked_at: datetime | None, expires_at: datetime, last_seen_at: datetime, active: bool, now: datetime,
          *, idle: bool) -> bool:
    return (revoked_at is not None or expires_at <= now
            or (idle and last_seen_at <= now - _idle_limit())
            or not active)


async def start(user: User, *, user_agent: str | None = None, address: str | None = None) -> str:
    """A new session of `user`; returns the token for the browser (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await StaffSession.create(
        token_hash=hash_token(token), user=user, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=runtime.current().settings.session_max_hours),
        user_agent=(user_agent or "")[:256] or None, address=(address or "")[:64] or None,
    )
    return token


async def resolve(token: object) -> StaffSession | None:
    """The live session of a browser's token (its `user` loaded), or None. Counts as activity."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    session = await StaffSession.get_or_none(token_hash=hash_token(token)).select_related("user")
    now = utcnow()
    if session is None or _ended(session, now):
        return None
    if now - session.last_seen_at >= min(TOUCH_EVERY, _idle_limit() / 10):
        session.last_seen_at = now
        await StaffSession.filter(id=session.id, revoked_at=None).update(last_seen_at=now)
    return session


def socket_token(session: StaffSession) -> str:
    return runtime.current().signer.socket_token(session.user_id, session.id)


async def for_socket(token: object) -> StaffSession:
    """The session a socket token opens (its `user` loaded). The token's own age is checked here
    (TokenError `token_expired` / `invalid_token` / `unauthorized`); a session that has ended is
    ServiceError `unauthorized`."""
    rt = runtime.current()
    user_id, session_id = rt.signer.read_socket_token(token, rt.settings.socket_token_seconds)
    return await for_socket_session(session_id, user_id)


async def for_socket_session(session_id: object, user_id: object, *, connected: bool = False) -> StaffSession:
    """The session of a socket, if it has not ended. Idle time counts when a socket connects, not
    for one `connected` already: an open console is in use (and renews its token over HTTP, which
    counts as activity)."""
    session = None
    if type(session_id) is int and type(user_id) is int:
        session = await StaffSession.get_or_none(id=session_id, user_id=user_id).select_related("user")
    if session is None or _ended(session, utcnow(), idle=not connected):
        raise ServiceError("unauthorized", ENDED_MESSAGE)
    return session


# A socket's session and its user in one statement written once (app/rows.py): it runs on every
# event of every console, so it is checked as often as before without the ORM's per-call SQL.
_SOCKET_USER = rows.Select(lambda: (
    'SELECT s."revoked_at" AS "s_revoked_at", s."expires_at" AS "s_expires_at", '
    f's."last_seen_at" AS "s_last_seen_at", {rows.columns(User, "u")} '
    "FROM staff_session s JOIN app_user u ON u.id = s.user_id WHERE s.id = {} AND s.user_id = {}"
))


async def socket_user(session_id: object, user_id: object, *, connected: bool = False) -> User:
    """The user of a socket's session, if the session has not ended (revoked, past its lifetime,
    idle — when the socket connects, as `for_socket_session` — or its user deactivated); else
    ServiceError `unauthorized`. Read afresh on every call."""
    found = []
    if type(session_id) is int and type(user_id) is int:
        found = await _SOCKET_USER.rows(StaffSession, session_id, user_id)
    if not found:
        raise ServiceError("unauthorized", ENDED_MESSAGE)
    row = found[0]
    user = rows.instance(User, row)
    if _over(rows.value(StaffSession, "revoked_at", row["s_revoked_at"]),
             rows.value(StaffSession, "expires_at", row["s_expires_at"]),
             rows.value(StaffSession, "last_seen_at", row["s_last_seen_at"]),
             user.is_active, utcnow(), idle=not connected):
        raise ServiceError("unauthorized", ENDED_MESSAGE)
    return user


async def end(session: StaffSession, reason: str = "signed_out") -> None:
    """Sign-out: this session ends, and its consoles are disconnected on every worker."""
    await StaffSession.filter(id=session.id, revoked_at=None).update(revoked_at=utcnow(), revoked_reason=reason)
    await bus.disconnect_room(bus.session_room(session.id))


async def end_all(user_id: int, reason: str) -> int:
    """Every session of a user ends (deactivation, a password change, "sign out everywhere"), and
    every console of theirs is disconnected on every worker. Returns how many were not yet revoked."""
    ended = await StaffSession.filter(user_id=user_id, revoked_at=None).update(
        revoked_at=utcnow(), revoked_reason=reason)
    await bus.disconnect_room(bus.agent_room(user_id))
    return ended


def check_new_password(password: object) -> str:
    if not isinstance(password, str):
        raise ServiceError("bad_request", "Enter a new password.")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ServiceError("bad_request", "The new password must have at least %(least)s characters.",
                           least=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        raise ServiceError("too_large", "The new password may have at most %(most)s characters.",
                           most=MAX_PASSWORD_CHARS)
    return password


async def change_password(session: StaffSession, current: str, new: str) -> str:
    """The signed-in user changes their password: every session of theirs ends (a stolen cookie
    with it), and this browser gets a new one. Returns the new session's token."""
    user = session.user
    if not verify_password(user.password_hash, current or ""):
        raise ServiceError("forbidden", "The current password is not correct.")
    new = check_new_password(new)
    if new == current:
        raise ServiceError("bad_request", "The new password must differ from the current one.")
    user.password_hash = hash_password(new)
    await user.save(update_fields=["password_hash"])
    await end_all(user.id, "password_changed")
    return await start(user, user_agent=session.user_agent, address=session.address)
