"""Sampling for quality monitoring (docs/quality.md "Sampling, the queue and reports"): pure functions,
no database.

- `week_of`: the Monday of the week an instant falls in, in the center's time zone.
- `draw`: the week's stratified random draw — N closed chats per CSR (fewer when they had fewer), every
  CSR with a closed chat covered, deterministic for a seed, never a chat already evaluated or queued.
- `spread`: the drawn chats over a rule's evaluators, least loaded first.
- `percentile`: the nearest-rank percentile (the department's 90th percentile of handle time).
- `on_close` / `on_rating`: which triggers a closed or rated chat sets off, each with its detail.
- `pearson` / `spearman`: QA score against CSAT (None under `MIN_PAIRS` pairs or without spread).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from app.i18n import N_

REASONS = ("random", "bad_rating", "long_handle", "transfer", "complaint", "flag")
REASON_LABELS = {
    "random": N_("Random sample"),
    "bad_rating": N_("Bad rating"),
    "long_handle": N_("Long handle time"),
    "transfer": N_("Transfer"),
    "complaint": N_("Complaint category"),
    "flag": N_("Flagged for review"),
}
# The details (stored in English in SampleItem.detail; `localize` reads them back in the user's language).
DETAILS = {
    "random": N_("Random sample of the week of %(week)s"),
    "bad_rating": N_("Rated bad"),
    "long_handle": N_("Handle time %(minutes)s min, above the department's 90th percentile of %(p90)s min"),
    "transfer": N_("Transferred %(count)s time(s) during the chat"),
    "complaint": N_("Contact category %(category)s"),
    "flag": N_("Flagged by %(name)s"),
    "flag_note": N_("Flagged by %(name)s: %(note)s"),
}
MIN_PAIRS = 3  # a correlation needs at least this many (QA score, CSAT) pairs
MIN_HANDLE_HISTORY = 5  # closed chats of the department's last 4 weeks before its p90 is a trigger
HANDLE_WINDOW = timedelta(weeks=4)


def week_of(at: datetime, time_zone: str) -> date:
    """The Monday of `at`'s week in `time_zone`."""
    local = at.astimezone(ZoneInfo(time_zone)).date()
    return local - timedelta(days=local.weekday())


def week_bounds(week: date, time_zone: str) -> tuple[datetime, datetime]:
    """The instants [start, end) of the week starting on Monday `week` in `time_zone`."""
    zone = ZoneInfo(time_zone)
    start = datetime(week.year, week.month, week.day, tzinfo=zone)
    end = start + timedelta(days=7)
    return start, end


@dataclass(frozen=True)
class Chat:
    id: int
    agent_id: int


def draw(chats: Iterable[Chat], per_agent: int, seed: str, exclude: Iterable[int] = (),
         already: dict[int, int] | None = None) -> list[Chat]:
    """The stratified draw: for each CSR, up to `per_agent` of their chats (minus the `already` drawn
    this week for them), chosen at random with a generator seeded by `seed` and the CSR — the same
    input gives the same draw. Chats in `exclude` (evaluated or queued) are never drawn. Returned in
    (CSR, chat) order."""
    excluded = set(exclude)
    already = already or {}
    by_agent: dict[int, list[int]] = {}
    for chat in chats:
        if chat.id not in excluded:
            by_agent.setdefault(chat.agent_id, []).append(chat.id)
    out: list[Chat] = []
    for agent_id in sorted(by_agent):
        candidates = sorted(set(by_agent[agent_id]))
        wanted = max(0, per_agent - already.get(agent_id, 0))
        if wanted == 0:
            continue
        rng = random.Random(f"{seed}:{agent_id}")
        picked = candidates if len(candidates) <= wanted else rng.sample(candidates, wanted)
        out.extend(Chat(id=c, agent_id=agent_id) for c in sorted(picked))
    return out


def spread(count: int, evaluators: Sequence[int], load: dict[int, int] | None = None) -> list[int | None]:
    """An evaluator for each of `count` items: each goes to the least loaded (open items, the new ones
    counted as they are given; ties by id). Without evaluators: None (unassigned)."""
    if not evaluators:
        return [None] * count
    current = {e: (load or {}).get(e, 0) for e in evaluators}
    out: list[int | None] = []
    for _ in range(count):
        chosen = min(current, key=lambda e: (current[e], e))
        current[chosen] += 1
        out.append(chosen)
    return out


def percentile(values: Iterable[float], q: float = 0.9) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `q` of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Rule:
    """What of a sampling rule the triggers read."""
    on_bad_rating: bool = True
    on_long_handle: bool = True
    on_transfer: bool = False
    complaint_categories: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Trigger:
    reason: str
    detail: str  # the English template of DETAILS
    values: dict

    def text(self, gettext=lambda s: s) -> str:
        return gettext(self.detail) % self.values


def minutes(seconds: float) -> str:
    value = round(seconds / 60, 1)
    return str(int(value)) if value == int(value) else str(value)


def on_close(rule: Rule, *, transfers: int, category_id: int | None, category_parent_id: int | None,
             category_name: str | None, handle_seconds: float | None, p90_seconds: float | None,
             history: int) -> list[Trigger]:
    """The triggers a closed chat sets off under `rule`: a transfer, a complaint category (the chat's
    category or its parent among the rule's), a handle time above the department's p90 (of `history`
    closed chats, at least MIN_HANDLE_HISTORY)."""
    out: list[Trigger] = []
    if rule.on_transfer and transfers > 0:
        out.append(Trigger("transfer", DETAILS["transfer"], {"count": transfers}))
    if category_id is not None and ({category_id, category_parent_id} & set(rule.complaint_categories)):
        out.append(Trigger("complaint", DETAILS["complaint"], {"category": category_name or str(category_id)}))
    if (rule.on_long_handle and handle_seconds is not None and p90_seconds is not None
            and history >= MIN_HANDLE_HISTORY and handle_seconds > p90_seconds):
        out.append(Trigger("long_handle", DETAILS["long_handle"],
                           {"minutes": minutes(handle_seconds), "p90": minutes(p90_seconds)}))
    return out


def on_rating(rule: Rule, rating: str | None) -> list[Trigger]:
    if rule.on_bad_rating and rating == "bad":
        return [Trigger("bad_rating", DETAILS["bad_rating"], {})]
    return []


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$", re.S)


_PATTERNS = [(t, _pattern(t)) for t in DETAILS.values()]


def localize(detail: str, gettext) -> str:
    """A stored English detail in the user's language (as it is when it matches no known detail)."""
    for template, pattern in _PATTERNS:
        found = pattern.match(detail)
        if found:
            return gettext(template) % found.groupdict()
    return detail


# -- correlation ---------------------------------------------------------------------------------

def pearson(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Pearson's r of (x, y) pairs; None under MIN_PAIRS pairs or when either side has no spread."""
    n = len(pairs)
    if n < MIN_PAIRS:
        return None
    mx = sum(x for x, _ in pairs) / n
    my = sum(y for _, y in pairs) / n
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (1-based; ties share the mean of their ranks)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Spearman's ρ: Pearson's r of the ranks (ties averaged)."""
    if len(pairs) < MIN_PAIRS:
        return None
    rx = ranks([x for x, _ in pairs])
    ry = ranks([y for _, y in pairs])
    return pearson(list(zip(rx, ry)))


CSAT_VALUES = {"bad": 0.0, "neutral": 50.0, "good": 100.0}
