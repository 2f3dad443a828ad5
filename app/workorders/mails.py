"""The mails a customer receives about a work order, in their language (English or Simplified
Chinese): on creation, on each public reply, and on resolution (with the thread). Plain text only:
nothing a customer or a CSR wrote is ever sent as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True)
class Post:
    who: str  # the author's name as the customer sees it
    at: str  # a readable time
    body: str


_TEXT = {
    "en": {
        "created.subject": "[{number}] We received your request: {subject}",
        "created.body": "Hello {name},\n\nWe have received your request and registered it as {number}:\n\n"
                        "    {subject}\n\nWe will get back to you as soon as we can. You can follow it and "
                        "reply at any time here:\n{link}\n\nor simply answer this e-mail.\n",
        "reply.subject": "[{number}] Re: {subject}",
        "reply.body": "Hello {name},\n\n{body}\n\n— {who}\n\nFollow your request {number}: {link}\n"
                      "Answer this e-mail to reply.\n",
        "resolved.subject": "[{number}] Resolved: {subject}",
        "resolved.body": "Hello {name},\n\nYour request {number} has been resolved. If anything is still "
                         "missing, answer this e-mail or reply here within a few days and we will reopen it:\n"
                         "{link}\n\nThe conversation so far:\n{thread}\n",
        "customer": "You",
        "nobody": "there",
    },
    "zh-CN": {
        "created.subject": "[{number}] 我们已收到您的请求：{subject}",
        "created.body": "{name}，您好：\n\n我们已收到您的请求，工单号 {number}：\n\n    {subject}\n\n"
                        "我们会尽快回复您。您可以随时在这里查看进度并回复：\n{link}\n\n也可以直接回复本邮件。\n",
        "reply.subject": "[{number}] 回复：{subject}",
        "reply.body": "{name}，您好：\n\n{body}\n\n— {who}\n\n查看工单 {number}：{link}\n直接回复本邮件即可回复我们。\n",
        "resolved.subject": "[{number}] 已解决：{subject}",
        "resolved.body": "{name}，您好：\n\n您的请求 {number} 已解决。如仍有问题，请在几天内回复本邮件或在这里回复，"
                         "我们会重新处理：\n{link}\n\n往来记录：\n{thread}\n",
        "customer": "您",
        "nobody": "客户",
    },
}


def language_of(accept: str | None) -> str:
    """The customer's language from a browser language tag ("zh", "zh-CN", "zh-Hans-CN" → zh-CN)."""
    return "zh-CN" if (accept or "").lower().startswith("zh") else "en"


def compose(kind: str, language: str, *, number: str, subject: str, name: str | None, link: str,
            body: str = "", who: str = "", thread: list[Post] | None = None) -> tuple[str, str]:
    """(subject, body) of the mail of `kind` (created, reply, resolved)."""
    text = _TEXT.get(language, _TEXT["en"])
    lines = []
    for post in thread or []:
        lines.append(f"--- {post.who}, {post.at}\n{post.body}\n")
    values = {"number": number, "subject": subject, "name": name or text["nobody"], "link": link, "body": body,
              "who": who, "thread": "\n".join(lines)}
    return text[f"{kind}.subject"].format(**values), text[f"{kind}.body"].format(**values)


def customer_label(language: str) -> str:
    return _TEXT.get(language, _TEXT["en"])["customer"]
