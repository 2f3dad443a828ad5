"""Workforce planning: from the event log's rows to the agents needed per half hour next week.

Pure: `app.reports.planning` reads the history from the log and calls `plan_staffing`.

1. **Volume.** Requested conversations per 30-minute slot of the center's wall clock
   (`CENTER_TIME_ZONE`): 48 slots a local day, so a week is always m = 336 slots and "the same
   slot last week" means the same local time, across daylight-saving changes (the hour that is
   skipped in spring has no chats; the hour that repeats in autumn counts both into one slot).
2. **Forecast.** `app.kpi.forecast.choose_forecast` backtests the seasonal baselines and
   Holt-Winters smoothing over the history and forecasts the 336 slots from today's local
   midnight with the winner.
3. **Handle time and concurrency** are measured over the same history with the KPI engine:
   AHT = mean(close − accept + wrap-up) of answered chats; concurrency = chat-seconds held /
   seconds holding at least one chat (the mean number of chats a CSR holds while in chat).
4. **Concurrency model.** Effective handle time = AHT / concurrency (`erlang.effective_aht`):
   a CSR holding c chats at once, each lasting AHT, clears one every AHT / c seconds. The
   measured factor is used unless the center sets `STAFFING_CONCURRENCY`; with no chat held
   in the history, 1 (one chat at a time).
5. **Staffing.** For each slot, Erlang C or Erlang A (`erlang.required_agents`, the center's
   choice) gives the fewest agents meeting the service-level target within the threshold and
   the occupancy cap -- and for Erlang A (visitors abandon after a mean patience) an
   abandonment rate at most the maximum -- never fewer than the offered load, and the staff
   to schedule after shrinkage.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from app.kpi import erlang
from app.kpi.engine import EventRow, agent_kpis, combine_agent_kpis, compute_kpis, facts_from_events
from app.kpi.forecast import METHODS, SEASON, ForecastChoice, choose_forecast
from app.kpi.intervals import as_utc, as_zone

SLOT_SECONDS = 30 * 60
SLOTS_PER_DAY = 48
DAYS_PER_WEEK = 7
MIN_WEEKS = 2
MAX_WEEKS = 26
MODELS = (erlang.MODEL_ERLANG_C, erlang.MODEL_ERLANG_A)
MAX_PATIENCE_SECONDS = 3600.0

METHOD_NAMES = {
    "seasonal_naive": "Seasonal naive (same slot last week)",
    "seasonal_mean": "Seasonal mean (same slot, up to 4 weeks)",
    "holt_winters": "Holt-Winters smoothing (statsmodels)",
}


@dataclass(frozen=True)
class StaffingTargets:
    """What the plan must meet. Fractions, not percentages."""

    target_sl: float = 0.8
    threshold_seconds: float = 20.0
    max_occupancy: float = 0.85
    shrinkage: float = 0.3
    weeks: int = 8
    model: str = erlang.MODEL_ERLANG_C
    max_abandon: float = erlang.DEFAULT_MAX_ABANDON  # Erlang A only
    patience_seconds: float = 120.0  # Erlang A only: the visitors' mean patience

    @property
    def erlang_a(self) -> bool:
        return self.model == erlang.MODEL_ERLANG_A

    def __post_init__(self) -> None:
        if not 0 < self.target_sl < 1:
            raise ValueError("The service-level target must be above 0 % and below 100 %.")
        if not 0 <= self.threshold_seconds <= 3600:
            raise ValueError("The threshold must be between 0 and 3,600 seconds.")
        if not 0 < self.max_occupancy <= 1:
            raise ValueError("The maximum occupancy must be above 0 % and at most 100 %.")
        if not 0 <= self.shrinkage < 1:
            raise ValueError("Shrinkage must be at least 0 % and below 100 %.")
        if not MIN_WEEKS <= self.weeks <= MAX_WEEKS:
            raise ValueError(f"The history must be {MIN_WEEKS} to {MAX_WEEKS} weeks.")
        if self.model not in MODELS:
            raise ValueError("The model must be Erlang C or Erlang A.")
        if not 0 < self.max_abandon < 1:
            raise ValueError("The maximum abandonment must be above 0 % and below 100 %.")
        if not 0 < self.patience_seconds <= MAX_PATIENCE_SECONDS:
            raise ValueError("The mean patience must be above 0 and at most 3,600 seconds.")


@dataclass(frozen=True)
class Handling:
    """Handle time and concurrency measured over the history (None: nothing to measure)."""

    aht_seconds: float | None
    concurrency: float | None
    answered: int
    closed: int


@dataclass(frozen=True)
class SlotPlan:
    start: datetime  # UTC instant of the slot's local wall-clock start
    label: str  # local "YYYY-MM-DD HH:MM"
    volume: float  # forecast requested chats
    agents: int  # working the queue
    staff: int  # to schedule, after shrinkage
    service_level: float | None
    occupancy: float | None
    asa_seconds: float | None
    abandonment: float | None = None  # Erlang A: the share of visitors who give up waiting


@dataclass(frozen=True)
class StaffingPlan:
    time_zone: str
    targets: StaffingTargets
    history_start: date  # first local day of the history
    history_days: int
    history_volume: float  # requested chats in the history
    handling: Handling
    concurrency: float  # the factor used
    concurrency_source: str  # "measured" | "setting" | "default"
    effective_aht_seconds: float | None
    choice: ForecastChoice
    slots: list[SlotPlan] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.choice.chosen

    @property
    def can_staff(self) -> bool:
        return self.effective_aht_seconds is not None


# --------------------------------------------------------------------------------------------
# Volume per wall-clock slot


def slot_of(at: datetime, time_zone: str) -> tuple[date, int]:
    """(local date, slot 0..47) of an instant on the center's wall clock."""
    local = as_utc(at).astimezone(as_zone(time_zone))
    return local.date(), local.hour * 2 + local.minute // 30


def volume_series(request_times: Iterable[datetime], first_day: date, days: int, time_zone: str) -> list[float]:
    """Requests per slot for `days` local days from `first_day` (48 slots a day, no gaps)."""
    series = [0.0] * (days * SLOTS_PER_DAY)
    for at in request_times:
        day, slot = slot_of(at, time_zone)
        index = (day - first_day).days * SLOTS_PER_DAY + slot
        if 0 <= index < len(series):
            series[index] += 1
    return series


def slot_start(day: date, slot: int, time_zone: str) -> datetime:
    """The UTC instant a local slot begins (a label skipped by a DST change maps past the gap)."""
    zone = as_zone(time_zone)
    local = datetime(day.year, day.month, day.day, slot // 2, 30 * (slot % 2), tzinfo=zone)
    return local.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# Handle time and concurrency


def measure_handling(events: Iterable[EventRow], start: datetime, end: datetime) -> Handling:
    """AHT and concurrency of the chats requested in [start, end), by the KPI engine."""
    facts = [f for f in facts_from_events(events) if as_utc(start) <= f.requested_at < as_utc(end)]
    kpis = compute_kpis(facts)
    team = combine_agent_kpis(agent_kpis([], facts, start, end).values())
    closed = sum(1 for f in facts if f.handle_seconds is not None)
    return Handling(aht_seconds=kpis.aht_seconds, concurrency=team.concurrency, answered=kpis.answered, closed=closed)


def concurrency_used(handling: Handling, override: float | None) -> tuple[float, str]:
    """The concurrency factor for staffing and where it comes from."""
    if override is not None:
        return float(override), "setting"
    if handling.concurrency is not None and handling.concurrency > 0:
        return handling.concurrency, "measured"
    return 1.0, "default"


# --------------------------------------------------------------------------------------------
# The plan


def plan_staffing(
    history: list[float],
    *,
    history_start: date,
    time_zone: str,
    handling: Handling,
    targets: StaffingTargets,
    concurrency_override: float | None = None,
) -> StaffingPlan:
    """Forecast the week after `history` (whole local days) and staff each slot (pure)."""
    if len(history) % SLOTS_PER_DAY:
        raise ValueError("the history must hold whole days of 48 slots")
    days = len(history) // SLOTS_PER_DAY
    choice = choose_forecast(history, SEASON, season=SEASON)
    concurrency, source = concurrency_used(handling, concurrency_override)
    effective = (
        erlang.effective_aht(handling.aht_seconds, concurrency)
        if handling.aht_seconds is not None and handling.aht_seconds > 0 else None
    )
    first = history_start + timedelta(days=days)
    slots: list[SlotPlan] = []
    for i, volume in enumerate(choice.forecast):
        day, slot = first + timedelta(days=i // SLOTS_PER_DAY), i % SLOTS_PER_DAY
        start = slot_start(day, slot, time_zone)
        label = f"{day.isoformat()} {slot // 2:02d}:{30 * (slot % 2):02d}"
        volume = round(volume, 3)
        if effective is None or volume <= 0:
            slots.append(SlotPlan(start, label, volume, 0, 0, None, None, None))
            continue
        result = erlang.required_agents(
            volume, SLOT_SECONDS, effective, targets.target_sl, targets.threshold_seconds,
            max_occupancy=targets.max_occupancy, shrinkage=targets.shrinkage,
            patience=targets.patience_seconds if targets.erlang_a else None,
            max_abandon=targets.max_abandon,
        )
        slots.append(SlotPlan(
            start, label, volume, result.agents, result.staff, result.service_level, result.occupancy,
            result.asa if math.isfinite(result.asa) else None, result.prob_abandon,
        ))
    return StaffingPlan(
        time_zone=time_zone, targets=targets, history_start=history_start, history_days=days,
        history_volume=sum(history), handling=handling, concurrency=concurrency, concurrency_source=source,
        effective_aht_seconds=effective, choice=choice, slots=slots,
    )


# --------------------------------------------------------------------------------------------
# Output


CSV_COLUMNS = (
    "slot_start_local", "slot_start_utc", "forecast_chats", "agents", "staff", "service_level", "occupancy",
    "asa_seconds", "abandonment",
)


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def to_csv(plan: StaffingPlan) -> str:
    """One row per slot; empty cells where nothing is staffed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in plan.slots:
        writer.writerow([
            s.label, s.start.isoformat(), _fmt(s.volume, 3), s.agents, s.staff, _fmt(s.service_level, 4),
            _fmt(s.occupancy, 4), _fmt(s.asa_seconds, 1), _fmt(s.abandonment, 4),
        ])
    return out.getvalue()


def to_json(plan: StaffingPlan) -> dict[str, Any]:
    """What the staffing page draws (labels, forecast volume, agents and staff per slot)."""
    return {
        "labels": [s.label for s in plan.slots],
        "volume": [s.volume for s in plan.slots],
        "agents": [s.agents for s in plan.slots],
        "staff": [s.staff for s in plan.slots],
        "occupancy": [s.occupancy for s in plan.slots],
        "abandonment": [s.abandonment for s in plan.slots],
        "model": plan.targets.model,
        "method": plan.method,
        "can_staff": plan.can_staff,
    }


def daily_summary(plan: StaffingPlan) -> list[dict[str, Any]]:
    """Per local day: forecast chats, peak agents and peak staff, and staff-hours to schedule."""
    days: dict[str, dict[str, Any]] = {}
    for s in plan.slots:
        day = days.setdefault(s.label[:10], {"day": s.label[:10], "volume": 0.0, "peak_agents": 0, "peak_staff": 0,
                                             "staff_hours": 0.0})
        day["volume"] += s.volume
        day["peak_agents"] = max(day["peak_agents"], s.agents)
        day["peak_staff"] = max(day["peak_staff"], s.staff)
        day["staff_hours"] += s.staff * SLOT_SECONDS / 3600
    return list(days.values())


__all__ = [
    "CSV_COLUMNS", "Handling", "MAX_PATIENCE_SECONDS", "METHODS", "METHOD_NAMES", "MODELS", "SLOT_SECONDS", "SlotPlan", "StaffingPlan",
    "StaffingTargets", "concurrency_used", "daily_summary", "measure_handling", "plan_staffing", "slot_of",
    "slot_start", "to_csv", "to_json", "volume_series",
]
