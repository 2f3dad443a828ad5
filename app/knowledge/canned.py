"""Canned responses, the pure part: what a shortcut may be, and the variables filled when a CSR
inserts a response into the reply box.

Variables (docs/canned_responses.md lists them for the people who write responses):

    {visitor.name}   the visitor's name as they gave it (pre-chat form, `identify`); "there" when
                     they gave none, so "Hi {visitor.name}" reads "Hi there"
    {agent.name}     the display name of the CSR who inserts the response
    {site.name}      the name of the site the chat came from

A value is filled as text (the reply box holds text, never markup). A variable spelled with spaces
inside the braces (`{ visitor.name }`) is filled too; anything else in braces (`{order.id}`, a
typo, a JSON sample) is left exactly as typed. Plain values in, plain values out: no database.
"""

from __future__ import annotations

import re

SHORTCUT = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_SHORTCUT = 40
MAX_TITLE = 100
MAX_BODY = 5_000  # a chat message is at most 5,000 characters

VARIABLES: dict[str, str] = {
    "visitor.name": "The visitor's name; “there” when they gave none.",
    "agent.name": "Your display name.",
    "site.name": "The name of the site the chat came from.",
}
FALLBACKS: dict[str, str] = {
    "visitor.name": "there",
    "agent.name": "our team",
    "site.name": "our website",
}
_VARIABLE = re.compile(r"\{\s*([a-z]+\.[a-z]+)\s*\}")


def shortcut(value: str) -> str | None:
    """The shortcut as stored (without a leading "/"), or None when it is not 1–40 letters, digits,
    "-" or "_"."""
    value = value.strip()
    if value.startswith("/"):
        value = value[1:]
    return value if SHORTCUT.fullmatch(value) else None


def _clean(value: str | None) -> str:
    # One line of text: a name with a line break or surrounding spaces reads as the name.
    return " ".join((value or "").split())


def values(*, visitor_name: str | None, agent_name: str | None, site_name: str | None) -> dict[str, str]:
    """What each variable becomes: the given value, or its fallback when it is empty."""
    given = {"visitor.name": visitor_name, "agent.name": agent_name, "site.name": site_name}
    return {name: _clean(value) or FALLBACKS[name] for name, value in given.items()}


def fill(body: str, *, visitor_name: str | None, agent_name: str | None, site_name: str | None) -> str:
    """`body` with its known variables filled; unknown `{…}` left as typed."""
    filled = values(visitor_name=visitor_name, agent_name=agent_name, site_name=site_name)

    def one(match: re.Match[str]) -> str:
        return filled.get(match.group(1), match.group(0))

    return _VARIABLE.sub(one, body)


def variables_in(body: str) -> list[str]:
    """The known variables `body` uses, in order of first use (what the editor shows)."""
    return list(dict.fromkeys(m.group(1) for m in _VARIABLE.finditer(body) if m.group(1) in VARIABLES))
