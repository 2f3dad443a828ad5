"""The CSR scorecard (docs/quality.md "The CSR scorecard and tenure"): a CSR's weekly QA score, CSAT,
first response time, AHT, FCR, occupancy, adherence to schedule and chats per hour against the team's
median, and the same metrics by week of tenure against the veterans' median.

Every figure but the QA score is the KPI engine's (app/kpi/engine.py, docs/kpis.md) over the event log,
loaded as the KPI reports load it (app/reports/kpi_report.py `load`), for each 7-day window:
- CSAT, first response time, AHT, FCR: `compute_kpis` of the chats the CSR answered that were requested
  in the window (`by_agent`: the answering CSR), FCR's repeats looked up in every chat loaded;
- occupancy, chats per hour: `agent_kpis` (state and chat-holding intervals clipped to the window);
- adherence to schedule: `conformance` (Available time within their shifts ÷ scheduled time);
- QA score: the mean score of the CSR's submitted evaluations outside calibration whose chat was
  requested in the window (an evaluation without a score — every criterion N/A — counts in no mean).

Who may read whose scorecard is app/services/scope.py `evaluation_reach`; this module computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.clock import utcnow
from app.kpi import engine
from app.kpi.intervals import as_utc, as_zone, local_date_start
from app.models import CoachingSession, Evaluation, User
from app.quality import tenure
from app.reports import kpi_report
from app.services import scope

# (key, label, kind): kind says how a value reads — score 0–100, percent (a fraction), seconds, number.
METRICS = (
    ("qa_score", "QA score", "score"),
    ("csat", "CSAT", "percent"),
    ("first_response_seconds", "First response time", "seconds"),
    ("aht_seconds", "AHT", "seconds"),
    ("fcr", "First-contact resolution", "percent"),
    ("occupancy", "Occupancy", "percent"),
    ("adherence", "Adherence to schedule", "percent"),
    ("chats_per_hour", "Chats per hour", "number"),
)
METRIC_KEYS = tuple(key for key, _, _ in METRICS)
DIGITS = {"score": 1, "percent": 4, "seconds": 1, "number": 3}
MAX_WEEKS = 52
DEFAULT_WEEKS = 8
DEFAULT_TENURE_WEEKS = 26


class ScorecardError(ValueError):
    """A parameter the scorecard cannot use; the message says which and why."""


@dataclass(frozen=True)
class Options:
    time_zone: str = "UTC"
    threshold_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    fcr_window_hours: float = 24.0
    thresholds: dict = field(default_factory=dict)
    veteran_months: int = tenure.DEFAULT_VETERAN_MONTHS


def _round(value: float | None, kind: str) -> float | None:
    return None if value is None else round(value, DIGITS[kind])


def parse(params: dict[str, str], *, today: date, veteran_months: int, default_weeks: int = DEFAULT_WEEKS
          ) -> tuple[int, date, int]:
    """(weeks, to, veteran_months) from the page's or API's parameters: `weeks` 1–52, `to` a date (the
    last week is the one holding it; default today, not in the future), `veteran_months` 1–120."""
    def whole(name: str, default: int, low: int, high: int) -> int:
        value = (params.get(name) or "").strip()
        if not value:
            return default
        if not value.isascii() or not value.isdigit() or len(value) > 4 or not low <= int(value) <= high:
            raise ScorecardError(f"'{name}' must be a whole number from {low} to {high}.")
        return int(value)

    weeks = whole("weeks", default_weeks, 1, MAX_WEEKS)
    months = whole("veteran_months", veteran_months, 1, 120)
    to = today
    raw = (params.get("to") or "").strip()
    if raw:
        try:
            if len(raw) != 10:
                raise ValueError
            to = date.fromisoformat(raw)
        except ValueError:
            raise ScorecardError("'to' must be a date like 2026-11-23.") from None
        if to > today:
            raise ScorecardError("'to' cannot be in the future.")
    return weeks, to, months


# --------------------------------------------------------------------------------------------
# Who

async def team_of(csr: User) -> list[int]:
    """The CSR's team: the CSRs of their departments (in no department: the CSRs in none), themselves included."""
    team = await scope.members(csr)
    ids = User.filter(role="agent", is_active=True)
    if team is not None:
        ids = ids.filter(id__in=list(team))
    return sorted(set(await ids.values_list("id", flat=True)) | {csr.id})


async def csrs_of(viewer: User) -> list[dict[str, Any]]:
    """The CSRs whose scorecards `viewer` reads (app/services/scope.py `evaluation_reach`), by name."""
    _, reach = await scope.evaluation_reach(viewer)
    rows = User.filter(role="agent", is_active=True)
    if reach is not None:
        rows = rows.filter(id__in=list(reach))
    return sorted(await rows.values("id", "display_name", "started_on", "created_at"),
                  key=lambda r: (r["display_name"].casefold(), r["id"]))


async def may_read(viewer: User, csr_id: int) -> User | None:
    """The CSR if `viewer` may read their scorecard (None: no such CSR, or not theirs to read)."""
    csr = await User.get_or_none(id=csr_id, role="agent")
    if csr is None:
        return None
    _, reach = await scope.evaluation_reach(viewer)
    if reach is not None and csr.id not in reach:
        return None
    return csr


def start_of(user: dict[str, Any] | User, zone: str) -> date | None:
    get = user.get if isinstance(user, dict) else (lambda k: getattr(user, k))
    return tenure.start_of(get("started_on"), get("created_at"), as_zone(zone))


# --------------------------------------------------------------------------------------------
# Figures

async def measure(agent_ids: list[int], windows: list[tenure.Window], options: Options
                  ) -> dict[int, dict[int, dict[str, float | None]]]:
    """{window index: {agent id: {metric: value}}} for these CSRs over each window (local days, the
    center's time zone); a window not begun yet is left out."""
    if not agent_ids or not windows:
        return {}
    ids = frozenset(agent_ids)
    first = min(w.first for w in windows)
    last = max(w.last for w in windows)
    query = kpi_report.Query(start=first, end=last, time_zone=options.time_zone,
                             threshold_seconds=options.threshold_seconds, thresholds=options.thresholds,
                             short_abandon_seconds=options.short_abandon_seconds,
                             fcr_window_hours=options.fcr_window_hours, staff=ids)
    data = await kpi_report.load(query)
    mine = [f for f in data.facts if f.agent_id in ids or any(h.agent_id in ids for h in f.holds)]
    repeats = engine._RepeatIndex(data.population)  # one index of repeat contacts for every window
    zone = options.time_zone
    lo_all, hi_all = local_date_start(first, zone), local_date_start(last + timedelta(days=1), zone)
    scores: list[tuple[int, Any, float]] = [
        (r["agent_id"], as_utc(r["conversation__requested_at"]), r["score"])
        for r in await Evaluation.filter(agent_id__in=list(ids), status="submitted", calibration_id=None,
                                         score__isnull=False, conversation__requested_at__gte=lo_all,
                                         conversation__requested_at__lt=hi_all)
        .values("agent_id", "score", "conversation__requested_at")]
    now = utcnow()
    out: dict[int, dict[int, dict[str, float | None]]] = {}
    for window in windows:
        lo, hi = local_date_start(window.first, zone), local_date_start(window.end, zone)
        if lo >= now:
            continue
        until = min(hi, now)
        answered = engine.by_agent(f for f in mine if lo <= f.requested_at < hi)
        agents = engine.agent_kpis(data.status, mine, lo, until)
        conformance = engine.conformance(data.status, data.shifts, lo, until)
        per: dict[int, dict[str, float | None]] = {}
        for agent_id in sorted(ids):
            k = engine.compute_kpis(answered.get(agent_id, []), threshold_seconds=options.threshold_seconds,
                                    thresholds=options.thresholds, short_abandon_seconds=options.short_abandon_seconds,
                                    fcr_window_hours=options.fcr_window_hours, fcr_population=repeats)
            a = agents.get(agent_id)
            c = conformance.get(agent_id)
            qa = [s for who, at, s in scores if who == agent_id and lo <= at < hi]
            values = {
                "qa_score": sum(qa) / len(qa) if qa else None,
                "csat": k.csat, "first_response_seconds": k.first_response_seconds, "aht_seconds": k.aht_seconds,
                "fcr": k.fcr, "occupancy": a.occupancy if a else None,
                "adherence": c.conformance if c else None, "chats_per_hour": a.chats_per_hour if a else None,
            }
            per[agent_id] = {key: _round(values[key], kind) for key, _, kind in METRICS}
        out[window.index] = per
    return out


def _columns(*spec: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"key": k, "label": label, "kind": kind} for k, label, kind in spec]


def _series_columns(first: tuple[tuple[str, str, str], ...], reference: str) -> list[dict[str, str]]:
    spec = list(first)
    for key, label, kind in METRICS:
        spec.append((key, label, kind))
        spec.append((f"{key}_{reference}", f"{label} ({'team median' if reference == 'team' else 'veterans'})",
                     kind))
    return _columns(*spec)


async def weekly(csr: User, *, weeks: int, to: date, options: Options) -> dict[str, Any]:
    """The CSR's weekly trends: each calendar week's figures and the team's median of the same week."""
    windows = tenure.calendar_windows(to, weeks)
    team = await team_of(csr)
    figures = await measure(team, windows, options)
    rows = []
    for window in windows:
        per = figures.get(window.index, {})
        own = per.get(csr.id, {})
        row: dict[str, Any] = {"week": window.first.isoformat(), "week_end": window.last.isoformat()}
        for key in METRIC_KEYS:
            row[key] = own.get(key)
            row[f"{key}_team"] = _round(tenure.median(p.get(key) for p in per.values()),
                                        dict((k, kd) for k, _, kd in METRICS)[key])
        rows.append(row)
    return {"title": "Weekly trends", "csr": {"id": csr.id, "name": csr.display_name}, "team_size": len(team),
            "metrics": [{"key": k, "label": label, "kind": kind} for k, label, kind in METRICS],
            "columns": _series_columns((("week", "Week", "date"), ("week_end", "Week end", "date")), "team"),
            "rows": rows}


async def tenure_curve(csr: User, *, weeks: int, to: date, options: Options) -> dict[str, Any]:
    """The CSR's figures by week of tenure (week 0: the first 7 days from their start) and the median of
    the team's veterans (tenure above `options.veteran_months` months) over the same 7 days."""
    start = start_of(csr, options.time_zone)
    team = await team_of(csr)
    starts = {r["id"]: start_of(r, options.time_zone)
              for r in await User.filter(id__in=team).values("id", "started_on", "created_at")}
    veteran_ids = sorted(tenure.veterans(starts, to, options.veteran_months, exclude=[csr.id]))
    windows = tenure.tenure_windows(start, to, weeks) if start is not None else []
    figures = await measure([csr.id, *veteran_ids], windows, options)
    kinds = {k: kind for k, _, kind in METRICS}
    rows = []
    for window in windows:
        per = figures.get(window.index)
        if per is None:
            continue
        row: dict[str, Any] = {"tenure_week": window.index, "week": window.first.isoformat(),
                               "week_end": window.last.isoformat()}
        own = per.get(csr.id, {})
        for key in METRIC_KEYS:
            points = tenure.curve([window], {window.index: own.get(key)},
                                  {window.index: {v: per.get(v, {}).get(key) for v in veteran_ids}})
            row[key] = points[0].value
            row[f"{key}_veterans"] = _round(points[0].reference, kinds[key])
        rows.append(row)
    return {"title": "Tenure curve", "csr": {"id": csr.id, "name": csr.display_name},
            "start": start.isoformat() if start else None, "started_on_set": csr.started_on is not None,
            "veteran_months": options.veteran_months, "veterans": len(veteran_ids),
            "metrics": [{"key": k, "label": label, "kind": kind} for k, label, kind in METRICS],
            "columns": _series_columns((("tenure_week", "Week of tenure", "count"), ("week", "From", "date"),
                                        ("week_end", "To", "date")), "veterans"),
            "rows": rows}


async def team(viewer: User, *, weeks: int, to: date, options: Options) -> dict[str, Any]:
    """Every CSR `viewer` oversees over the last `weeks` calendar weeks (one window), and the team median."""
    csrs = await csrs_of(viewer)
    windows = tenure.calendar_windows(to, weeks)
    # One window of `weeks` × 7 days: the period measured as a whole.
    figures: dict[int, dict[str, float | None]] = {}
    if windows:
        period = tenure.Window(0, windows[0].first, days=7 * len(windows))
        figures = (await measure([c["id"] for c in csrs], [period], options)).get(0, {})
    kinds = {k: kind for k, _, kind in METRICS}
    rows = []
    for c in csrs:
        start = start_of(c, options.time_zone)
        rows.append({"csr": c["display_name"], "csr_id": c["id"], "start": start.isoformat() if start else None,
                     **{k: figures.get(c["id"], {}).get(k) for k in METRIC_KEYS}})
    median = {k: _round(tenure.median(r[k] for r in rows), kinds[k]) for k in METRIC_KEYS}
    return {"title": "Team scorecard", "from": windows[0].first.isoformat() if windows else None,
            "to": windows[-1].last.isoformat() if windows else None,
            "columns": _columns(("csr", "CSR", "text"), ("start", "Start date", "date"), *METRICS),
            "rows": rows, "median": median}


async def evaluations_of(csr_id: int) -> list[dict[str, Any]]:
    """The CSR's submitted evaluations (outside calibration), newest first."""
    return await Evaluation.filter(agent_id=csr_id, status="submitted", calibration_id=None) \
        .order_by("-submitted_at", "-id").limit(200) \
        .values("id", "conversation_id", "score", "critical_failed", "agent_state", "submitted_at",
                "evaluator__display_name")


async def coaching_of(csr_id: int) -> list[dict[str, Any]]:
    return await CoachingSession.filter(agent_id=csr_id).order_by("-held_on", "-id").limit(200) \
        .values("id", "held_on", "topics", "goals", "follow_up_on", "coach__display_name")


async def options_from(settings: Any, veteran_months: int | None = None) -> Options:
    from app.reports import live

    return Options(time_zone=settings.center_time_zone, threshold_seconds=settings.service_level_threshold_seconds,
                   short_abandon_seconds=settings.short_abandon_seconds, fcr_window_hours=settings.fcr_window_hours,
                   thresholds=await live.department_thresholds(),
                   veteran_months=veteran_months or settings.qa_veteran_months)


__all__ = ["METRICS", "Options", "ScorecardError", "coaching_of", "csrs_of", "evaluations_of",
           "may_read", "measure", "options_from", "parse", "team", "team_of", "tenure_curve", "weekly"]
