"""The KPI engine: contact-center KPIs computed from event-log rows, as pure functions.

No database access: callers load `ConversationEvent` rows (and the conversation's visitor id)
into `EventRow`s and `AgentStatusEvent` rows into `StatusRow`s; everything here is plain
dataclasses in, plain numbers out. Definitions follow the industry usage (Cisco UCCE, Genesys
Cloud, Amazon Connect, ICMI, Zendesk Chat). All datetimes are instants; naive ones are read as
UTC.

Conversation KPIs work on one `ConversationFacts` per conversation (`facts_from_events`), agent
KPIs on state intervals (`StatusRow`s) and on the chat-holding intervals in the facts.

What a caller must load for a window [start, end):
- every event of each conversation *requested* in the window (a conversation's later events,
  such as its close, may fall after `end`);
- for first contact resolution, also the conversations requested up to `fcr_window_hours` after
  `end` (pass them as `fcr_population`, or in `facts` and let `compute_series` filter by window);
- for agent KPIs, each agent's last status event before `start` (or rely on the first in-window
  event's `previous_status`) and the chats whose holding interval overlaps the window.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from app.kpi.intervals import as_utc, bucket_start, interval_starts

SL_VARIANTS = ("ignored", "negative", "positive")
RATINGS = ("good", "neutral", "bad")
LOGGED_OUT = "offline"


# --------------------------------------------------------------------------------------------
# Input rows and per-conversation facts


@dataclass(slots=True)
class EventRow:
    """One `ConversationEvent` row (plus the conversation's visitor, which the event lacks).

    kinds read: requested, queued, assigned (data.queue_seconds), first_response, closed,
    abandoned (data.queue_seconds), transferred (data.to_agent_id when the chat went straight to
    another agent), rated (data.rating in good/neutral/bad), held (asked for outside business
    hours and held for the opening: its `queued` event comes at the opening), and
    data.wrap_up_seconds on any event (e.g. a `wrap_up` event). Unknown kinds are ignored.
    """

    conversation_id: int
    kind: str
    at: datetime
    agent_id: int | None = None
    department_id: int | None = None
    site_id: int | None = None
    visitor_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Hold:
    """An agent holding a chat from `start` until `end` (None: still held)."""

    agent_id: int
    conversation_id: int
    start: datetime
    end: datetime | None = None


@dataclass(slots=True)
class ConversationFacts:
    """What the KPIs need to know about one conversation.

    - requested_at: the `requested` event (else `queued`, else the earliest event).
    - answered_at / agent_id: the first `assigned` event and its agent (the answering agent;
      `last_agent_id` is whoever held it last, after transfers).
    - queue_seconds: answered → data.queue_seconds of the first `assigned` event (else
      answered_at − requested_at); abandoned → data.queue_seconds of the `abandoned` event (else
      abandoned_at − requested_at); still waiting → None.
    - handle_seconds: closed_at − answered_at + wrap_up_seconds, for answered and closed chats.
    - wrap_up_seconds: the sum of data.wrap_up_seconds over the conversation's events.
    - transferred: at least one `transferred` event (`transfers` counts them).
    - rating: data.rating of the last `rated` event (good / neutral / bad).
    - department_id: the department it was requested/queued to (else the first one seen).
    - holds: the agent holding intervals, from assignments, transfers and the close.
    - after_hours: asked for outside business hours and held for the opening (a `held` event);
      held_only: such a chat that never reached the queue (no `queued` event): it is no offered
      chat, and when its visitor left it is an after-hours abandon, not an abandon.
    """

    conversation_id: int
    requested_at: datetime
    answered_at: datetime | None = None
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    abandoned_at: datetime | None = None
    queue_seconds: float | None = None
    handle_seconds: float | None = None
    wrap_up_seconds: float = 0.0
    transferred: bool = False
    transfers: int = 0
    rating: str | None = None
    department_id: int | None = None
    agent_id: int | None = None
    last_agent_id: int | None = None
    site_id: int | None = None
    visitor_id: int | None = None
    holds: tuple[Hold, ...] = ()
    after_hours: bool = False
    held_only: bool = False

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def abandoned(self) -> bool:
        """Left before any agent accepted (an answered chat is never abandoned)."""
        return self.abandoned_at is not None and self.answered_at is None

    @property
    def waiting(self) -> bool:
        """Neither answered nor abandoned (yet)."""
        return self.answered_at is None and self.abandoned_at is None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def facts_from_events(events: Iterable[EventRow]) -> list[ConversationFacts]:
    """One `ConversationFacts` per conversation, ordered by request time (then id).

    Events are grouped by conversation and read in time order (ties keep input order, so pass
    rows ordered by id). See `ConversationFacts` for how each fact is derived.
    """
    grouped: dict[int, list[EventRow]] = {}
    for event in events:
        grouped.setdefault(event.conversation_id, []).append(event)
    facts = [_facts_of(cid, rows) for cid, rows in grouped.items()]
    facts.sort(key=lambda f: (f.requested_at, f.conversation_id))
    return facts


def _facts_of(conversation_id: int, rows: list[EventRow]) -> ConversationFacts:
    rows = sorted(rows, key=lambda r: as_utc(r.at))
    first_of: dict[str, EventRow] = {}
    for row in rows:
        first_of.setdefault(row.kind, row)
    origin = first_of.get("requested") or first_of.get("queued") or rows[0]
    facts = ConversationFacts(conversation_id=conversation_id, requested_at=as_utc(origin.at))
    facts.after_hours = "held" in first_of
    facts.held_only = facts.after_hours and "queued" not in first_of
    facts.site_id = next((r.site_id for r in rows if r.site_id is not None), None)
    facts.visitor_id = next((r.visitor_id for r in rows if r.visitor_id is not None), None)
    queued_to = [r.department_id for r in rows if r.kind in ("requested", "queued") and r.department_id is not None]
    seen = [r.department_id for r in rows if r.department_id is not None]
    facts.department_id = (queued_to or seen or [None])[0]

    holds: list[Hold] = []
    open_hold: Hold | None = None
    answered_queue: float | None = None
    abandoned_queue: float | None = None

    def release(at: datetime) -> None:
        nonlocal open_hold
        if open_hold is not None:
            open_hold.end = max(at, open_hold.start)
            open_hold = None

    def take(agent_id: int | None, at: datetime) -> None:
        nonlocal open_hold
        if agent_id is None or (open_hold is not None and open_hold.agent_id == agent_id):
            return
        release(at)
        open_hold = Hold(agent_id=agent_id, conversation_id=conversation_id, start=at)
        holds.append(open_hold)
        facts.last_agent_id = agent_id

    for row in rows:
        at = as_utc(row.at)
        data = row.data or {}
        wrap = _number(data.get("wrap_up_seconds"))
        if wrap is not None and wrap > 0:
            facts.wrap_up_seconds += wrap
        if row.kind == "assigned":
            if facts.answered_at is None:
                facts.answered_at = at
                facts.agent_id = row.agent_id
                answered_queue = _number(data.get("queue_seconds"))
                if answered_queue is None:
                    answered_queue = _seconds(at, facts.requested_at)
            if facts.closed_at is None:
                take(row.agent_id, at)
        elif row.kind == "transferred":
            facts.transferred = True
            facts.transfers += 1
            target = data.get("to_agent_id")
            release(at)
            if isinstance(target, int) and not isinstance(target, bool) and facts.closed_at is None:
                take(target, at)
        elif row.kind == "first_response":
            if facts.first_response_at is None:
                facts.first_response_at = at
        elif row.kind == "abandoned":
            if facts.abandoned_at is None:
                facts.abandoned_at = at
                abandoned_queue = _number(data.get("queue_seconds"))
                if abandoned_queue is None:
                    abandoned_queue = _seconds(at, facts.requested_at)
        elif row.kind == "closed":
            if facts.closed_at is None:
                facts.closed_at = at
            release(at)
        elif row.kind == "rated":
            rating = data.get("rating")
            if isinstance(rating, str) and rating.strip().lower() in RATINGS:
                facts.rating = rating.strip().lower()

    facts.holds = tuple(holds)
    if facts.answered_at is not None:
        facts.queue_seconds = answered_queue
        if facts.closed_at is not None:
            facts.handle_seconds = _seconds(facts.closed_at, facts.answered_at) + facts.wrap_up_seconds
    elif facts.abandoned_at is not None and not facts.held_only:  # held, never queued: no queue time
        facts.queue_seconds = abandoned_queue
    return facts


# --------------------------------------------------------------------------------------------
# Conversation KPIs


@dataclass(frozen=True, slots=True)
class KpiSummary:
    """Conversation KPIs over a set of conversations; ratios are None when the denominator is 0.

    Counts
    - short_abandons: abandoned with queue_seconds < S (short_abandon_seconds).
    - offered: conversations that entered the queue, short abandons excluded (chats still
      waiting count as offered).
    - answered: offered chats an agent accepted; abandoned: offered chats left before any agent
      accepted (short abandons excluded); waiting: offered, neither yet.
    - answered_within_threshold: answered with queue_seconds ≤ T; abandoned_within_threshold:
      abandoned with queue_seconds ≤ T.

    Ratios and means
    - abandonment_rate = abandoned / offered; answered_rate = answered / offered.
    - avg_abandon_seconds = mean queue_seconds of abandoned chats.
    - service_level (`sl_variant`, Cisco UCCE names):
      "ignored"  = answered≤T / (offered − abandoned≤T);
      "negative" = answered≤T / offered (default);
      "positive" = (answered≤T + abandoned≤T) / offered.
    - asa_seconds = mean queue_seconds of answered chats.
    - avg_queue_seconds = mean queue_seconds of answered and abandoned chats (chats still waiting
      have no queue time yet).
    - first_response_seconds = mean(first_response_at − answered_at) over answered chats with a
      first agent message; first_response_from_request_seconds = mean(first_response_at −
      requested_at) over the same chats.
    - aht_seconds = mean handle_seconds (closed_at − answered_at + wrap-up) of answered, closed
      chats.
    - transfer_rate = answered chats transferred at least once / answered.
    - fcr = fcr_resolved / fcr_eligible: eligible are answered chats with a known visitor;
      resolved are those whose visitor requested no other conversation after this one's request
      and no later than (closed_at, else requested_at) + W hours.
    - csat = good ratings / all ratings (good, neutral, bad).

    After hours (docs/kpis.md): chats held for the opening count from their `queued` event on,
    like any chat (their queue time starts at the opening); one never queued (`held_only`) is not
    offered. after_hours counts the chats held; after_hours_abandoned those left before the opening.
    """

    offered: int
    short_abandons: int
    answered: int
    abandoned: int
    waiting: int
    answered_within_threshold: int
    abandoned_within_threshold: int
    transferred: int
    ratings: int
    good_ratings: int
    fcr_eligible: int
    fcr_resolved: int
    threshold_seconds: float
    sl_variant: str
    abandonment_rate: float | None
    avg_abandon_seconds: float | None
    service_level: float | None
    asa_seconds: float | None
    avg_queue_seconds: float | None
    first_response_seconds: float | None
    first_response_from_request_seconds: float | None
    aht_seconds: float | None
    transfer_rate: float | None
    fcr: float | None
    answered_rate: float | None
    csat: float | None
    after_hours: int = 0
    after_hours_abandoned: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def service_level(
    answered_within: int, abandoned_within: int, offered: int, variant: str = "negative"
) -> float | None:
    """Service level by Cisco UCCE variant (see `KpiSummary`); None when the denominator is 0."""
    if variant == "ignored":
        return _ratio(answered_within, offered - abandoned_within)
    if variant == "negative":
        return _ratio(answered_within, offered)
    if variant == "positive":
        return _ratio(answered_within + abandoned_within, offered)
    raise ValueError(f"sl_variant must be one of {', '.join(SL_VARIANTS)}; got {variant!r}")


def is_short_abandon(facts: ConversationFacts, short_abandon_seconds: float = 5) -> bool:
    """Abandoned after less than S seconds in queue (an abandon at exactly S seconds counts)."""
    return facts.abandoned and facts.queue_seconds is not None and facts.queue_seconds < short_abandon_seconds


class _RepeatIndex:
    """Request times of each visitor's conversations, for first contact resolution."""

    def __init__(self, population: Iterable[ConversationFacts]) -> None:
        by_visitor: dict[Hashable, list[tuple[datetime, int]]] = {}
        get = by_visitor.get
        for f in population:
            visitor = f.visitor_id
            if visitor is not None:
                rows = get(visitor)
                if rows is None:
                    by_visitor[visitor] = [(f.requested_at, f.conversation_id)]
                else:
                    rows.append((f.requested_at, f.conversation_id))
        for rows in by_visitor.values():
            if len(rows) > 1:
                rows.sort()
        self._by_visitor = by_visitor

    def repeated(self, f: ConversationFacts, window: timedelta) -> bool:
        rows = self._by_visitor.get(f.visitor_id)
        if not rows or (len(rows) == 1 and rows[0][1] == f.conversation_id):
            return False  # (most visitors: this chat is their only one)
        limit = (f.closed_at or f.requested_at) + window
        i = bisect.bisect_right(rows, (f.requested_at, float("inf")))
        while i < len(rows) and rows[i][0] <= limit:
            if rows[i][1] != f.conversation_id:
                return True
            i += 1
        return False


def compute_kpis(
    facts: Iterable[ConversationFacts],
    *,
    threshold_seconds: float = 20,
    short_abandon_seconds: float = 5,
    sl_variant: str = "negative",
    fcr_window_hours: float = 24,
    fcr_population: Iterable[ConversationFacts] | None = None,
    thresholds: Mapping[Any, float] | None = None,
) -> KpiSummary:
    """The conversation KPIs of `facts` (formulas in `KpiSummary`).

    T = threshold_seconds (answered or abandoned with queue time ≤ T is "within T");
    S = short_abandon_seconds; W = fcr_window_hours. Repeat contacts for FCR are looked up in
    `fcr_population` (default: `facts` themselves), so a slice can see the visitor's chats
    outside it. `thresholds` (department id → seconds) gives a department its own T: each chat
    is "within T" by the threshold of the department it was queued to, and the others' by
    `threshold_seconds` (docs/kpis.md, "Service level per department").
    """
    facts = list(facts)
    repeats = fcr_population if isinstance(fcr_population, _RepeatIndex) else None
    if repeats is None:
        repeats = _RepeatIndex(facts if fcr_population is None else fcr_population)
    return _summarize(
        facts, repeats, threshold_seconds=threshold_seconds, short_abandon_seconds=short_abandon_seconds,
        sl_variant=sl_variant, fcr_window_hours=fcr_window_hours, thresholds=thresholds,
    )


def _summarize(
    facts: list[ConversationFacts], repeats: _RepeatIndex, *, threshold_seconds: float,
    short_abandon_seconds: float, sl_variant: str, fcr_window_hours: float,
    thresholds: Mapping[Any, float] | None = None,
) -> KpiSummary:
    if sl_variant not in SL_VARIANTS:
        raise ValueError(f"sl_variant must be one of {', '.join(SL_VARIANTS)}; got {sl_variant!r}")
    queued = [f for f in facts if not f.held_only]  # held for the opening and left before it: no queue
    short = [f for f in queued if is_short_abandon(f, short_abandon_seconds)]
    offered = [f for f in queued if not is_short_abandon(f, short_abandon_seconds)]
    answered = [f for f in offered if f.answered]
    abandoned = [f for f in offered if f.abandoned]
    waiting = [f for f in offered if f.waiting]
    def within(f: ConversationFacts) -> bool:
        limit = thresholds.get(f.department_id, threshold_seconds) if thresholds else threshold_seconds
        return f.queue_seconds is not None and f.queue_seconds <= limit

    answered_within = sum(1 for f in answered if within(f))
    abandoned_within = sum(1 for f in abandoned if within(f))
    transferred = sum(1 for f in answered if f.transferred)
    responded = [f for f in answered if f.first_response_at is not None]
    rated = [f for f in facts if f.rating in RATINGS]
    good = sum(1 for f in rated if f.rating == "good")

    window = timedelta(hours=fcr_window_hours)
    eligible = [f for f in answered if f.visitor_id is not None]
    resolved = sum(1 for f in eligible if not repeats.repeated(f, window))

    def queue_times(rows: list[ConversationFacts]) -> list[float]:
        return [f.queue_seconds for f in rows if f.queue_seconds is not None]

    return KpiSummary(
        offered=len(offered),
        short_abandons=len(short),
        answered=len(answered),
        abandoned=len(abandoned),
        waiting=len(waiting),
        answered_within_threshold=answered_within,
        abandoned_within_threshold=abandoned_within,
        transferred=transferred,
        ratings=len(rated),
        good_ratings=good,
        fcr_eligible=len(eligible),
        fcr_resolved=resolved,
        threshold_seconds=threshold_seconds,
        sl_variant=sl_variant,
        abandonment_rate=_ratio(len(abandoned), len(offered)),
        avg_abandon_seconds=_mean(queue_times(abandoned)),
        service_level=service_level(answered_within, abandoned_within, len(offered), sl_variant),
        asa_seconds=_mean(queue_times(answered)),
        avg_queue_seconds=_mean(queue_times(answered + abandoned)),
        first_response_seconds=_mean([_seconds(f.first_response_at, f.answered_at) for f in responded]),
        first_response_from_request_seconds=_mean(
            [_seconds(f.first_response_at, f.requested_at) for f in responded]
        ),
        aht_seconds=_mean([f.handle_seconds for f in answered if f.handle_seconds is not None]),
        transfer_rate=_ratio(transferred, len(answered)),
        fcr=_ratio(resolved, len(eligible)),
        answered_rate=_ratio(len(answered), len(offered)),
        csat=_ratio(good, len(rated)),
        after_hours=sum(1 for f in facts if f.after_hours),
        after_hours_abandoned=sum(1 for f in facts if f.held_only and f.abandoned_at is not None),
    )


def compute_series(
    facts: Iterable[ConversationFacts],
    window_start: datetime,
    window_end: datetime,
    size: str,
    tz: str | tzinfo,
    **kpi_options: Any,
) -> list[tuple[datetime, KpiSummary]]:
    """KPIs per interval: each conversation requested in [window_start, window_end) goes to the
    bucket of its request time in `tz` (see app.kpi.intervals); every bucket of the window is
    listed, empty ones included, as (bucket start as a UTC instant, KpiSummary).

    `kpi_options` are passed to `compute_kpis`; FCR repeats are looked up in all of `facts`
    (including chats requested after the window) unless `fcr_population` is given.
    """
    facts = list(facts)
    window_start, window_end = as_utc(window_start), as_utc(window_end)
    # One index of repeat contacts for every bucket.
    population = kpi_options.get("fcr_population")
    if not isinstance(population, _RepeatIndex):
        kpi_options["fcr_population"] = _RepeatIndex(facts if population is None else population)
    starts = interval_starts(window_start, window_end, size, tz)
    buckets: dict[datetime, list[ConversationFacts]] = {start: [] for start in starts}
    for f in facts:
        if window_start <= f.requested_at < window_end:
            buckets[bucket_start(f.requested_at, size, tz)].append(f)
    return [(start, compute_kpis(buckets[start], **kpi_options)) for start in starts]


def _slice(
    facts: Iterable[ConversationFacts], key: Callable[[ConversationFacts], Any]
) -> dict[Any, list[ConversationFacts]]:
    out: dict[Any, list[ConversationFacts]] = {}
    for f in facts:
        out.setdefault(key(f), []).append(f)
    return out


def by_department(facts: Iterable[ConversationFacts]) -> dict[int | None, list[ConversationFacts]]:
    """Conversations grouped by the department they were queued to (None: no department)."""
    return _slice(facts, lambda f: f.department_id)


def by_agent(facts: Iterable[ConversationFacts]) -> dict[int | None, list[ConversationFacts]]:
    """Conversations grouped by the answering agent (None: never answered)."""
    return _slice(facts, lambda f: f.agent_id)


def by_site(facts: Iterable[ConversationFacts]) -> dict[int | None, list[ConversationFacts]]:
    """Conversations grouped by site."""
    return _slice(facts, lambda f: f.site_id)


# --------------------------------------------------------------------------------------------
# Agent-state KPIs


@dataclass(slots=True)
class StatusRow:
    """One `AgentStatusEvent` row: from `at` on, the agent is in `status`."""

    agent_id: int
    status: str
    at: datetime
    reason: str | None = None
    previous_status: str | None = None


def status_segments(
    status_events: Iterable[StatusRow], window_start: datetime, window_end: datetime
) -> dict[int, list[tuple[datetime, datetime, str]]]:
    """Each agent's state intervals (start, end, status), clipped to [window_start, window_end).

    A state lasts from its event until the agent's next event (or the window end). The state at
    the window start is the one set by the agent's last event before the window when that row
    is given; otherwise the `previous_status` of the agent's first event in the window; when
    neither is known, the time before the first in-window event is not counted.
    """
    window_start, window_end = as_utc(window_start), as_utc(window_end)
    per_agent: dict[int, list[StatusRow]] = {}
    for row in status_events:
        per_agent.setdefault(row.agent_id, []).append(row)
    out: dict[int, list[tuple[datetime, datetime, str]]] = {}
    for agent_id, rows in per_agent.items():
        rows = sorted(rows, key=lambda r: as_utc(r.at))
        before = [r for r in rows if as_utc(r.at) < window_start]
        inside = [r for r in rows if window_start <= as_utc(r.at) < window_end]
        status: str | None = before[-1].status if before else None
        if status is None and inside:
            status = inside[0].previous_status
        start = window_start
        segments: list[tuple[datetime, datetime, str]] = []
        for row in inside:
            at = as_utc(row.at)
            if status is not None and at > start:
                segments.append((start, at, status))
            status, start = row.status, at
        if status is not None and window_end > start:
            segments.append((start, window_end, status))
        if segments:
            out[agent_id] = segments
    return out


def agent_time_in_state(
    status_events: Iterable[StatusRow], window_start: datetime, window_end: datetime
) -> dict[int, dict[str, float]]:
    """Seconds each agent spent in each status within the window (see `status_segments`)."""
    out: dict[int, dict[str, float]] = {}
    for agent_id, segments in status_segments(status_events, window_start, window_end).items():
        totals: dict[str, float] = {}
        for start, end, status in segments:
            totals[status] = totals.get(status, 0.0) + _seconds(end, start)
        out[agent_id] = totals
    return out


def chat_holds(facts: Iterable[ConversationFacts]) -> dict[int, list[Hold]]:
    """Every agent's chat-holding intervals, from the facts' `holds`."""
    out: dict[int, list[Hold]] = {}
    for f in facts:
        for hold in f.holds:
            out.setdefault(hold.agent_id, []).append(hold)
    return out


@dataclass(frozen=True, slots=True)
class AgentKpis:
    """Agent KPIs over a window (agent_id None: a team total from `combine_agent_kpis`).

    - seconds_in_state: `agent_time_in_state`.
    - logged_in_seconds: time in any status other than offline.
    - chat_seconds: time holding ≥ 1 chat (whatever the status).
    - chat_load_seconds: ∫ chats held dt (chat-seconds).
    - available_idle_seconds: time Available and holding no chat.
    - occupancy = chat_seconds / (chat_seconds + available_idle_seconds).
    - concurrency = chat_load_seconds / chat_seconds (mean chats held while holding ≥ 1).
    - answered: chats this agent answered (first assignment) with answered_at in the window.
    - chats_per_hour = answered / (logged_in_seconds / 3600).
    """

    agent_id: int | None
    seconds_in_state: dict[str, float]
    logged_in_seconds: float
    chat_seconds: float
    chat_load_seconds: float
    available_idle_seconds: float
    answered: int
    occupancy: float | None
    concurrency: float | None
    chats_per_hour: float | None


def _agent_kpis(
    agent_id: int | None, seconds_in_state: dict[str, float], chat_seconds: float, load: float,
    idle: float, answered: int,
) -> AgentKpis:
    logged_in = sum(s for status, s in seconds_in_state.items() if status != LOGGED_OUT)
    return AgentKpis(
        agent_id=agent_id,
        seconds_in_state=seconds_in_state,
        logged_in_seconds=logged_in,
        chat_seconds=chat_seconds,
        chat_load_seconds=load,
        available_idle_seconds=idle,
        answered=answered,
        occupancy=_ratio(chat_seconds, chat_seconds + idle),
        concurrency=_ratio(load, chat_seconds),
        chats_per_hour=_ratio(answered, logged_in / 3600),
    )


def agent_kpis(
    status_events: Iterable[StatusRow],
    facts: Iterable[ConversationFacts],
    window_start: datetime,
    window_end: datetime,
) -> dict[int, AgentKpis]:
    """Occupancy, concurrency, chats per logged-in hour and time in state per agent (formulas in
    `AgentKpis`), from status intervals and chat-holding intervals clipped to the window.

    A hold still open counts until the window end; time outside any known status counts towards
    chat time when a chat is held, never towards idle or logged-in time.
    """
    window_start, window_end = as_utc(window_start), as_utc(window_end)
    facts = list(facts)
    segments = status_segments(status_events, window_start, window_end)
    holds = chat_holds(facts)
    answered: dict[int, int] = {}
    for f in facts:
        if f.agent_id is not None and f.answered_at is not None and window_start <= f.answered_at < window_end:
            answered[f.agent_id] = answered.get(f.agent_id, 0) + 1

    out: dict[int, AgentKpis] = {}
    for agent_id in sorted(set(segments) | set(holds) | set(answered)):
        agent_segments = segments.get(agent_id, [])
        deltas: dict[datetime, int] = {}
        for hold in holds.get(agent_id, []):
            start = max(hold.start, window_start)
            end = min(hold.end or window_end, window_end)
            if end > start:
                deltas[start] = deltas.get(start, 0) + 1
                deltas[end] = deltas.get(end, 0) - 1
        points = sorted(set(deltas) | {s for s, _, _ in agent_segments} | {e for _, e, _ in agent_segments}
                        | {window_start, window_end})
        in_state: dict[str, float] = {}
        chat_seconds = load = idle = 0.0
        held = 0
        k = 0  # index of the status segment that may cover the current piece
        for a, b in zip(points, points[1:]):
            held += deltas.get(a, 0)
            length = _seconds(b, a)
            while k < len(agent_segments) and agent_segments[k][1] <= a:
                k += 1
            status = agent_segments[k][2] if k < len(agent_segments) and agent_segments[k][0] <= a else None
            if status is not None:
                in_state[status] = in_state.get(status, 0.0) + length
            if held > 0:
                chat_seconds += length
                load += held * length
            elif status == "available":
                idle += length
        out[agent_id] = _agent_kpis(agent_id, in_state, chat_seconds, load, idle, answered.get(agent_id, 0))
    return out


def combine_agent_kpis(rows: Iterable[AgentKpis]) -> AgentKpis:
    """A team total: sums of the time and count components, ratios recomputed from the sums."""
    rows = list(rows)
    states: dict[str, float] = {}
    for row in rows:
        for status, seconds in row.seconds_in_state.items():
            states[status] = states.get(status, 0.0) + seconds
    return _agent_kpis(
        None, states, sum(r.chat_seconds for r in rows), sum(r.chat_load_seconds for r in rows),
        sum(r.available_idle_seconds for r in rows), sum(r.answered for r in rows),
    )


# --------------------------------------------------------------------------------------------
# Schedule conformance


@dataclass(slots=True)
class ShiftRow:
    """One `Shift` row: the agent is scheduled on the queue from `start` until `end`."""

    agent_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Conformance:
    """Schedule conformance of one agent over a window.

    - scheduled_seconds: the union of the agent's shifts, clipped to the window.
    - ready_scheduled_seconds: time Available within those shifts (see `status_segments`).
    - conformance = ready_scheduled_seconds / scheduled_seconds (None without scheduled time).
    """

    agent_id: int
    scheduled_seconds: float
    ready_scheduled_seconds: float
    conformance: float | None


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def conformance(
    status_events: Iterable[StatusRow],
    shifts: Iterable[ShiftRow],
    window_start: datetime,
    window_end: datetime,
) -> dict[int, Conformance]:
    """Per scheduled agent: ready (Available) time within their shifts / scheduled time, both
    clipped to [window_start, window_end). Overlapping shifts count once; time Available outside
    every shift does not count; agents without a shift in the window are not listed."""
    window_start, window_end = as_utc(window_start), as_utc(window_end)
    per_agent: dict[int, list[tuple[datetime, datetime]]] = {}
    for shift in shifts:
        start, end = max(as_utc(shift.start), window_start), min(as_utc(shift.end), window_end)
        if end > start:
            per_agent.setdefault(shift.agent_id, []).append((start, end))
    segments = status_segments(status_events, window_start, window_end)
    out: dict[int, Conformance] = {}
    for agent_id, intervals in per_agent.items():
        scheduled = _merged(intervals)
        scheduled_seconds = sum(_seconds(end, start) for start, end in scheduled)
        ready = 0.0
        for seg_start, seg_end, status in segments.get(agent_id, []):
            if status != "available":
                continue
            for start, end in scheduled:
                overlap = _seconds(min(seg_end, end), max(seg_start, start))
                if overlap > 0:
                    ready += overlap
        out[agent_id] = Conformance(agent_id=agent_id, scheduled_seconds=scheduled_seconds,
                                    ready_scheduled_seconds=ready,
                                    conformance=_ratio(ready, scheduled_seconds))
    return out


__all__ = [
    "AgentKpis", "Conformance", "ShiftRow", "conformance", "ConversationFacts", "EventRow", "Hold", "KpiSummary", "RATINGS", "SL_VARIANTS",
    "StatusRow", "agent_kpis", "agent_time_in_state", "by_agent", "by_department", "by_site",
    "chat_holds", "combine_agent_kpis", "compute_kpis", "compute_series", "facts_from_events",
    "is_short_abandon", "service_level", "status_segments",
]
