"""The staffing plan for next week, from the history in the event log.

Reads the request times and the KPI events of the `targets.weeks` whole local weeks before
today, then runs the pure `app.kpi.planning.plan_staffing` (forecast, handle time, Erlang C);
docs/kpis.md ("Staffing") says how the plan is made. A supervisor's plan is for their queues
(`reach`, app/services/scope.py): the chats requested in a queue it covers.

**Cache.** Making a plan reads weeks of events and fits a forecast (seconds with a busy history);
reading the two stamps of that history below takes milliseconds. So each server keeps the plans it
made (`PlanCache`, in its runtime) under a key of *everything* the plan depends on: the center's
time zone, the targets (model, service level, threshold, occupancy, shrinkage, weeks, abandonment,
patience), the concurrency setting, the reader's queues, the local day (the window), and a stamp of
the history in the window -- the number and the largest id of the `requested` events in it, and of
the events of the conversations requested in it. Event ids only grow (PostgreSQL sequences, SQLite
AUTOINCREMENT), so a new, late or deleted event changes the stamp, and the next request makes a new
plan. Invalidation is by key content, never by notification, so every worker of a multi-process
deployment keeps its own cache and they stay correct.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Hashable

from app import runtime
from app.clock import utcnow
from app.kpi.engine import EventRow
from app.kpi.intervals import as_utc, as_zone, local_date_start
from app.kpi.planning import (
    DAYS_PER_WEEK, StaffingPlan, StaffingTargets, measure_handling, plan_staffing, volume_series,
)
from app.models import ConversationEvent
from app.reports.live import covered, load_events  # the same loader as the wallboard's
from app.services.scope import Reach


async def load_history(start: datetime, end: datetime,
                       reach: Reach | None = None) -> tuple[list[datetime], list[EventRow]]:
    """Request times, and every KPI event of the conversations requested in [start, end) (of the
    queues `reach` covers; None: every one)."""
    requests = await ConversationEvent.filter(kind="requested", at__gte=start, at__lt=end) \
        .values_list("conversation_id", "at")
    events = await load_events(start, end)
    if reach is not None and reach.departments is not None:
        events = covered(events, reach)
        mine = {e.conversation_id for e in events}
        requests = [(cid, at) for cid, at in requests if cid in mine]
    return [at for _, at in requests], events


@dataclass(frozen=True)
class HistoryStamp:
    """What changes whenever the history a plan reads changes (see the module's docstring)."""

    requests: int
    last_request_id: int | None
    events: int
    last_event_id: int | None


async def history_stamp(start: datetime, end: datetime) -> HistoryStamp:
    """Counts and largest ids of the `requested` events in [start, end) and of every event of the
    conversations requested in it (a superset of what `load_history` reads for any reach)."""
    requested = ConversationEvent.filter(kind="requested", at__gte=start, at__lt=end)
    of_window = ConversationEvent.filter(conversation__requested_at__gte=start, conversation__requested_at__lt=end)
    last_request = await requested.order_by("-id").first().values_list("id", flat=True)
    last_event = await of_window.order_by("-id").first().values_list("id", flat=True)
    return HistoryStamp(await requested.count(), last_request, await of_window.count(), last_event)


class PlanCache:
    """The plans one server made, by their inputs and history stamp (least recently used first out)."""

    SIZE = 32

    def __init__(self) -> None:
        self.plans: OrderedDict[Hashable, StaffingPlan] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> StaffingPlan | None:
        plan = self.plans.get(key)
        if plan is None:
            self.misses += 1
            return None
        self.hits += 1
        self.plans.move_to_end(key)
        return plan

    def put(self, key: Hashable, plan: StaffingPlan) -> None:
        self.plans[key] = plan
        self.plans.move_to_end(key)
        while len(self.plans) > self.SIZE:
            self.plans.popitem(last=False)


def _reach_key(reach: Reach | None) -> Hashable:
    if reach is None or reach.departments is None:
        return None  # the whole center's history
    return (reach.messages, reach.sites, reach.departments)


def plan_key(*, time_zone: str, targets: StaffingTargets, concurrency_override: float | None, today: date,
             reach: Reach | None, stamp: HistoryStamp) -> Hashable:
    """Everything a plan depends on (StaffingTargets is a frozen dataclass: hashable by value)."""
    return (time_zone, targets, concurrency_override, today, _reach_key(reach), stamp)


async def staffing_plan(
    *, time_zone: str, targets: StaffingTargets, concurrency_override: float | None, now: datetime | None = None,
    reach: Reach | None = None, use_cache: bool = True,
) -> StaffingPlan:
    """The plan for the 7 local days from today, from the `targets.weeks` whole weeks before.

    Read from this server's `PlanCache` when nothing it depends on changed (`use_cache=False`:
    always made afresh, and not stored)."""
    zone = as_zone(time_zone)
    today = as_utc(now or utcnow()).astimezone(zone).date()
    first_day = today - timedelta(days=targets.weeks * DAYS_PER_WEEK)
    start, end = local_date_start(first_day, zone), local_date_start(today, zone)
    if not use_cache:
        return await _make_plan(time_zone, targets, concurrency_override, reach, first_day, start, end)
    cache = runtime.current().state(PlanCache)
    key = plan_key(time_zone=time_zone, targets=targets, concurrency_override=concurrency_override, today=today,
                   reach=reach, stamp=await history_stamp(start, end))
    plan = cache.get(key)
    if plan is None:
        plan = await _make_plan(time_zone, targets, concurrency_override, reach, first_day, start, end)
        cache.put(key, plan)
    return plan


async def _make_plan(time_zone: str, targets: StaffingTargets, concurrency_override: float | None,
                     reach: Reach | None, first_day: date, start: datetime, end: datetime) -> StaffingPlan:
    requests, events = await load_history(start, end, reach)

    def compute() -> StaffingPlan:
        history = volume_series(requests, first_day, targets.weeks * DAYS_PER_WEEK, time_zone)
        return plan_staffing(
            history, history_start=first_day, time_zone=time_zone, handling=measure_handling(events, start, end),
            targets=targets, concurrency_override=concurrency_override,
        )

    # Fitting the smoothing model takes a moment: keep the event loop (and its sockets) free.
    return await asyncio.to_thread(compute)
