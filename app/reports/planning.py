"""The staffing plan for next week, from the history in the event log.

Reads the request times and the KPI events of the `targets.weeks` whole local weeks before
today, then runs the pure `app.kpi.planning.plan_staffing` (forecast, handle time, Erlang C);
docs/kpis.md ("Staffing") says how the plan is made. A supervisor's plan is for their queues
(`reach`, app/services/scope.py): the chats requested in a queue it covers.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

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


async def staffing_plan(
    *, time_zone: str, targets: StaffingTargets, concurrency_override: float | None, now: datetime | None = None,
    reach: Reach | None = None,
) -> StaffingPlan:
    """The plan for the 7 local days from today, from the `targets.weeks` whole weeks before."""
    zone = as_zone(time_zone)
    today = as_utc(now or utcnow()).astimezone(zone).date()
    first_day = today - timedelta(days=targets.weeks * DAYS_PER_WEEK)
    start, end = local_date_start(first_day, zone), local_date_start(today, zone)
    requests, events = await load_history(start, end, reach)

    def compute() -> StaffingPlan:
        history = volume_series(requests, first_day, targets.weeks * DAYS_PER_WEEK, time_zone)
        return plan_staffing(
            history, history_start=first_day, time_zone=time_zone, handling=measure_handling(events, start, end),
            targets=targets, concurrency_override=concurrency_override,
        )

    # Fitting the smoothing model takes a moment: keep the event loop (and its sockets) free.
    return await asyncio.to_thread(compute)
