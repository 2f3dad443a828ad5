"""Work orders by e-mail, end to end, with real mail servers: Switchboard sends through SMTP to an
`aiosmtpd` server of the test's (the customer's mailbox) and takes the customer's answers on its own
inbound SMTP port. A CSR files an order for a customer and dispatches it to the back office; the
handler (who takes no chats) replies from the order page and resolves it; the customer receives the
creation, the reply and the resolution (with the thread), answers the reply by e-mail — quoted text
and all — and the answer, without the quote, is in the handler's thread."""

from __future__ import annotations

import asyncio
import email
import json
import re
from email.message import EmailMessage
from email.policy import default as default_policy

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Page, expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import sign_in
from tests.support.clients import new_id
from tests.support.server import cli, free_port

TIMEOUT = 30_000


class Mailbox:
    """What the SMTP server of the test received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    async def wait_for(self, subject_part: str, timeout: float = 30.0) -> email.message.EmailMessage:
        async def found():
            while True:
                for m in self.messages:
                    if subject_part in str(m["Subject"]):
                        return m
                await asyncio.sleep(0.1)
        return await asyncio.wait_for(found(), timeout)


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def center(request, mailbox):
    _, smtp_port = mailbox
    inbound = free_port()
    yield from own_deployment(request, "work-orders-mail", extra_env={
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=0", "MAIL_FROM": "Acme Support <support@acme.test>",
        "MAIL_REPLY_DOMAIN": "reply.acme.test", "INBOUND_SMTP_PORT": str(inbound), "MAIL_RETRY_SECONDS": "1"})


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


async def api(page: Page, base: str, path: str, data: dict) -> dict:
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = await page.request.post(base + path, data=data, headers={"X-CSRF-Token": token})
    body = await response.json()
    assert response.ok, body
    return body


async def test_the_customer_hears_of_each_step_and_answers_by_mail(center, mailbox, new_page):
    d, (box, _) = center, mailbox
    t = new_id()[:6]
    csr, hal = f"cora-{t}@example.com", f"hal-{t}@example.com"
    d.create_user(csr, "agent", f"Cora {t}")
    d.create_user(hal, "handler", f"Hal {t}")
    setup = json.loads(cli(d.env, "work-setup", "--team", f"Billing {t}", "--members", hal, "--json"))
    team_id = next(team["id"] for team in setup["teams"] if team["name"] == f"Billing {t}")
    customer = f"mei-{t}@example.com"
    base = d.server.url

    # The CSR files the order (its pages are tested elsewhere) and dispatches it to the back office.
    _, page, errors = await new_page()
    await sign_in(page, base, csr, d.password)
    await page.goto(base + "/work-orders")
    created = await api(page, base, "/api/work-orders", {
        "site_id": 1, "subject": f"Invoice with VAT {t}", "description": "Please resend invoice 10442.",
        "customer_name": "Mei", "customer_email": customer})
    order = created["order"]
    await api(page, base, f"/api/work-orders/{order['id']}/dispatch", {"team_id": team_id})
    first = await box.wait_for(f"[{order['number']}] We received your request")
    assert first["To"] == customer and "support@acme.test" in first["From"]
    reply_to = first["Reply-To"].addresses[0].addr_spec
    assert re.fullmatch(r"reply\+\d+\.[0-9a-f]{32}@reply\.acme\.test", reply_to)
    assert re.search(r"/requests/\d+\.[0-9a-f]{32}", body_of(first))

    # The handler: lands on Work orders, opens the order, replies to the customer.
    _, handler, handler_errors = await new_page()
    await handler.goto(base + "/login")
    await handler.get_by_label("Email").fill(hal)
    await handler.get_by_label("Password").fill(d.password)
    await handler.get_by_role("button", name="Sign in").click()
    await expect(handler.get_by_role("heading", name="Work orders", exact=True)).to_be_visible(timeout=TIMEOUT)
    await handler.get_by_role("link", name=order["number"], exact=True).click()
    await handler.get_by_label("Message").fill(f"Here is the invoice again, with your VAT number ({t}).")
    await handler.get_by_role("button", name="Reply to customer").click()
    reply = await box.wait_for(f"[{order['number']}] Re:")
    assert f"with your VAT number ({t})" in body_of(reply) and f"Hal {t}" in body_of(reply)

    # The customer answers the reply by e-mail, quoting it.
    answer = EmailMessage()
    answer["From"] = f"Mei <{customer}>"
    answer["To"] = reply_to
    answer["Subject"] = "Re: " + str(reply["Subject"])
    answer.set_content(f"Thanks, received! The VAT number is right ({t}).\n\n"
                       f"On Thu, Acme Support <support@acme.test> wrote:\n> Here is the invoice again\n")
    await aiosmtplib.send(answer, hostname="127.0.0.1", port=int(d.env["INBOUND_SMTP_PORT"]))
    await handler.reload()
    thread = handler.get_by_role("region", name="Thread")
    await expect(thread.get_by_text(f"The VAT number is right ({t}).")).to_be_visible(timeout=TIMEOUT)
    await expect(thread.get_by_text("Here is the invoice again", exact=True)).to_have_count(0)

    # Resolved: the customer gets the resolution with the whole public thread.
    await handler.get_by_role("button", name="Resolve").click()
    resolved = await box.wait_for(f"[{order['number']}] Resolved:")
    text = body_of(resolved)
    assert f"with your VAT number ({t})" in text and f"The VAT number is right ({t})" in text
    assert not errors.errors and not handler_errors.errors
