"""Automatic checks: criteria the evaluation form pre-fills from the event log (docs/quality.md
"Automatic checks"). Pure rules over `Facts` (app/services/autochecks.py gathers them from the chat's
ConversationEvents and Messages); each answers "yes", "no" or "na" (not applicable).

- `first_response`: the CSR's first reply came within the department's service-level threshold
  (seconds from the moment the visitor started waiting — requested, or queued after hours — to the
  first CSR message); `auto_param` overrides the threshold. No reply at all: "no".
- `reply_gap`: no gap longer than `auto_param` seconds (default 120) while the visitor waited for a CSR
  reply: from a visitor message (or the assignment, if later) to the next CSR message, or to the close
  when none came. No visitor message after assignment: "na".
- `category`: the chat was closed with a contact category.
- `transfer_note`: every transfer carried a note; no transfer: "na".
- `greeting` / `closing`: one of the CSR's first (last) two messages contains a greeting (closing)
  phrase — the criterion's `phrases`, else the default lists of every language (`PHRASES`). Latin
  phrases match whole words, case-insensitively; Chinese ones anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_GAP_SECONDS = 120
# The default phrase lists, per language: a chat matches a phrase of any of them.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "greeting": {
        "en": ("hello", "hi", "hey", "good morning", "good afternoon", "good evening", "welcome",
               "thanks for contacting", "thank you for contacting", "how can i help", "how may i help"),
        "zh-CN": ("您好", "你好", "欢迎", "很高兴为您服务", "有什么可以帮您", "有什么可以帮助您"),
    },
    "closing": {
        "en": ("anything else", "have a nice day", "have a great day", "have a good day", "thank you for",
               "thanks for", "goodbye", "bye", "take care"),
        "zh-CN": ("还有其他", "还有什么", "祝您", "再见", "感谢您", "谢谢您"),
    },
}
# How many of the CSR's first (greeting) or last (closing) messages are searched.
PHRASE_WINDOW = 2


@dataclass(frozen=True)
class Msg:
    kind: str  # visitor | agent | system | internal
    body: str
    at: datetime


@dataclass(frozen=True)
class Facts:
    waiting_since: datetime  # requested (or queued after hours)
    assigned_at: datetime | None  # the first assignment
    first_response_at: datetime | None
    closed_at: datetime | None
    category_id: int | None
    threshold_seconds: float  # the department's service-level threshold (else the center's)
    messages: list[Msg] = field(default_factory=list)  # in order
    transfers: list[bool] = field(default_factory=list)  # each transfer: had a note?


def default_phrases(kind: str) -> list[str]:
    return [p for phrases in PHRASES[kind].values() for p in phrases]


def _matches(text: str, phrase: str) -> bool:
    phrase = phrase.strip().casefold()
    if not phrase:
        return False
    text = text.casefold()
    if phrase.isascii():
        return re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text) is not None
    return phrase in text


def first_response(facts: Facts, param: float | None = None) -> str:
    threshold = param if param is not None else facts.threshold_seconds
    if facts.first_response_at is None:
        return "no"
    waited = (facts.first_response_at - facts.waiting_since).total_seconds()
    return "yes" if waited <= threshold else "no"


def reply_gap(facts: Facts, param: float | None = None) -> str:
    limit = param if param is not None else DEFAULT_GAP_SECONDS
    if facts.assigned_at is None:
        return "na"
    waiting: datetime | None = None  # since when the visitor waits for a CSR reply
    seen_visitor = False
    for m in facts.messages:
        if m.kind == "visitor":
            if m.at < facts.assigned_at and waiting is None:
                waiting = facts.assigned_at
            elif waiting is None:
                waiting = m.at
            seen_visitor = True
        elif m.kind == "agent":
            if waiting is not None and (m.at - waiting).total_seconds() > limit:
                return "no"
            waiting = None
    if not seen_visitor:
        return "na"
    if waiting is not None and facts.closed_at is not None and (facts.closed_at - waiting).total_seconds() > limit:
        return "no"
    return "yes"


def category(facts: Facts, param: float | None = None) -> str:
    return "yes" if facts.category_id is not None else "no"


def transfer_note(facts: Facts, param: float | None = None) -> str:
    if not facts.transfers:
        return "na"
    return "yes" if all(facts.transfers) else "no"


def _phrase_check(kind: str, facts: Facts, phrases: list[str] | None) -> str:
    replies = [m.body for m in facts.messages if m.kind == "agent"]
    if not replies:
        return "no"
    window = replies[:PHRASE_WINDOW] if kind == "greeting" else replies[-PHRASE_WINDOW:]
    wanted = phrases or default_phrases(kind)
    return "yes" if any(_matches(text, p) for text in window for p in wanted) else "no"


def greeting(facts: Facts, param: float | None = None, phrases: list[str] | None = None) -> str:
    return _phrase_check("greeting", facts, phrases)


def closing(facts: Facts, param: float | None = None, phrases: list[str] | None = None) -> str:
    return _phrase_check("closing", facts, phrases)


CHECKS = {"first_response": first_response, "reply_gap": reply_gap, "category": category,
          "transfer_note": transfer_note, "greeting": greeting, "closing": closing}


def run(criterion: dict, facts: Facts) -> str | None:
    """The automatic answer of one criterion (None: it has no automatic check)."""
    name = criterion.get("auto")
    if name not in CHECKS:
        return None
    param = criterion.get("auto_param")
    if name in ("greeting", "closing"):
        return CHECKS[name](facts, param, criterion.get("phrases") or None)
    return CHECKS[name](facts, param)


def run_all(sections: list[dict], facts: Facts) -> dict[str, str]:
    """{criterion key: automatic answer} for every criterion of the version that has a check."""
    out: dict[str, str] = {}
    for section in sections:
        for criterion in section["criteria"]:
            answer = run(criterion, facts)
            if answer is not None:
                out[criterion["key"]] = answer
    return out
