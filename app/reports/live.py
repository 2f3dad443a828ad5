"""Today's figures for the wallboard, read from the event log.

Loads every event (of the kinds the KPIs read) of each conversation *requested* since the
center's local midnight and hands the rows to the pure `app.kpi.live.summarize`; docs/kpis.md
("Wallboard") says what the figures mean. A supervisor's figures are those of their queues
(`reach`, app/services/scope.py): the chats requested in a queue it covers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.clock import utcnow
from app.kpi.engine import EventRow, facts_from_events
from app.kpi.intervals import as_utc
from app.kpi.live import day_start, summarize
from app.models import ConversationEvent, Department
from app.services.scope import Reach

# The event kinds the conversation KPIs read (see `EventRow`); the rest stay in the database.
_KINDS = ("requested", "queued", "assigned", "first_response", "closed", "abandoned", "transferred", "wrap_up")


async def load_events(start: datetime, end: datetime) -> list[EventRow]:
    """Every event (of the kinds KPIs read) of the conversations requested in [start, end)."""
    rows = await (
        ConversationEvent.filter(
            conversation__requested_at__gte=start, conversation__requested_at__lt=end, kind__in=_KINDS
        )
        .order_by("id")
        .values("conversation_id", "kind", "at", "agent_id", "department_id", "site_id", "data")
    )
    return [
        EventRow(
            conversation_id=r["conversation_id"], kind=r["kind"], at=r["at"], agent_id=r["agent_id"],
            department_id=r["department_id"], site_id=r["site_id"], data=r["data"] or {},
        )
        for r in rows
    ]


def covered(events: list[EventRow], reach: Reach | None) -> list[EventRow]:
    """The events of the conversations whose queue (the one each was requested in, as the KPIs
    read it) `reach` covers; all of them when `reach` is None."""
    if reach is None or reach.departments is None:
        return events
    mine = {f.conversation_id for f in facts_from_events(events)
            if f.site_id is not None and reach.covers(f.site_id, f.department_id)}
    return [e for e in events if e.conversation_id in mine]


async def department_thresholds() -> dict[int, float]:
    """Each department's own service-level threshold (seconds), of those that set one."""
    return {d["id"]: d["sl_threshold_seconds"] for d in
            await Department.filter(sl_threshold_seconds__isnull=False).values("id", "sl_threshold_seconds")}


async def today(
    *, time_zone: str, threshold_seconds: float, short_abandon_seconds: float, now: datetime | None = None,
    reach: Reach | None = None,
) -> dict[str, Any]:
    """Today's figures so far (see `app.kpi.live.summarize` for the shape), of the queues `reach`
    covers (None: every one)."""
    now = as_utc(now or utcnow())
    start = day_start(now, time_zone)
    # A little past now, so an event written in this very instant is not cut off.
    events = covered(await load_events(start, now + timedelta(seconds=1)), reach)
    return summarize(
        events, start=start, time_zone=time_zone, threshold_seconds=threshold_seconds,
        short_abandon_seconds=short_abandon_seconds, thresholds=await department_thresholds(),
    )
