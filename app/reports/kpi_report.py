"""Reports: the KPI engine applied to the event log for a window, sliced and grouped.

Every figure is computed from `ConversationEvent` and `AgentStatusEvent` rows (never from the
current-state columns), by the pure engine in `app.kpi.engine`; docs/kpis.md states the
formulas. A window is a range of whole local days in the center's time zone, or of whole local
hours (`from`/`to` with an hour: `Query.start_hour`, `Query.end_hour`).

A supervisor's reports are of their scope (app/services/scope.py): `Query.reach` keeps the chats
of the queues it covers (by the queue each chat was requested in), and notes and missed offers
of those queues; `Query.staff` keeps the agent states and shifts of their staff. Both None: the
whole center (admins).

Each report returns {"title", "columns": [{key, label, kind}], "rows": [...], ...} so the page
and the CSV export share one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tortoise.functions import Count

from app.clock import iso, utcnow
from app.kpi import engine
from app.kpi.engine import ConversationFacts, EventRow, StatusRow
from app.reports import kept_days
from app.kpi.intervals import SIZES, as_utc, as_zone, local_date_start, local_label, normalize_size
from app.models import (
    AgentStatusEvent, ContactEvent, ConversationEvent, Department, InvitationEvent, Shift, Site, User,
)
from app.services.scope import Reach

GROUPS = ("none", "department", "agent", "site", "team", "handler", "category")
WORK_GROUPS = ("team", "handler", "category")  # the work-order SLA report's (app/reports/workorder_report.py)
MAX_DAYS = 400
KINDS = kept_days.KINDS
REPORTS = ("summary", "traffic", "traffic_hours", "traffic_weekdays", "queues", "agents", "states", "missed", "satisfaction", "csat_comments", "invitations",
           "work_orders", "work_order_aging", "work_order_sla", "callbacks", "contact_categories")


# A report's `from` / `to`: a local date, or a date and a whole hour (seconds allowed when zero).
_MOMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?$")


class ReportError(ValueError):
    """A parameter the report cannot use; the message says which and why."""


@dataclass(frozen=True)
class Query:
    start: date  # first local day
    end: date  # last local day (inclusive)
    time_zone: str = "UTC"
    # A window by the hour: from `start_hour` on the first day until `end_hour` on the last (local
    # hours; 0 and 24 are the whole days).
    start_hour: int = 0
    end_hour: int = 24
    slice: str = "day"
    group: str = "none"
    department_id: int | None = None
    agent_id: int | None = None
    variant: str = "negative"
    threshold_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    fcr_window_hours: float = 24.0
    thresholds: dict = field(default_factory=dict)  # department id → its own threshold
    reach: Reach | None = None  # the queues counted (None: every one)
    staff: frozenset[int] | None = None  # the CSRs whose states and shifts are counted (None: all)

    def covers(self, site_id: int | None, department_id: int | None) -> bool:
        return self.reach is None or (site_id is not None and self.reach.covers(site_id, department_id))

    def counts_agent(self, agent_id: int | None) -> bool:
        return self.staff is None or agent_id in self.staff

    @property
    def whole_days(self) -> bool:
        return self.start_hour == 0 and self.end_hour == 24

    @property
    def window(self) -> tuple[datetime, datetime]:
        """[first instant, end) in UTC: local midnight (or `start_hour`) of the first day until the
        local midnight after the last day (or `end_hour` of it)."""
        return (local_hour_start(self.start, self.start_hour, self.time_zone),
                local_hour_start(self.end, self.end_hour, self.time_zone))

    def previous(self) -> "Query":
        """The period of the same length just before: whole days before whole days; a window by
        the hour, the same local hours that many days earlier (its length in whole days, at least one)."""
        days = (self.end - self.start).days + 1
        if not self.whole_days:
            days = max(1, (self.end - self.start).days + (1 if self.end_hour > self.start_hour else 0))
            return replace(self, start=self.start - timedelta(days=days), end=self.end - timedelta(days=days))
        return replace(self, start=self.start - timedelta(days=days), end=self.start - timedelta(days=1))


def local_hour_start(day: date, hour: int, time_zone: str) -> datetime:
    """The first instant (UTC) of local `hour` (0…24; 24 is the next day's start) of `day`."""
    if hour >= 24:
        return local_date_start(day + timedelta(days=1), time_zone)
    midnight = local_date_start(day, time_zone)
    if hour == 0:
        return midnight
    zone = as_zone(time_zone)
    wall = datetime.combine(day, datetime.min.time()).replace(hour=hour)
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    # An hour skipped by a DST change begins at the change.
    return max(candidate, midnight)


def parse_query(params: dict[str, str], *, time_zone: str, threshold_seconds: float, short_abandon_seconds: float,
                today: date, fcr_window_hours: float = 24.0) -> Query:
    """A Query from URL parameters (from, to, slice, group, department, agent, variant).

    `from` and `to` are local dates (2026-11-23: `to` includes that whole day) or local date-times
    to the hour (2026-11-23T09:00: `from` begins then, `to` ends then), in the center's time zone."""
    def moment(name: str, default: date) -> tuple[date, int | None]:
        value = params.get(name)
        if not value:
            return default, None
        found = _MOMENT.match(value)
        if found is None:
            raise ReportError(f"'{name}' must be a date like 2026-11-23 or a date and hour like 2026-11-23T09:00 "
                              f"(in the center's time zone, {time_zone}).")
        try:
            day_ = date.fromisoformat(found.group(1))
        except ValueError:
            raise ReportError(f"'{name}' is not a day of the calendar: {found.group(1)}.") from None
        if found.group(2) is None:
            return day_, None
        hour, minute = int(found.group(2)), int(found.group(3) or 0)
        if hour > 23:
            raise ReportError(f"'{name}': the hour is 00 to 23.")
        if minute or int(found.group(4) or 0):
            raise ReportError(f"'{name}': a report's window goes by whole hours (like 09:00, not 09:30).")
        return day_, hour

    end, end_hour = moment("to", today)
    start, start_hour = moment("from", end - timedelta(days=6))
    start_hour = start_hour or 0
    if end_hour is None:
        end_hour = 24  # the whole last day
    elif end_hour == 0:  # until midnight: the day before, whole
        end, end_hour = end - timedelta(days=1), 24
    if (start, start_hour) >= (end, end_hour):
        raise ReportError("'from' must be before 'to'." if start_hour or end_hour != 24
                          else "'from' must not be after 'to'.")
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportError(f"A report covers at most {MAX_DAYS} days.")
    try:
        size = normalize_size(params.get("slice") or "day")
    except ValueError:
        raise ReportError(f"'slice' must be one of {', '.join(SIZES)}.") from None
    group = params.get("group") or "none"
    if group not in GROUPS:
        raise ReportError(f"'group' must be one of {', '.join(GROUPS)}.")
    variant = params.get("variant") or "negative"
    if variant not in engine.SL_VARIANTS:
        raise ReportError(f"'variant' must be one of {', '.join(engine.SL_VARIANTS)}.")

    def ident(name: str) -> int | None:
        value = params.get(name)
        if not value:
            return None
        if not value.isdigit() or len(value) > 12:
            raise ReportError(f"'{name}' must be an id.")
        return int(value)

    return Query(start=start, end=end, start_hour=start_hour, end_hour=end_hour, time_zone=time_zone,
                 slice=size, group=group,
                 department_id=ident("department"), agent_id=ident("agent"), variant=variant,
                 threshold_seconds=threshold_seconds, short_abandon_seconds=short_abandon_seconds,
                 fcr_window_hours=fcr_window_hours)


# --------------------------------------------------------------------------------------------
# Loading


@dataclass
class Data:
    query: Query
    facts: list[ConversationFacts]  # requested in the window (filters applied)
    population: list[ConversationFacts]  # also those requested within the FCR window after it
    status: list[StatusRow]
    offer_expired: list[EventRow]
    names: dict[str, dict[int, str]]
    notes: list[dict[str, Any]] = field(default_factory=list)  # `note_left` contact events in the window
    shifts: list[engine.ShiftRow] = field(default_factory=list)  # schedules overlapping the window


async def load(query: Query, *, conversations_only: bool = False) -> Data:
    """The window's data. `conversations_only`: for the reports of the chats alone (summary,
    traffic, queues, satisfaction): the facts (without their holds, unless the query is of one
    agent) and the names; no agent states, shifts, notes or expired offers."""
    lo, hi = query.window
    fcr_hi = hi + timedelta(hours=query.fcr_window_hours)
    # Finished days' facts are kept, the rest derived from the event log (app/reports/kept_days.py).
    population = await kept_days.population(lo, fcr_hi, query.time_zone,
                                            holds=not conversations_only or query.agent_id is not None)
    if query.reach is not None:
        population = [f for f in population if query.covers(f.site_id, f.department_id)]
    facts = [f for f in population if lo <= f.requested_at < hi]
    if query.department_id is not None:
        facts = [f for f in facts if f.department_id == query.department_id]
    if query.agent_id is not None:
        facts = [f for f in facts if f.agent_id == query.agent_id or any(h.agent_id == query.agent_id for h in f.holds)]
    names = {
        "department": {d["id"]: d["name"] for d in await Department.all().values("id", "name")},
        "agent": {u["id"]: u["display_name"] for u in await User.all().values("id", "display_name")},
        "site": {s["id"]: s["name"] for s in await Site.all().values("id", "name")},
    }
    if conversations_only:
        return Data(query=query, facts=facts, population=population, status=[], offer_expired=[], names=names)
    # Agent states: a week before the window tells each agent's state at its start.
    status = [
        StatusRow(agent_id=r["user_id"], status=r["status"], at=r["at"], reason=r["reason"],
                  previous_status=r["previous_status"])
        for r in await AgentStatusEvent.filter(at__gte=lo - timedelta(days=7), at__lt=hi).order_by("at", "id")
        .values("user_id", "status", "at", "reason", "previous_status")
    ]
    if query.agent_id is not None:
        status = [s for s in status if s.agent_id == query.agent_id]
    status = [s for s in status if query.counts_agent(s.agent_id)]
    expired = [
        EventRow(conversation_id=r["conversation_id"], kind=r["kind"], at=as_utc(r["at"]), agent_id=r["agent_id"],
                 department_id=r["department_id"], site_id=r["site_id"], data=r["data"] or {})
        for r in await ConversationEvent.filter(kind="offer_expired", at__gte=lo, at__lt=hi,
                                                conversation__requested_at__gte=lo,
                                                conversation__requested_at__lt=fcr_hi)
        .order_by("id").values("conversation_id", "kind", "at", "agent_id", "department_id", "site_id", "data")
        if query.covers(r["site_id"], r["department_id"])
    ]
    notes = await ContactEvent.filter(kind="note_left", at__gte=lo, at__lt=hi).order_by("at", "id") \
        .values("at", "department_id", "site_id", "data")
    notes = [n for n in notes if query.covers(n["site_id"], n["department_id"])]
    if query.department_id is not None:
        notes = [n for n in notes if n["department_id"] == query.department_id]
    if query.agent_id is not None:
        notes = []  # a note is nobody's missed chat
    shift_filter = {"user_id": query.agent_id} if query.agent_id is not None else {}
    shifts = [engine.ShiftRow(agent_id=r["user_id"], start=r["starts_at"], end=r["ends_at"])
              for r in await Shift.filter(starts_at__lt=hi, ends_at__gt=lo, **shift_filter)
              .values("user_id", "starts_at", "ends_at") if query.counts_agent(r["user_id"])]
    return Data(query=query, facts=facts, population=population, status=status, offer_expired=expired, names=names,
                notes=notes, shifts=shifts)


# --------------------------------------------------------------------------------------------
# Shapes


def _kpis(data: Data, facts: list[ConversationFacts]) -> engine.KpiSummary:
    """The KPIs of `facts`; each chat's service level by its own department's threshold."""
    q = data.query
    return engine.compute_kpis(
        facts, threshold_seconds=q.threshold_seconds, thresholds=q.thresholds,
        short_abandon_seconds=q.short_abandon_seconds, sl_variant=q.variant, fcr_window_hours=q.fcr_window_hours,
        fcr_population=data.population,
    )


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


HEADLINE = [
    ("offered", "Offered", "count"), ("answered", "Answered", "count"), ("abandoned", "Abandoned", "count"),
    ("short_abandons", "Short abandons", "count"), ("abandonment_rate", "Abandonment rate", "percent"),
    ("avg_abandon_seconds", "Average abandon time", "seconds"), ("service_level", "Service level", "percent"),
    ("asa_seconds", "ASA", "seconds"), ("avg_queue_seconds", "Average queue time", "seconds"),
    ("first_response_seconds", "First response time", "seconds"), ("aht_seconds", "AHT", "seconds"),
    ("transfer_rate", "Transfer rate", "percent"), ("fcr", "First-contact resolution", "percent"),
    ("answered_rate", "Answered rate", "percent"), ("csat", "CSAT", "percent"), ("ratings", "Ratings", "count"),
    # Asked for outside business hours and held for the opening (docs/kpis.md, "After hours").
    ("after_hours", "After-hours chats", "count"), ("after_hours_abandoned", "After-hours abandoned", "count"),
]


def _headline(k: engine.KpiSummary) -> dict[str, Any]:
    return {key: (_r(getattr(k, key), 2 if kind == "seconds" else 4) if kind != "count" else getattr(k, key))
            for key, _, kind in HEADLINE}


def _columns(*spec: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"key": k, "label": label, "kind": kind} for k, label, kind in spec]


def _group_key(data: Data, f: ConversationFacts) -> int | None:
    return {"department": f.department_id, "agent": f.agent_id, "site": f.site_id}.get(data.query.group)


def _group_name(data: Data, key: int | None) -> str:
    group = data.query.group
    if key is None:
        return {"department": "General", "agent": "Not answered", "site": "—"}.get(group, "All")
    return data.names.get(group, {}).get(key, f"#{key}")


async def summary(query: Query) -> dict[str, Any]:
    data = await load(query, conversations_only=True)
    previous = await load(query.previous(), conversations_only=True)
    now, before = _headline(_kpis(data, data.facts)), _headline(_kpis(previous, previous.facts))
    change = {}
    for key, _, kind in HEADLINE:
        a, b = now[key], before[key]
        change[key] = None if a is None or b is None else (round(a - b, 4) if kind != "count" else a - b)
    rows = [{"kpi": label, "value": now[key], "previous": before[key], "change": change[key], "kind": kind}
            for key, label, kind in HEADLINE]
    return {"title": "Summary", "window": _window(query), "previous_window": _window(query.previous()),
            "fcr_window_hours": query.fcr_window_hours,
            "headline": now, "previous": before, "change": change,
            "columns": _columns(("kpi", "KPI", "text"), ("value", "This period", "value"),
                                ("previous", "Previous period", "value"), ("change", "Change", "value")),
            "rows": rows}


def window_names(q: Query) -> dict[str, str]:
    """The window's `from` and `to` as the parameters give them: dates for whole days, else local
    date-times to the hour (`to`: the end, not included)."""
    if q.whole_days:
        return {"from": q.start.isoformat(), "to": q.end.isoformat()}
    end = (q.end + timedelta(days=1), 0) if q.end_hour == 24 else (q.end, q.end_hour)
    return {"from": f"{q.start.isoformat()}T{q.start_hour:02d}:00", "to": f"{end[0].isoformat()}T{end[1]:02d}:00"}


def _window(q: Query) -> dict[str, Any]:
    lo, hi = q.window
    return {**window_names(q), "start": iso(lo), "end": iso(hi),
            "time_zone": q.time_zone}


async def traffic(query: Query) -> dict[str, Any]:
    data = await load(query, conversations_only=True)
    lo, hi = query.window
    series = engine.compute_series(
        data.facts, lo, hi, query.slice, query.time_zone, threshold_seconds=query.threshold_seconds,
        thresholds=query.thresholds, short_abandon_seconds=query.short_abandon_seconds, sl_variant=query.variant,
        fcr_window_hours=query.fcr_window_hours, fcr_population=data.population,
    )
    zone = as_zone(query.time_zone)
    rows = [{
        "interval": local_label(start, zone).isoformat(), "offered": k.offered, "answered": k.answered,
        "abandoned": k.abandoned, "service_level": _r(k.service_level), "asa_seconds": _r(k.asa_seconds, 2),
    } for start, k in series]
    hours = [0] * 24
    weekdays = [0] * 7
    for f in data.facts:
        if engine.is_short_abandon(f, query.short_abandon_seconds):
            continue
        local = f.requested_at.astimezone(zone)
        hours[local.hour] += 1
        weekdays[local.weekday()] += 1
    return {"title": "Traffic", "window": _window(query), "slice": query.slice,
            "columns": _columns(("interval", "Interval", "time"), ("offered", "Offered", "count"),
                                ("answered", "Answered", "count"), ("abandoned", "Abandoned", "count"),
                                ("service_level", "Service level", "percent"), ("asa_seconds", "ASA", "seconds")),
            "rows": rows,
            "hour_profile": [{"hour": h, "offered": n} for h, n in enumerate(hours)],
            "weekday_profile": [{"weekday": d, "offered": n} for d, n in
                                zip(WEEKDAYS, weekdays)]}


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


async def traffic_hours(query: Query) -> dict[str, Any]:
    """The traffic report's 24-hour profile (its chart's data) as a table: chats offered per local
    hour of the day over the window; headed by machine names in the CSV."""
    result = await traffic(query)
    return {"title": "24-hour profile", "window": result["window"], "csv_header": "key",
            "columns": _columns(("hour", "Hour", "count"), ("offered", "Chats", "count")),
            "rows": result["hour_profile"]}


async def traffic_weekdays(query: Query) -> dict[str, Any]:
    """The traffic report's day-of-week profile (its chart's data) as a table: chats offered per
    local day of the week (Mon … Sun) over the window; headed by machine names in the CSV."""
    result = await traffic(query)
    return {"title": "Day-of-week profile", "window": result["window"], "csv_header": "key",
            "columns": _columns(("weekday", "Day of week", "weekday"), ("offered", "Chats", "count")),
            "rows": result["weekday_profile"]}


async def queues(query: Query) -> dict[str, Any]:
    data = await load(query, conversations_only=True)
    rows = []
    for department_id, facts in sorted(engine.by_department(data.facts).items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
        k = _kpis(data, facts)
        waits = [f.queue_seconds for f in facts if f.queue_seconds is not None]
        rows.append({"queue": data.names["department"].get(department_id, "General") if department_id else "General",
                     "offered": k.offered, "answered": k.answered, "abandoned": k.abandoned,
                     "service_level": _r(k.service_level), "asa_seconds": _r(k.asa_seconds, 2),
                     "longest_wait_seconds": _r(max(waits), 2) if waits else None,
                     "after_hours": k.after_hours, "after_hours_abandoned": k.after_hours_abandoned})
    return {"title": "Queues", "window": _window(query),
            "columns": _columns(("queue", "Queue", "text"), ("offered", "Offered", "count"),
                                ("answered", "Answered", "count"), ("abandoned", "Abandoned", "count"),
                                ("service_level", "Service level", "percent"), ("asa_seconds", "ASA", "seconds"),
                                ("longest_wait_seconds", "Longest wait", "seconds"),
                                ("after_hours", "After-hours chats", "count"),
                                ("after_hours_abandoned", "After-hours abandoned", "count")),
            "rows": rows}


def _segments_with_reasons(status: list[StatusRow], lo: datetime, hi: datetime) -> dict[int, list[tuple]]:
    """Each agent's (start, end, status, reason) within [lo, hi)."""
    per: dict[int, list[StatusRow]] = {}
    for row in status:
        per.setdefault(row.agent_id, []).append(row)
    out: dict[int, list[tuple]] = {}
    for agent_id, rows in per.items():
        rows.sort(key=lambda r: r.at)
        current: tuple | None = None
        start = lo
        segments = []
        for row in rows:
            if row.at < lo:
                current = (row.status, row.reason)
                continue
            if row.at >= hi:
                break
            if current is None and row.previous_status:
                current = (row.previous_status, None)
            if current is not None and row.at > start:
                segments.append((start, row.at, *current))
            current, start = (row.status, row.reason), row.at
        if current is not None and hi > start:
            segments.append((start, hi, *current))
        if segments:
            out[agent_id] = segments
    return out


def _until_now(hi: datetime) -> datetime:
    """A window's end, but no later than now: a state lasts until the CSR's next event, not into
    the future (a day in progress counts its time so far)."""
    return min(hi, utcnow())


async def agents(query: Query) -> dict[str, Any]:
    data = await load(query)
    lo, hi = query.window
    hi = max(lo, _until_now(hi))
    per_agent = engine.agent_kpis(data.status, data.facts, lo, hi)
    segments = _segments_with_reasons(data.status, lo, hi)
    by_agent = engine.by_agent(data.facts)
    # Conformance only when schedules exist (for the agents with a shift in the window).
    conformance = engine.conformance(data.status, data.shifts, lo, hi) if data.shifts else {}
    rows = []
    for agent_id in sorted(set(per_agent) | set(segments) | set(conformance),
                           key=lambda i: data.names["agent"].get(i, "")):
        a = per_agent.get(agent_id)
        k = _kpis(data, by_agent.get(agent_id, []))
        away: dict[str, float] = {}
        for start, end, status, reason in segments.get(agent_id, []):
            if status == "away":
                label = reason or "No reason"
                away[label] = away.get(label, 0.0) + (end - start).total_seconds()
        rows.append({
            "agent": data.names["agent"].get(agent_id, f"#{agent_id}"),
            "signed_in_seconds": _r(a.logged_in_seconds, 1) if a else 0,
            "ready_seconds": _r(a.seconds_in_state.get("available", 0.0), 1) if a else 0,
            "away_seconds": _r(sum(away.values()), 1),
            "away_by_reason": "; ".join(f"{r}: {round(s / 60)} min" for r, s in sorted(away.items())),
            "chats": a.answered if a else 0,
            "aht_seconds": _r(k.aht_seconds, 2),
            "occupancy": _r(a.occupancy) if a else None,
            "concurrency": _r(a.concurrency, 2) if a else None,
            "chats_per_hour": _r(a.chats_per_hour, 2) if a else None,
            "csat": _r(k.csat),
        })
        if data.shifts:
            c = conformance.get(agent_id)
            rows[-1]["scheduled_seconds"] = _r(c.scheduled_seconds, 1) if c else 0
            rows[-1]["conformance"] = _r(c.conformance) if c else None
    schedule_columns = (("scheduled_seconds", "Scheduled", "duration"), ("conformance", "Conformance", "percent")) \
        if data.shifts else ()
    return {"title": "Agents", "window": _window(query),
            "columns": _columns(("agent", "CSR", "text"), ("signed_in_seconds", "Signed in", "duration"),
                                ("ready_seconds", "Ready", "duration"), ("away_seconds", "Away", "duration"),
                                ("away_by_reason", "Away by reason", "text"), ("chats", "Chats", "count"),
                                ("aht_seconds", "AHT", "seconds"), ("occupancy", "Occupancy", "percent"),
                                ("concurrency", "Concurrency", "number"), ("chats_per_hour", "Chats per hour", "number"),
                                ("csat", "CSAT", "percent"), *schedule_columns),
            "rows": rows}


async def states(query: Query) -> dict[str, Any]:
    data = await load(query)
    lo, hi = query.window
    hi = max(lo, _until_now(hi))
    zone = as_zone(query.time_zone)
    rows = []
    for agent_id, segments in sorted(_segments_with_reasons(data.status, lo, hi).items(),
                                     key=lambda kv: data.names["agent"].get(kv[0], "")):
        for start, end, status, reason in segments:
            rows.append({"agent": data.names["agent"].get(agent_id, f"#{agent_id}"),
                         "from": start.astimezone(zone).isoformat(), "to": end.astimezone(zone).isoformat(),
                         "state": status, "reason": reason or "",
                         "seconds": _r((end - start).total_seconds(), 1)})
    return {"title": "Agent state log", "window": _window(query),
            "columns": _columns(("agent", "CSR", "text"), ("from", "From", "time"), ("to", "To", "time"),
                                ("state", "State", "text"), ("reason", "Reason", "text"),
                                ("seconds", "Duration", "duration")),
            "rows": rows}


NOTE_CAUSES = {
    "no_agent": "No agent online — left a note (offline form)",
    "outside_hours": "Outside business hours — left a note (offline form)",
    "while_queued": "Left a note (offline form) instead of waiting",
    "open": "Left a note (offline form)",
}


async def missed(query: Query) -> dict[str, Any]:
    data = await load(query)
    zone = as_zone(query.time_zone)
    rows = []
    # A visitor who gave up waiting and left a note abandoned their chat: one row, the note's cause.
    noted = {n["data"].get("conversation_id") for n in data.notes if isinstance(n["data"], dict)} - {None}
    for f in data.facts:
        if not f.abandoned:
            continue
        short = engine.is_short_abandon(f, query.short_abandon_seconds)
        cause = ("Left while held outside business hours" if f.held_only
                 else "Left within the short-abandon time" if short else "Visitor left the queue")
        rows.append({
            "when": f.requested_at.astimezone(zone).isoformat(), "conversation": f.conversation_id,
            "queue": data.names["department"].get(f.department_id, "General") if f.department_id else "General",
            "cause": NOTE_CAUSES["while_queued"] if f.conversation_id in noted else cause,
            "waited_seconds": _r(f.queue_seconds, 2), "agent": "",
        })
    for n in data.notes:
        note = n["data"] if isinstance(n["data"], dict) else {}
        if note.get("conversation_id") is not None:
            continue  # shown as its abandoned chat above (when that chat was requested in the window)
        department_id = n["department_id"]
        rows.append({
            "when": as_utc(n["at"]).astimezone(zone).isoformat(), "conversation": None,
            "queue": data.names["department"].get(department_id, "General") if department_id else "General",
            "cause": NOTE_CAUSES.get(note.get("reason"), NOTE_CAUSES["open"]), "waited_seconds": None, "agent": "",
        })
    for e in data.offer_expired:
        rows.append({
            "when": e.at.astimezone(zone).isoformat(), "conversation": e.conversation_id,
            "queue": data.names["department"].get(e.department_id, "General") if e.department_id else "General",
            "cause": "Offer not answered in time", "waited_seconds": None,
            "agent": data.names["agent"].get(e.agent_id, "") if e.agent_id else "",
        })
    rows.sort(key=lambda r: r["when"])
    return {"title": "Missed chats", "window": _window(query),
            "columns": _columns(("when", "When", "time"), ("conversation", "Chat", "id"), ("queue", "Queue", "text"),
                                ("cause", "Cause", "text"), ("waited_seconds", "Waited", "seconds"),
                                ("agent", "CSR", "text")),
            "rows": rows}


async def satisfaction(query: Query) -> dict[str, Any]:
    data = await load(query, conversations_only=True)
    rows = []
    for kind, grouped in (("CSR", engine.by_agent(data.facts)), ("Department", engine.by_department(data.facts))):
        names = data.names["agent" if kind == "CSR" else "department"]
        for key, facts in grouped.items():
            rated = [f for f in facts if f.rating in engine.RATINGS]
            if not rated:
                continue
            counts = {r: sum(1 for f in rated if f.rating == r) for r in engine.RATINGS}
            rows.append({"by": kind, "name": names.get(key, "General" if kind == "Department" else "—") if key else
                         ("General" if kind == "Department" else "—"),
                         "good": counts["good"], "neutral": counts["neutral"], "bad": counts["bad"],
                         "ratings": len(rated), "csat": _r(counts["good"] / len(rated))})
    return {"title": "Satisfaction", "window": _window(query),
            "columns": _columns(("by", "By", "text"), ("name", "Name", "text"), ("good", "Good", "count"),
                                ("neutral", "Neutral", "count"), ("bad", "Bad", "count"),
                                ("ratings", "Ratings", "count"), ("csat", "CSAT", "percent")),
            "rows": rows}


async def csat_comments(query: Query) -> dict[str, Any]:
    """Each rating with a comment, of the chats requested in the window (the same department, CSR
    and scope filters as the other reports), newest first: the latest rating of each chat counts,
    as in CSAT. The comment is the visitor's text: data, shown as text, never markup."""
    data = await load(query, conversations_only=True)
    facts = {f.conversation_id: f for f in data.facts if f.rating in engine.RATINGS}
    latest: dict[int, dict[str, Any]] = {}
    ids = list(facts)
    for chunk in range(0, len(ids), 500):
        for row in await ConversationEvent.filter(conversation_id__in=ids[chunk:chunk + 500], kind="rated") \
                .order_by("id").values("conversation_id", "at", "data"):
            latest[row["conversation_id"]] = row
    zone = as_zone(query.time_zone)
    rows = []
    for conversation_id, row in sorted(latest.items(), key=lambda kv: (kv[1]["at"], kv[0]), reverse=True):
        event = row["data"] if isinstance(row["data"], dict) else {}
        comment = event.get("comment")
        if not isinstance(comment, str) or not comment.strip():
            continue
        f = facts[conversation_id]
        rows.append({
            "when": as_utc(row["at"]).astimezone(zone).isoformat(), "rating": f.rating, "comment": comment, "chat": conversation_id,
            "chat_url": f"/console?conversation={conversation_id}",
            "csr": data.names["agent"].get(f.agent_id, "—") if f.agent_id else "—",
            "department": data.names["department"].get(f.department_id, "General") if f.department_id else "General",
        })
    return {"title": "CSAT comments", "window": _window(query),
            "columns": _columns(("when", "When", "time"), ("rating", "Rating", "word"), ("comment", "Comment", "text"),
                                ("chat", "Chat", "chat"), ("csr", "CSR", "text"), ("department", "Department", "text")),
            "rows": rows}


async def invitations(query: Query) -> dict[str, Any]:
    lo, hi = query.window
    counts: dict[str, int] = {}
    rows = InvitationEvent.filter(at__gte=lo, at__lt=hi)
    if query.reach is not None and query.reach.sites is not None:  # a supervisor's: their sites'
        rows = rows.filter(site_id__in=list(query.reach.sites))
    for row in await rows.group_by("kind").annotate(n=Count("id")).values("kind", "n"):
        counts[row["kind"]] = row["n"]
    shown = counts.get("shown", 0)
    accepted = counts.get("accepted", 0)
    chats = counts.get("chat_started", 0)
    converted = counts.get("converted", 0)
    rows = [{"step": step, "count": counts.get(step, 0)}
            for step in ("sent", "shown", "accepted", "declined", "expired", "chat_started", "converted")]
    # KPIS.md: invitations accepted / shown, chats started / shown; conversions / chats started.
    return {"title": "Invitations", "window": _window(query),
            "acceptance_rate": _r(accepted / shown) if shown else None,
            "chat_rate": _r(chats / shown) if shown else None,
            "conversion_rate": _r(converted / chats) if chats else None,
            "columns": _columns(("step", "Step", "text"), ("count", "Invitations", "count")),
            "rows": rows}


async def grouped(query: Query) -> dict[str, Any]:
    """The headline KPIs per group (department, agent or site) — `group` of the query."""
    data = await load(query, conversations_only=True)
    buckets: dict[int | None, list[ConversationFacts]] = {}
    for f in data.facts:
        buckets.setdefault(_group_key(data, f), []).append(f)
    rows = [{"group": _group_name(data, key), **_headline(_kpis(data, facts))} for key, facts in buckets.items()]
    return {"title": "By " + query.group, "window": _window(query),
            "columns": _columns(("group", query.group.capitalize(), "text"),
                                *[(key, label, kind) for key, label, kind in HEADLINE]),
            "rows": rows}


async def run(name: str, query: Query) -> dict[str, Any]:
    from app.reports import workorder_report

    if name in workorder_report.REPORTS:
        return await workorder_report.run(name, query)
    if query.group in WORK_GROUPS:
        raise ReportError("'group' team, handler and category are for the work-order SLA report.")
    if name == "summary" and query.group != "none":
        return await grouped(query)
    return await {"summary": summary, "traffic": traffic, "traffic_hours": traffic_hours,
                  "traffic_weekdays": traffic_weekdays, "queues": queues, "agents": agents, "states": states,
                  "missed": missed, "satisfaction": satisfaction, "csat_comments": csat_comments,
                  "invitations": invitations}[name](query)
