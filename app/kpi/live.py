"""Today's figures for the wallboard: service level, ASA, offered, answered and abandoned so far.

"Today" is the center's day: from local midnight in `CENTER_TIME_ZONE` until now. The figures
are read from the event log (every event of each conversation *requested* today) and computed
by the pure engine in `app.kpi.engine`, so the wallboard and the reports agree to the chat.

A chat still waiting counts as offered (it entered the queue) and, until it is answered, not as
answered within the threshold: with the default "abandons negative" service level a long queue
shows on the wallboard as it builds up, not only once the chats are answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.clock import iso, utcnow
from app.kpi.engine import EventRow, compute_kpis, facts_from_events
from app.kpi.intervals import as_utc, as_zone, local_date_start
from app.models import ConversationEvent

# The event kinds the conversation KPIs read (see `EventRow`); the rest stay in the database.
_KINDS = ("requested", "queued", "assigned", "first_response", "closed", "abandoned", "transferred", "wrap_up")


def day_start(now: datetime, time_zone: str) -> datetime:
    """The first instant (UTC) of `now`'s local date in the center's time zone."""
    zone = as_zone(time_zone)
    return local_date_start(as_utc(now).astimezone(zone).date(), zone)


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


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarize(
    events: list[EventRow], *, start: datetime, time_zone: str, threshold_seconds: float,
    short_abandon_seconds: float,
) -> dict[str, Any]:
    """The wallboard's `today` object from the day's event rows (pure; see `compute_kpis`)."""
    kpis = compute_kpis(
        facts_from_events(events), threshold_seconds=threshold_seconds,
        short_abandon_seconds=short_abandon_seconds, sl_variant="negative",
    )
    return {
        "day_start": iso(start),
        "time_zone": time_zone,
        "threshold_seconds": threshold_seconds,
        "short_abandon_seconds": short_abandon_seconds,
        "sl_variant": kpis.sl_variant,
        "offered": kpis.offered,
        "answered": kpis.answered,
        "abandoned": kpis.abandoned,
        "waiting": kpis.waiting,
        "short_abandons": kpis.short_abandons,
        "answered_within_threshold": kpis.answered_within_threshold,
        "abandoned_within_threshold": kpis.abandoned_within_threshold,
        "service_level": _round(kpis.service_level, 4),
        "abandonment_rate": _round(kpis.abandonment_rate, 4),
        "asa_seconds": _round(kpis.asa_seconds, 1),
        "avg_abandon_seconds": _round(kpis.avg_abandon_seconds, 1),
    }


async def today(
    *, time_zone: str, threshold_seconds: float, short_abandon_seconds: float, now: datetime | None = None,
) -> dict[str, Any]:
    """Today's figures so far (see `summarize` for the shape)."""
    now = as_utc(now or utcnow())
    start = day_start(now, time_zone)
    # A little past now, so an event written in this very instant is not cut off.
    events = await load_events(start, now + timedelta(seconds=1))
    return summarize(
        events, start=start, time_zone=time_zone, threshold_seconds=threshold_seconds,
        short_abandon_seconds=short_abandon_seconds,
    )
