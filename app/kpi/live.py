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
from collections.abc import Mapping
from typing import Any

from app.clock import iso
from app.kpi.engine import EventRow, by_department, compute_kpis, facts_from_events
from app.kpi.intervals import as_utc, as_zone, local_date_start


def day_start(now: datetime, time_zone: str) -> datetime:
    """The first instant (UTC) of `now`'s local date in the center's time zone."""
    zone = as_zone(time_zone)
    return local_date_start(as_utc(now).astimezone(zone).date(), zone)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarize(
    events: list[EventRow], *, start: datetime, time_zone: str, threshold_seconds: float,
    short_abandon_seconds: float, thresholds: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """The wallboard's `today` object from the day's event rows (pure; see `compute_kpis`).

    `thresholds` (department id → seconds) are the departments' own service-level thresholds,
    as in the reports: each chat counts as answered in time by its department's threshold, and
    `departments` lists each department's figures by its own."""
    facts = facts_from_events(events)
    thresholds = dict(thresholds or {})

    def kpis_of(rows):
        return compute_kpis(rows, threshold_seconds=threshold_seconds, thresholds=thresholds,
                            short_abandon_seconds=short_abandon_seconds, sl_variant="negative")

    kpis = kpis_of(facts)
    departments = [
        {"department_id": department_id, "threshold_seconds": thresholds.get(department_id, threshold_seconds),
         "offered": k.offered, "answered_within_threshold": k.answered_within_threshold,
         "service_level": _round(k.service_level, 4)}
        for department_id, rows in sorted(by_department(facts).items(), key=lambda kv: (kv[0] is not None, kv[0] or 0))
        for k in (kpis_of(rows),)
    ]
    used = {d["threshold_seconds"] for d in departments} or {threshold_seconds}
    return {
        "departments": departments,
        # Whether the chats today were held to more than one threshold (their departments' own).
        "thresholds_vary": len(used) > 1,
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
