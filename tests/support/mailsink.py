"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests of the mail Switchboard sends,
and `until`, which polls a condition instead of sleeping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.server import free_port


class Sink:
    """aiosmtpd handler: every message, with its envelope; a recipient named refused@… gets a 550."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.lock = threading.Lock()  # the server runs in a thread of its own
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def with_id(self, message_id: str) -> list[tuple[str, list[str], EmailMessage]]:
        with self.lock:
            return [r for r in self.received if r[2]["Message-ID"] == message_id]

    def with_subject(self, text: str) -> list[EmailMessage]:
        with self.lock:
            return [m for _, _, m in self.received if text in str(m["Subject"])]


def mail_sink() -> Iterator[Sink]:
    """A running sink on a free port of 127.0.0.1 (its `port`), stopped after; for a fixture to yield from."""
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


async def until(read, condition, what: str, timeout: float = 20.0):
    """`read()` (sync or async) again and again until `condition` holds of it; returns it."""
    async def poll():
        while True:
            value = read()
            if asyncio.iscoroutine(value):
                value = await value
            if condition(value):
                return value
            await asyncio.sleep(0.05)  # polling a condition, not synchronising by time
    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
