"""What a customer wrote in a reply mail, as plain text — pure: a parsed message in, text out.

The text is the message's text/plain body, else its text/html body turned into text (tags dropped,
never kept: `html_to_text`). From it `strip_quotes` keeps only the new reply: the quoted mail below
an "On … wrote:" / "From: … Sent: …" header or an "-----Original Message-----" line, a signature
after "-- " or a closing such as "Best regards," and "Sent from my phone" lines go (the
`mail-parser-reply` package, English and Chinese headers), and so does every remaining line quoted
with ">".
"""

from __future__ import annotations

import re
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from mailparser_reply import EmailMessage as ReplyThread

MAX_TEXT_CHARS = 200_000  # read of a body at most (the quote-stripping heuristics are regular expressions)
LANGUAGES = ["en", "zh"]  # whose reply headers and closings are recognised (the customers' languages)

# Elements whose text is no part of what the customer wrote: <blockquote> holds the quoted mail
# in HTML replies (Gmail, Apple Mail, Thunderbird).
_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "blockquote", "svg", "object"})
_BLOCKS = frozenset({
    "address", "article", "aside", "div", "dl", "dt", "dd", "fieldset", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
})


# Reply headers the package misses (its Chinese "…写道：" pattern never matches, and Chinese clients
# write full-width colons): the quoted mail starts at the first such line.
_QUOTE_HEADERS = re.compile(
    r"^(?:(?:On|在)\s.*(?:wrote|写道)\s*[:：]"
    r"|.*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日.*写道\s*[:：]"
    r"|-{2,}\s*(?:原始邮件|Original Message)\s*-{2,}"
    r"|发件人\s*[:：].*)\s*$",
    re.IGNORECASE)


class _TextOf(HTMLParser):
    """The text of an HTML document as a reader sees it: block elements and <br> on lines of their
    own, whitespace collapsed outside <pre>, character references decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0  # depth inside skipped elements
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n")
            self.pre += tag == "pre"
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br" or tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of an HTML body; no markup survives (a "<" in it was text: "&lt;")."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    """Lines without trailing spaces, at most one empty line in a row, none at either end."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.lstrip(" ") if line.strip() else "" for line in lines)).strip()


def _content(part: Message) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown or lying charset: read it as UTF-8
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


def body_text(message: EmailMessage) -> str:
    """The message's text: its text/plain body, else its text/html body as text, else ""."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _tidy(_content(plain)[:MAX_TEXT_CHARS])
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_content(html)[: MAX_TEXT_CHARS * 5])[:MAX_TEXT_CHARS]
    return ""


def strip_quotes(text: str) -> str:
    """Only the new reply of a mail's text: no quoted mail, no signature, no ">" line."""
    if not text.strip():
        return ""
    thread = ReplyThread(text=text, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    latest = thread.replies[0].body if thread.replies else ""
    kept = []
    for line in latest.split("\n"):
        if _QUOTE_HEADERS.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return _tidy("\n".join(kept))


def reply_text(message: EmailMessage) -> str:
    """What the customer wrote in this reply ("" when nothing is left)."""
    return strip_quotes(body_text(message))
