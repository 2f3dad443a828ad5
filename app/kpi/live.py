"""Today's figures for the wallboard: service level, ASA, offered, answered and abandoned so far.

"Today" is the center's day: from local midnight in `CENTER_TIME_ZONE` until now. The figures
are computed by the pure engine in `app.kpi.engine` from the event log's rows (every event of
each conversation *requested* today, read by `app.reports.live`), so the wallboard and the
reports agree to the chat.

A chat still waiting counts as offered (it entered the queue) and, until it is answered, not as
answered within the threshold: with the default "abandons negative" service level a long queue
shows on the wallboard as it builds up, not only once the chats are answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.clock import iso
from app.kpi.engine import EventRow, compute_kpis, facts_from_events
from app.kpi.intervals import as_utc, as_zone, local_date_start


def day_start(now: datetime, time_zone: str) -> datetime:
    """The first instant (UTC) of `now`'s local date in the center's time zone."""
    zone = as_zone(time_zone)
    return local_date_start(as_utc(now).astimezone(zone).date(), zone)


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
