"""Mail without a server: the text of a customer's reply (app/mail/text.py), which addresses and
headers the outgoing mail takes, how SMTP_URL is read, and the mail settings."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from app.config import load_settings
from app.mail.inbound import is_automatic, is_reply_address
from app.mail.text import body_text, html_to_text, reply_text, strip_quotes
from app.services.mail import SmtpServer, plausible_address, smtp_server


def parsed(raw: str) -> EmailMessage:
    return message_from_bytes(raw.replace("\n", "\r\n").encode(), policy=policy.default)


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes.\n\nOn Mon, 1 Jun 2026 at 10:00, Support <s@shop.example> wrote:\n> Hello\n> there", "Yes."),
    ("Yes.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nTo: Ann\nSubject: x\n\nold", "Yes."),
    ("Fine by me.\n\n-- \nAnn Smith\nACME Ltd", "Fine by me."),
    ("Sure.\nBest regards,\nAnn", "Sure."),
    ("I ordered 3 items.\nSent from my iPhone", "I ordered 3 items."),
    ("> Is it broken?\nYes\n> And the lid?\nAlso", "Yes\nAlso"),
    ("Two things:\n- the lid\n- the cup", "Two things:\n- the lid\n- the cup"),  # a list is no signature
    ("好的。\n\n在 2026年6月1日周一 10:00，客服 <s@shop.example> 写道：\n> 您好", "好的。"),
    ("收到\n\n------------------ 原始邮件 ------------------\n发件人: 客服\n发送时间: 2026年6月1日", "收到"),
    ("On Mon, Support wrote:\n> only the quote\n", ""),
    ("   \n\n", ""),
])
def test_only_the_new_reply_is_kept(text, expected):
    assert strip_quotes(text) == expected


def test_html_becomes_text_without_any_markup():
    html = ("<html><head><title>t</title><style>p{}</style></head><body><p>Hello&nbsp;<b>Ann</b> &lt;3</p>"
            "<div>Line 2<br>Line 3</div><script>alert(1)</script><img src=x onerror=alert(1)>"
            "<table><tr><td>a</td><td>b</td></tr></table><pre>  kept\n  as is</pre>"
            "<blockquote>quoted mail</blockquote></body></html>")
    assert html_to_text(html) == "Hello Ann <3\n\nLine 2\nLine 3\n\na b\n\nkept\nas is"


def test_the_plain_part_is_preferred_and_html_only_mail_is_turned_into_text():
    alternative = EmailMessage()
    alternative.set_content("plain words")
    alternative.add_alternative("<p>html words</p>", subtype="html")
    assert body_text(alternative) == "plain words"
    html_only = parsed("From: a@example.com\nContent-Type: text/html; charset=utf-8\n\n<p>Only <i>HTML</i></p>\n")
    assert reply_text(html_only) == "Only HTML"
    attachment_only = EmailMessage()
    attachment_only.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")
    assert body_text(attachment_only) == ""


def test_a_lying_charset_is_read_as_utf8():
    message = message_from_bytes("Content-Type: text/plain; charset=x-unknown\r\n\r\n是的\r\n".encode(),
                                 policy=policy.default)
    assert reply_text(message) == "是的"


def test_reply_addresses_and_automatic_mail():
    assert is_reply_address("reply+12.abcdef@reply.shop.example")
    assert is_reply_address("Reply+12.ab@ANY.domain")
    for address in ("reply@shop.example", "support@shop.example", "reply+@shop.example", "reply+a b@x.com",
                    "reply+a@b@c.com", ""):
        assert not is_reply_address(address), address
    human = parsed("From: a@example.com\nSubject: Re: x\n\nhello\n")
    assert not is_automatic(human, "a@example.com")
    assert not is_automatic(parsed("Auto-Submitted: no\n\nhello\n"), "a@example.com")
    assert is_automatic(human, "<>") and is_automatic(human, "")
    assert is_automatic(parsed("Auto-Submitted: auto-replied\n\naway\n"), "a@example.com")
    assert is_automatic(parsed("Precedence: bulk\n\nnews\n"), "a@example.com")


def test_plausible_addresses():
    for good in ("ann@example.com", "first.last+tag@mail.example.co.uk", "张三@例子.中国", "a@xn--fiqs8s.xn--fiqs8s"):
        assert plausible_address(good), good
    for bad in ("ann@localhost", "ann@example", "a b@example.com", "<ann@example.com>", "ann@example.com\r\nBcc: x@y.z",
                "ann@example.com,bob@example.com", '"q"@example.com', "a..b@example.com", "x" * 65 + "@example.com",
                "a@" + "b" * 250 + ".com", None, 42):
        assert not plausible_address(bad), bad


def test_smtp_url():
    assert smtp_server("smtp://mail.internal") == SmtpServer("mail.internal", 25)
    assert smtp_server("smtp://u%40x:p%3Ass@mail.internal:587?starttls=1") == SmtpServer(
        "mail.internal", 587, "u@x", "p:ss", use_tls=False, start_tls=True)
    assert smtp_server("smtp://h:2525?starttls=0").start_tls is False
    assert smtp_server("smtps://u:p@h") == SmtpServer("h", 465, "u", "p", use_tls=True, start_tls=None)
    assert "p:ss" not in repr(smtp_server("smtp://u:p%3Ass@h"))  # the password stays out of logs


def test_mail_settings(tmp_path):
    base = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "k"}
    default = load_settings(base)
    assert (default.smtp_url, default.mail_from, default.mail_reply_domain) == (
        None, "Switchboard <support@localhost>", "localhost")
    assert (default.inbound_smtp_port, default.inbound_smtp_host, default.mail_retry_seconds) == (None, "127.0.0.1", 30.0)
    settings = load_settings({**base, "SMTP_URL": "smtps://u:p@smtp.example.com", "MAIL_FROM": "Help <help@Shop.Example>",
                              "INBOUND_SMTP_PORT": "2525", "MAIL_RETRY_SECONDS": "0.5"})
    assert settings.smtp_url == "smtps://u:p@smtp.example.com" and settings.mail_reply_domain == "shop.example"
    assert settings.inbound_smtp_port == 2525 and settings.mail_retry_seconds == 0.5
    assert load_settings({**base, "MAIL_REPLY_DOMAIN": "Reply.Shop.Example"}).mail_reply_domain == "reply.shop.example"
    for bad in ({"SMTP_URL": "http://smtp.example.com"}, {"SMTP_URL": "smtp://:25"}, {"SMTP_URL": "smtp://h:port"},
                {"MAIL_FROM": "nobody"}, {"INBOUND_SMTP_PORT": "70000"}, {"INBOUND_SMTP_PORT": "x"},
                {"MAIL_RETRY_SECONDS": "0"}):
        with pytest.raises(ValueError) as refused:
            load_settings({**base, "SMTP_URL": "", **bad})
        assert "secret" not in str(refused.value)
