"""The SMTP receiver of customers' replies: mail to an order's reply address becomes the
customer's reply in the order's thread (`workorders.reply_from_mail`).

An asyncio server on the worker's own event loop (aiosmtpd's SMTP protocol through
`loop.create_server`, not its threaded `Controller`), so each message is handled with the server's
runtime and database like any request. Started in the lifespan when INBOUND_SMTP_PORT is set — on
one worker only, or behind a real MTA that forwards the reply domain to it (docs/deployment.md,
"Mail"). It speaks plain SMTP without TLS or AUTH: bind it to 127.0.0.1 or a private network.

What it answers:
- RCPT: a reply address (``reply+TOKEN@…``, any domain) is taken; anything else is refused with
  550 (no relaying, no catch-all).
- DATA: the message (at most `MAX_MESSAGE_BYTES`) is read with the stdlib `email` package; its text
  is the text/plain body, else the HTML body turned into text, without quoted mail and signatures
  (app/mail/text.py). Nothing left: 550 "Empty reply". Each recipient's order takes the reply; an
  order that refuses it (a forged or revoked token, a closed order) answers 550 with the reason.
  Automatic mail — bounces (an empty sender), auto-replies (``Auto-Submitted``, ``Precedence:
  bulk``…), delivery reports — is accepted and dropped, so an out-of-office cannot reopen an order
  or start a mail loop. An unexpected fault answers 451: the sending MTA tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

from app import db, runtime
from app.mail.text import reply_text
from app.services import ServiceError, workorders

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_RECIPIENTS = 10  # reply addresses in one message
_REPLY_ADDRESS = re.compile(r"reply\+[^@\s]{1,100}@[^@\s]{1,253}", re.IGNORECASE)


def is_reply_address(address: str) -> bool:
    """Whether an order's reply address could be this one (the order checks its token)."""
    return _REPLY_ADDRESS.fullmatch(address or "") is not None


def is_automatic(message: EmailMessage, envelope_sender: str | None) -> bool:
    """A bounce, an auto-reply or a delivery report (RFC 3834, RFC 3464): not a customer writing."""
    if envelope_sender in (None, "", "<>"):
        return True
    auto = str(message.get("auto-submitted") or "").strip().lower()
    if auto and auto != "no":
        return True
    if str(message.get("precedence") or "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if any(name in message for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress")):
        return True
    return message.get_content_type() == "multipart/report"


def _sender(message: EmailMessage, envelope_sender: str) -> str:
    """Who wrote: the From address, else the envelope's sender."""
    try:
        addresses = message["from"].addresses if message["from"] is not None else ()
    except Exception:  # a From header the parser could not make sense of
        addresses = ()
    return addresses[0].addr_spec if addresses and addresses[0].addr_spec else envelope_sender


def _smtp_text(text: str) -> str:
    """One line of printable ASCII for an SMTP reply."""
    return "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))[:200]


class ReplyHandler:
    """aiosmtpd's handler hooks, run for the server's runtime and database."""

    def __init__(self, rt: runtime.Runtime) -> None:
        self.runtime = rt

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not is_reply_address(address):
            return "550 5.1.1 No such recipient here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with runtime.activated(self.runtime), db.using(self.runtime.database):
            try:
                return await self._deliver(envelope)
            except Exception:
                log.exception("a reply mail from %s could not be taken", envelope.mail_from)
                return "451 4.3.0 Temporary failure, try again later"

    async def _deliver(self, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        if is_automatic(message, envelope.mail_from):
            log.info("automatic mail from %r to %s dropped", envelope.mail_from, envelope.rcpt_tos)
            return "250 2.6.0 Automatic message ignored"
        text = reply_text(message)
        if not text:
            return "550 5.6.0 Empty reply"
        sender = _sender(message, envelope.mail_from or "")
        subject = " ".join(str(message.get("subject") or "").split())
        refusals: list[str] = []
        for recipient in envelope.rcpt_tos:
            try:
                await workorders.reply_from_mail(recipient, sender, subject, text)
            except ServiceError as exc:
                log.info("a reply mail to %s was refused: %s", recipient, exc.message)
                refusals.append(exc.message)
        if len(refusals) == len(envelope.rcpt_tos):
            return f"550 5.7.1 {_smtp_text(refusals[0]) or 'Refused'}"
        return "250 2.0.0 OK"


class Receiver:
    """The listening SMTP server and the sessions it has open."""

    def __init__(self) -> None:
        self.server: asyncio.AbstractServer | None = None
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end the sessions still open (their handlers are cancelled)."""
        if self.server is not None:
            self.server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        if self.server is not None:
            await self.server.wait_closed()


async def start(host: str, port: int) -> Receiver:
    """Listen for reply mail on host:port (port 0: any free one), for the current server."""
    rt = runtime.current()
    handler = ReplyHandler(rt)
    loop = asyncio.get_running_loop()
    receiver = Receiver()

    def session() -> SMTP:
        protocol = SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True,
                        hostname=rt.settings.mail_reply_domain, ident="Switchboard", loop=loop)
        receiver.sessions.add(protocol)
        return protocol

    receiver.server = await loop.create_server(session, host, port)
    return receiver
