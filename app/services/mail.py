"""Outgoing mail: every mail the product sends is a row first (`OutgoingMail`), then SMTP.

`queue` checks and stores a mail — the recipient must look like an e-mail address and no header may
carry a line break (header injection) — with a Message-ID of its own. With SMTP_URL set it is
`queued` and this worker's sender is woken at once; without it the mail stays in the outbox
(`outbox`, shown on the admin's Outgoing mail page) and is never sent, even once SMTP_URL is set
later: it is a record of what would have gone out.

Sending (`send_forever`, on every worker when SMTP_URL is set, started in the lifespan). A row goes
``queued → sending → sent``, or back to ``queued`` for another attempt after a temporary failure,
and ``failed`` after `MAX_ATTEMPTS` or at once when the server refuses it for good (a 5xx to the
sender, a recipient or the message):

- Claiming is one conditional UPDATE that uses `attempts` as the row's version:
  ``SET status='sending', attempts=n+1, sent_at=now WHERE id=? AND status='queued' AND attempts=n``.
  Of several workers that read the same row, exactly one update matches: no mail is sent twice by
  two workers.
- `sent_at` is when the mail was sent; until then it is when it was last tried (claimed, or its
  attempt failed). Attempt n+1 of a mail that failed n times is due `MAIL_RETRY_SECONDS` × 2^(n-1)
  after that (30 s, 1 min, 2 min, 4 min by default).
- A worker that dies while sending leaves its row `sending`. `STALE_SENDING_SECONDS` after the
  claim (far longer than one attempt may take: `SEND_TIMEOUT_SECONDS`) any worker puts it back in
  the queue — or fails it, when that was its last attempt. Such a mail may have reached the SMTP
  server just before the worker died, and is then sent a second time with the same Message-ID: a
  mail is sent at least once, never lost.

Each worker polls the queue every `POLL_SECONDS` (mail queued on another worker, retries) and at
once when `queue` runs on it; the loop reports to /readyz as ``mail`` (app/loops.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tortoise.expressions import Q

from app import loops, runtime
from app.clock import utcnow
from app.config import Settings
from app.models import OutgoingMail
from app.services import ServiceError

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often each worker looks for mail queued elsewhere and for retries due
BATCH = 20  # rows one pass claims at most
MAX_ATTEMPTS = 5
SEND_TIMEOUT_SECONDS = 120.0  # one attempt, from connecting to the end of DATA
STALE_SENDING_SECONDS = 300.0  # a row `sending` this long after its claim: its worker is gone

STATUSES = ("outbox", "queued", "sending", "sent", "failed")

# Headers the sender writes itself (or that would add recipients): a caller may not set them.
_RESERVED_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "sender", "return-path", "mime-version",
    "content-type", "content-transfer-encoding", "content-disposition",
})
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 field-name: printable ASCII but the colon
# A plausible address: a dot-atom local part (RFC 5322 atext, or any letter: RFC 6531) and a domain
# of two labels or more ending in a name (letters, or an xn-- label). No quoted local parts, no
# address literals, nothing that would need quoting in a header.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[^\W\d_]{{2,63}}|xn--[a-zA-Z0-9-]{{1,59}})")


class MailWake:
    """This worker's sender: woken when a mail is queued here, and when a retry it scheduled is due
    (on the server's runtime)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.retries: list[float] = []  # loop times at which a retry of this worker's falls due (a heap)


def plausible_address(text: object) -> bool:
    """Whether `text` looks like one e-mail address (local@domain.tld, at most 254 characters)."""
    return (isinstance(text, str) and len(text) <= 254 and len(text.partition("@")[0]) <= 64
            and _ADDRESS.fullmatch(text) is not None)


def _check_header(name: object, value: object) -> None:
    if not isinstance(name, str) or _HEADER_NAME.fullmatch(name) is None:
        raise ServiceError("bad_request", "%(name)s is not a header name.", name=repr(str(name)[:40]))
    if name.lower() in _RESERVED_HEADERS:
        raise ServiceError("bad_request", "The %(name)s header is set by the sender.", name=name)
    if not isinstance(value, str) or len(value) > 998 or any(c in value for c in "\r\n\0"):
        raise ServiceError("bad_request", "The %(name)s header must be one line of at most 998 characters.",
                           name=name)


def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


async def queue(to: str, subject: str, body: str, *, work_order_id: int | None = None, purpose: str = "",
                headers: dict[str, str] | None = None) -> OutgoingMail:
    """Store a plain-text mail to `to` and have it sent (`queued`), or keep it in the outbox
    (`outbox`) when no SMTP_URL is set. `headers` are extra ones (Reply-To, In-Reply-To, References,
    Auto-Submitted …); the Message-ID is made here (``<uuid@domain of MAIL_FROM>``) and kept in the
    row's headers. Refuses (bad_request) an address that is not one plausible e-mail address, and a
    subject or header with a line break (header injection)."""
    to = to.strip() if isinstance(to, str) else to
    if not plausible_address(to):
        raise ServiceError("bad_request", "The recipient is not a valid e-mail address.", "to")
    if not isinstance(subject, str) or any(c in subject for c in "\r\n\0"):
        raise ServiceError("bad_request", "The subject must be one line.", "subject")
    if len(subject) > 300:
        raise ServiceError("bad_request", "The subject is longer than 300 characters.", "subject")
    if not isinstance(body, str) or "\0" in body:
        raise ServiceError("bad_request", "The body must be text.", "body")
    if len(purpose) > 32:
        raise ServiceError("bad_request", "The purpose is longer than 32 characters.", "purpose")
    for name, value in (headers or {}).items():
        _check_header(name, value)
    rt = runtime.current()
    settings = rt.settings
    row = await OutgoingMail.create(
        to_address=to, subject=subject, body=body, work_order_id=work_order_id, purpose=purpose,
        headers={"Message-ID": f"<{uuid.uuid4().hex}@{_domain(settings.mail_from)}>", **(headers or {})},
        status="queued" if settings.smtp_url else "outbox", attempts=0, created_at=utcnow())
    if settings.smtp_url:
        rt.state(MailWake).event.set()
    return row


# --- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    """Where SMTP_URL says to send: smtp://user:pass@host:port (STARTTLS when the server offers
    it; ``?starttls=1`` requires it, ``?starttls=0`` never) or smtps://… (TLS from the start)."""

    hostname: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    start_tls: bool | None = None  # None: when offered


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    flag = (parse_qs(parts.query).get("starttls") or [""])[0].strip().lower()
    start_tls = True if flag in ("1", "true", "yes") else False if flag in ("0", "false", "no") else None
    use_tls = parts.scheme == "smtps"
    return SmtpServer(hostname=parts.hostname or "localhost", port=parts.port or (465 if use_tls else 25),
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None,
                      use_tls=use_tls, start_tls=None if use_tls else start_tls)


def message_of(row: OutgoingMail, settings: Settings) -> EmailMessage:
    """The mail as it goes out: From MAIL_FROM, the row's headers, a UTF-8 plain-text body."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(utcnow())
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body, charset="utf-8")
    return message


def _backoff(failed_attempts: int, retry_seconds: float) -> float:
    """How long after its n-th failed attempt a mail is tried again."""
    return retry_seconds * 2 ** (failed_attempts - 1)


def _permanent(exc: BaseException) -> bool:
    """The server refused the mail for good (5xx to the sender, the recipient or the data)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return (isinstance(exc, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPSenderRefused,
                             aiosmtplib.SMTPDataError)) and exc.code >= 500)


def _describe(exc: BaseException) -> str:
    text = str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "")
    return f"{type(exc).__name__}: {text}"[:300]


async def _deliver(message: EmailMessage, sender: str, recipient: str, server: SmtpServer) -> None:
    await aiosmtplib.send(message, sender=sender, recipients=[recipient], hostname=server.hostname,
                          port=server.port, username=server.username, password=server.password,
                          use_tls=server.use_tls, start_tls=server.start_tls, timeout=60)


async def _requeue_stale() -> None:
    """Rows left `sending` by a worker that died: back in the queue, or failed after the last attempt."""
    since = utcnow() - timedelta(seconds=STALE_SENDING_SECONDS)
    for row in await OutgoingMail.filter(status="sending", sent_at__lte=since).values("id", "attempts"):
        last = row["attempts"] >= MAX_ATTEMPTS
        await OutgoingMail.filter(id=row["id"], status="sending", attempts=row["attempts"]).update(
            status="failed" if last else "queued",
            last_error="The worker sending it stopped before the SMTP server answered.")


def _due_query(retry_seconds: float) -> Q:
    now = utcnow()
    due = Q(attempts=0)
    for n in range(1, MAX_ATTEMPTS):
        due |= Q(attempts=n, sent_at__lte=now - timedelta(seconds=_backoff(n, retry_seconds)))
    return Q(status="queued") & due


async def _attempt(mail_id: int, settings: Settings, wake: MailWake) -> None:
    """Send one claimed mail and record how it went."""
    row = await OutgoingMail.get(id=mail_id)
    version = row.attempts  # the claim's: what this worker may change the row from
    mine = OutgoingMail.filter(id=mail_id, status="sending", attempts=version)
    try:
        await asyncio.wait_for(
            _deliver(message_of(row, settings), parseaddr(settings.mail_from)[1], row.to_address,
                     smtp_server(settings.smtp_url or "")),
            SEND_TIMEOUT_SECONDS)
    except asyncio.CancelledError:
        # The server stops: back in the queue for whichever worker runs next (an attempt spent).
        with contextlib.suppress(Exception):
            await asyncio.shield(mine.update(status="queued", last_error="The worker stopped while sending."))
        raise
    except Exception as exc:
        error = _describe(exc)
        if _permanent(exc) or version >= MAX_ATTEMPTS:
            log.warning("mail %d failed for good after %d attempts: %s", mail_id, version, error)
            await mine.update(status="failed", last_error=error, sent_at=utcnow())
        else:
            delay = _backoff(version, settings.mail_retry_seconds)
            log.info("mail %d: attempt %d failed (%s), again in %.0f s", mail_id, version, error, delay)
            await mine.update(status="queued", last_error=error, sent_at=utcnow())
            heapq.heappush(wake.retries, asyncio.get_running_loop().time() + delay)
        return
    await mine.update(status="sent", sent_at=utcnow(), last_error=None)


async def send_due() -> int:
    """One pass of this worker's sender: stale claims back in the queue, then the mail that is due,
    claimed row by row and sent one after the other. Returns how many mails it tried."""
    rt = runtime.current()
    settings = rt.settings
    wake = rt.state(MailWake)
    await _requeue_stale()
    tried = 0
    rows = await OutgoingMail.filter(_due_query(settings.mail_retry_seconds)).order_by("id").limit(BATCH) \
        .values("id", "attempts")
    for row in rows:
        claimed = await OutgoingMail.filter(id=row["id"], status="queued", attempts=row["attempts"]).update(
            status="sending", attempts=row["attempts"] + 1, sent_at=utcnow())
        if not claimed:
            continue  # another worker took it first
        await _attempt(row["id"], settings, wake)
        loops.succeeded("mail")  # progress, whatever the SMTP server answered (the row says)
        tried += 1
    return tried


async def send_forever(interval: float = POLL_SECONDS) -> None:
    """Every worker, with SMTP_URL set: send what is due, then wait for a mail queued here, a retry
    of this worker's falling due, or `interval` seconds."""
    wake = runtime.current().state(MailWake)
    loop = asyncio.get_running_loop()
    # /readyz: stalled without progress (a pass, or one mail tried) for longer than the longest
    # attempt may take — a slow SMTP server alone does not take the worker out of service.
    loops.started("mail", max(interval, SEND_TIMEOUT_SECONDS / loops.STALL_AFTER))
    while True:
        wake.event.clear()  # before the pass: a mail queued during it wakes the next one
        while wake.retries and wake.retries[0] <= loop.time():
            heapq.heappop(wake.retries)
        full = False
        try:
            full = await send_due() >= BATCH
            loops.succeeded("mail")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next pass retries
            loops.failed("mail", exc)
            log.exception("sending mail failed")
        if full:
            continue  # more may be due at once
        timeout = interval
        if wake.retries:
            timeout = max(0.0, min(timeout, wake.retries[0] - loop.time()))
        try:
            await asyncio.wait_for(wake.event.wait(), timeout)
        except TimeoutError:
            pass


# --- reading (the admin's Outgoing mail page) ------------------------------------------------------


async def outbox(limit: int = 100, offset: int = 0, status: str | None = None) -> list[dict[str, Any]]:
    """Mail newest first, all of it or of one status ("queued" includes the mail being sent)."""
    query = OutgoingMail.all()
    if status == "queued":
        query = query.filter(status__in=("queued", "sending"))
    elif status:
        query = query.filter(status=status)
    rows = await query.order_by("-id").offset(max(0, offset)).limit(max(0, limit)).values(
        "id", "to_address", "subject", "body", "headers", "purpose", "status", "attempts", "last_error",
        "created_at", "sent_at", "work_order_id", "work_order__number")
    return [{
        "id": r["id"], "to": r["to_address"], "subject": r["subject"], "body": r["body"],
        "message_id": (r["headers"] or {}).get("Message-ID"), "purpose": r["purpose"], "status": r["status"],
        "attempts": r["attempts"], "last_error": r["last_error"], "created_at": r["created_at"],
        "sent_at": r["sent_at"], "work_order_id": r["work_order_id"], "work_order_number": r["work_order__number"],
    } for r in rows]
