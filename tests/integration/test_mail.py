"""Mail (app/services/mail.py, app/mail/inbound.py, the admin's Outgoing mail page), against real
SMTP: an aiosmtpd server of the test's own receives what Switchboard sends, and aiosmtplib sends the
customers' replies to Switchboard's receiver.

- Two workers on PostgreSQL + Redis send each queued mail exactly once.
- An in-process server (SQLite) with SMTP_URL: a mail reaches the SMTP server with its From, To,
  Subject, Message-ID and UTF-8 body; header injection is refused; a 5xx fails a mail at once.
- Its reply receiver: unknown recipients get 550; a work order's mail is answered by mail (quotes and
  signatures stripped, HTML turned into text); a forged token, an empty reply and an oversized
  message are refused; an auto-reply is dropped.
- A server whose SMTP server refuses connections retries, then marks the mail failed.
- A server without SMTP_URL keeps mail in the outbox, shown to admins on /admin/outgoing-mail.

The PostgreSQL test comes first: databases opened in this process at the same time must all be of
one kind (tests/support/inprocess.py), and the in-process servers below are SQLite.
"""

from __future__ import annotations

import contextlib
import re
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from app import db, loops
from app import runtime as runtime_mod
from app.models import OutgoingMail, Site, WorkOrderEntry
from app.services import ServiceError, mail, workorders
from tests.support import inprocess
from tests.support.mailsink import mail_sink, until
from tests.support.server import deploy, free_port
from tests.support.web import signed_in

ADMIN = "root@example.com"
FROM = "Shop Support <support@shop.example>"
CUSTOMER = "ann@example.com"


@pytest.fixture(scope="module")
def sink():
    yield from mail_sink()


@contextlib.contextmanager
def inside(server: inprocess.InProcessServer):
    """Run service calls as the server's own code: its runtime, its database."""
    with runtime_mod.activated(server.runtime), db.using(server.runtime.database):
        yield


async def mail_row(server: inprocess.InProcessServer, mail_id: int) -> OutgoingMail:
    with inside(server):
        return await OutgoingMail.get(id=mail_id)


# --- two workers, one queue -------------------------------------------------------------------------


@pytest.fixture
def pair(sink, new_postgres_database, redis_url):
    """Two server processes on PostgreSQL + Redis, both sending to the sink."""
    deployment = deploy(database_url=new_postgres_database(), redis_url=redis_url, processes=2,
                        extra_env={"SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "MAIL_FROM": FROM})
    yield deployment
    deployment.stop()


async def test_two_workers_send_each_mail_exactly_once(pair, sink):
    tag = "pair-" + pair.redis_prefix[3:11]
    async with inprocess.database(pair, runtime=True):  # queued by a third process: both workers poll
        ids = [(await mail.queue(f"c{i}@example.com", f"{tag} {i}", f"Mail {i}")).id for i in range(40)]
    await until(lambda: sink.with_subject(tag), lambda got: len(got) >= 40, "the 40 mails")

    async def rows():
        async with inprocess.database(pair):
            return await OutgoingMail.filter(id__in=ids).values("status", "attempts", "headers")
    done = await until(rows, lambda got: all(r["status"] == "sent" for r in got), "every mail sent")
    # Every row is sent, so every send is over: each mail arrived once, after one attempt.
    got = sink.with_subject(tag)
    assert len(got) == 40
    assert sorted(str(m["Message-ID"]) for m in got) == sorted(r["headers"]["Message-ID"] for r in done)
    assert {r["attempts"] for r in done} == {1}


# --- one server with SMTP and the reply receiver ------------------------------------------------------


@pytest.fixture(scope="module")
async def shop(sink):
    """An in-process server sending to the sink, with its reply receiver on a port of its own."""
    inbound_port = free_port()
    deployment = await inprocess.prepare(extra_env={
        "SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "MAIL_FROM": FROM, "MAIL_REPLY_DOMAIN": "reply.shop.example",
        "INBOUND_SMTP_PORT": str(inbound_port), "MAIL_RETRY_SECONDS": "0.05"})
    try:
        async with inprocess.serve(deployment) as server:
            server.inbound_port = inbound_port
            yield server
    finally:
        deployment.stop()


async def test_a_queued_mail_reaches_the_smtp_server_as_utf8_text(shop, sink):
    body = "张先生，您好：\n\n您的工单已登记，我们会尽快处理。\n\n— 客服"
    with inside(shop):
        row = await mail.queue(CUSTOMER, "[WO-1] 我们已收到您的请求：退款", body, purpose="created",
                               headers={"Reply-To": "reply+1.abc@reply.shop.example"})
    assert row.status == "queued"
    message_id = row.headers["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{32}@shop\.example>", message_id)
    [(sender, recipients, message)] = await until(lambda: sink.with_id(message_id), bool, "the mail")
    assert sender == "support@shop.example" and recipients == [CUSTOMER]
    assert str(message["From"]) == FROM and str(message["To"]) == CUSTOMER
    assert str(message["Subject"]) == "[WO-1] 我们已收到您的请求：退款"
    assert str(message["Reply-To"]) == "reply+1.abc@reply.shop.example"
    assert message["Date"] is not None
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == body  # CRLF lines on the wire
    sent = await until(lambda: mail_row(shop, row.id), lambda r: r.status == "sent", "the row marked sent")
    assert sent.attempts == 1 and sent.sent_at is not None and sent.last_error is None
    assert shop.runtime.state(loops.Loops)["mail"].last_success is not None  # /readyz sees the sender


async def test_header_injection_and_implausible_addresses_are_refused(shop):
    with inside(shop):
        before = await OutgoingMail.all().count()
        for to, subject, headers in (
                (f"{CUSTOMER}\r\nBcc: everyone@example.com", "Hi", None),
                ("ann@example.com, bob@example.com", "Hi", None),
                ("not an address", "Hi", None),
                ("ann@localhost", "Hi", None),
                (CUSTOMER, "Hi\r\nBcc: everyone@example.com", None),
                (CUSTOMER, "Hi", {"Reply-To": "x@example.com\nBcc: everyone@example.com"}),
                (CUSTOMER, "Hi", {"In-Reply-To": "<a@b>\r\n\r\nfake body"}),
                (CUSTOMER, "Hi", {"Bcc": "everyone@example.com"}),
                (CUSTOMER, "Hi", {"Bad Name": "x"}),
                (CUSTOMER, "x" * 301, None)):
            with pytest.raises(ServiceError) as refused:
                await mail.queue(to, subject, "Body", headers=headers)
            assert refused.value.code == "bad_request", (to, subject, headers)
        assert await OutgoingMail.all().count() == before


async def test_a_recipient_the_server_refuses_fails_at_once(shop):
    with inside(shop):
        row = await mail.queue("refused@example.com", "Nobody home", "Body")
    failed = await until(lambda: mail_row(shop, row.id), lambda r: r.status == "failed", "the mail failed")
    assert failed.attempts == 1 and "550" in failed.last_error


async def reply(port: int, to: str, message: EmailMessage, sender: str = CUSTOMER) -> None:
    """Send `message` to Switchboard's receiver (raises aiosmtplib's errors on a refusal)."""
    await aiosmtplib.send(message, sender=sender, recipients=[to], hostname="127.0.0.1", port=port,
                          start_tls=False, timeout=30)


def plain(text: str, subject: str = "Re: your request", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Ann <{CUSTOMER}>"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


async def test_unknown_recipients_are_refused_at_rcpt(shop):
    for to in ("support@reply.shop.example", "postmaster@example.com", "reply@reply.shop.example"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await reply(shop.inbound_port, to, plain("Hello"))
        assert refused.value.recipients[0].code == 550


async def test_a_customer_answers_a_work_order_by_mail(shop, sink):
    with inside(shop):
        site = await Site.first()
        order = await workorders.create(None, {"site_id": site.id, "subject": "Parcel damaged",
                                               "customer_email": CUSTOMER, "customer_name": "Ann"})
        address = workorders.reply_address(order)
    assert address.startswith("reply+") and address.endswith("@reply.shop.example")
    # The order's first mail went out with its reply address.
    [created] = await until(lambda: [m for _, _, m in sink.received if order.number in str(m["Subject"])],
                            bool, "the order's mail")
    assert str(created["Reply-To"]) == address

    async def entries():
        with inside(shop):
            return await WorkOrderEntry.filter(work_order_id=order.id, kind="customer").order_by("id") \
                .values_list("body", "via")

    # A plain-text reply: the quoted mail below "On … wrote:" and the signature are not kept.
    await reply(shop.inbound_port, address, plain(
        "Yes, the box was crushed.\n- the lid is broken\n- one cup is missing\n\n-- \nAnn Smith\n+1 555 0100\n\n"
        f"On Mon, 1 Jun 2026 at 10:00, Shop Support <support@shop.example> wrote:\n> Hello Ann,\n> {order.number}\n"))
    got = await until(entries, lambda e: len(e) == 1, "the first reply")
    assert got == [("Yes, the box was crushed.\n- the lid is broken\n- one cup is missing", "email")]

    # An HTML-only reply becomes text: no tag, no script, no quoted <blockquote>.
    html = EmailMessage()
    html["From"] = CUSTOMER
    html["Subject"] = f"Re: [{order.number}] Parcel damaged"
    html.set_content("<html><head><style>p{color:red}</style></head><body><p>Photos&nbsp;attached, "
                     "<b>see</b> below &lt;3</p><script>alert(1)</script><div>Thanks</div>"
                     "<div class=\"gmail_quote\">On Mon, Support wrote:<blockquote>Hello Ann</blockquote></div>"
                     "</body></html>", subtype="html")
    local, _, domain = address.partition("@")
    await reply(shop.inbound_port, f"REPLY+{local[6:]}@{domain.upper()}", html)  # any case but the token's
    got = await until(entries, lambda e: len(e) == 2, "the HTML reply")
    assert got[1] == ("Photos attached, see below <3\n\nThanks", "email")

    # Quoted lines with no header above them go too; Chinese reply headers are recognised.
    await reply(shop.inbound_port, address, plain("> Is it broken?\n是的，坏了。\n\n在 2026年6月1日 10:00，客服 写道：\n> 您好"))
    got = await until(entries, lambda e: len(e) == 3, "the Chinese reply")
    assert got[2] == ("是的，坏了。", "email")

    # Nothing new in it: refused, and nothing is stored.
    with pytest.raises(aiosmtplib.SMTPDataError) as empty:
        await reply(shop.inbound_port, address, plain("On Mon, 1 Jun 2026, Support wrote:\n> Hello Ann\n"))
    assert empty.value.code == 550 and "Empty reply" in empty.value.message
    # A forged token is refused with the order's reason.
    forged = re.sub(r"\.[0-9a-f]{32}@", "." + "0" * 32 + "@", address)
    with pytest.raises(aiosmtplib.SMTPDataError) as bad:
        await reply(shop.inbound_port, forged, plain("Let me in"))
    assert bad.value.code == 550 and "not valid" in bad.value.message
    # An out-of-office answer and a bounce are accepted and dropped.
    await reply(shop.inbound_port, address, plain("I am away until Monday.", Auto_Submitted="auto-replied"))
    await reply(shop.inbound_port, address, plain("Delivery failed."), sender="")
    assert len(await entries()) == 3


async def test_a_message_over_10_mb_is_refused(shop):
    with inside(shop):
        order = await workorders.create(None, {"site_id": (await Site.first()).id, "subject": "Big"})
        address = workorders.reply_address(order)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await reply(shop.inbound_port, address, plain("x" * (11 * 1024 * 1024)))
    assert refused.value.code == 552


# --- an SMTP server that cannot be reached -----------------------------------------------------------


async def test_a_mail_that_cannot_be_sent_is_retried_then_failed():
    deployment = await inprocess.prepare(extra_env={
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "MAIL_RETRY_SECONDS": "0.05"})  # nobody listens
    try:
        async with inprocess.serve(deployment) as server:
            with inside(server):
                row = await mail.queue(CUSTOMER, "Never arrives", "Body")
            failed = await until(lambda: mail_row(server, row.id), lambda r: r.status == "failed",
                                 "the mail failed after its attempts")
            assert failed.attempts == mail.MAX_ATTEMPTS
            assert failed.last_error and "SMTPConnect" in failed.last_error
            assert failed.sent_at is not None  # when it was last tried
    finally:
        deployment.stop()


# --- no SMTP: the outbox, and the admin page -------------------------------------------------------


@pytest.fixture(scope="module")
async def outbox_server():
    deployment = await inprocess.prepare()
    await inprocess.add_user(deployment, ADMIN, "admin", "Ada Admin")
    try:
        async with inprocess.serve(deployment) as server:
            server.deployment = deployment
            yield server
    finally:
        deployment.stop()


async def test_without_smtp_mail_stays_in_the_outbox_shown_to_admins(outbox_server):
    server, d = outbox_server, outbox_server.deployment
    async with signed_in(server.url, ADMIN, d.password) as http:
        empty = await http.get("/admin/outgoing-mail")
        assert empty.status_code == 200 and "No mail yet. Mail to customers appears here" in empty.text
        assert 'href="/admin/outgoing-mail" aria-current="page"' in empty.text
        assert "SMTP_URL" in empty.text

        with inside(server):
            site = await Site.first()
            order = await workorders.create(None, {"site_id": site.id, "subject": "Wrong size <b>shoes</b>",
                                                   "customer_email": CUSTOMER, "language": "zh-CN"})
            row = await OutgoingMail.get(work_order_id=order.id)
            loose = await mail.queue("bob@example.com", "<script>alert(1)</script>", "Line 1\n<i>Line 2</i>",
                                     purpose="test")
        assert row.status == "outbox" and loose.status == "outbox"
        assert "mail" not in server.runtime.state(loops.Loops)  # no sender runs without SMTP_URL

        page = await http.get("/admin/outgoing-mail")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        html = page.text
        assert html.index("bob@example.com") < html.index(CUSTOMER)  # newest first
        assert f'<a href="/work-orders/{order.id}">{order.number}</a>' in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
        assert '<pre class="note-body" translate="no">Line 1\n&lt;i&gt;Line 2&lt;/i&gt;</pre>' in html
        assert "Wrong size &lt;b&gt;shoes&lt;/b&gt;" in html
        assert "<summary>Show</summary>" in html and "Outbox" in html

        assert "No mail with this status." in (await http.get("/admin/outgoing-mail?status=sent")).text
        assert "bob@example.com" in (await http.get("/admin/outgoing-mail?status=outbox")).text
        assert (await http.get("/admin/outgoing-mail?status=bogus")).status_code == 400

        # 50 a page: Older, then Newer.
        with inside(server):
            for i in range(50):
                await mail.queue(f"page{i}@example.com", f"Page mail {i}", "Body")
        first = await http.get("/admin/outgoing-mail")
        assert "page49@example.com" in first.text and "bob@example.com" not in first.text
        older = re.search(r'href="([^"]+)">Older</a>', first.text).group(1).replace("&amp;", "&")
        second = await http.get(older)
        assert "bob@example.com" in second.text and CUSTOMER in second.text and "page49@" not in second.text
        assert re.search(r'href="/admin/outgoing-mail">Newer</a>', second.text)
        assert "Older</a>" not in second.text

    async with signed_in(server.url, "agent@example.com", d.password) as csr:
        assert (await csr.get("/admin/outgoing-mail")).status_code == 403
    async with signed_in(server.url, "boss@example.com", d.password) as supervisor:
        assert (await supervisor.get("/admin/outgoing-mail")).status_code == 403
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=False) as anonymous:
        signin = await anonymous.get("/admin/outgoing-mail")
        assert signin.status_code in (302, 303) and "/login" in signin.headers["location"]
