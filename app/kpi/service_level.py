"""Service level (the three Cisco UCCE variants) and the KPIs that are simple ratios.

Plain values in, plain values out: counts are non-negative integers, durations are seconds.
Every ratio returns ``None`` when its denominator is zero (nothing to measure), never a
made-up 0 % or 100 %. Negative counts, or parts larger than their whole, raise ValueError.

Service level with threshold ``T`` (``<= T`` is inclusive), ``offered`` excluding short
abandons:

* abandons ignored:  ``answered<=T / (offered - abandoned<=T)``
* abandons negative: ``answered<=T / offered``                    (the default)
* abandons positive: ``(answered<=T + abandoned<=T) / offered``
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real

__all__ = [
    "ABANDONS_IGNORED",
    "ABANDONS_NEGATIVE",
    "ABANDONS_POSITIVE",
    "SL_VARIANTS",
    "abandonment_rate",
    "answered_rate",
    "asa",
    "average_abandon_time",
    "average_queue_time",
    "chats_per_hour",
    "conformance",
    "count_within",
    "csat",
    "first_contact_resolution",
    "invitation_conversion",
    "mean",
    "occupancy",
    "ratio",
    "service_level",
    "service_level_from_waits",
    "sl_abandons_ignored",
    "sl_abandons_negative",
    "sl_abandons_positive",
    "transfer_rate",
]

ABANDONS_IGNORED = "abandons_ignored"
ABANDONS_NEGATIVE = "abandons_negative"
ABANDONS_POSITIVE = "abandons_positive"
SL_VARIANTS: tuple[str, ...] = (ABANDONS_IGNORED, ABANDONS_NEGATIVE, ABANDONS_POSITIVE)


# --------------------------------------------------------------------------- helpers


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return int(value)


def _amount(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return result


def _part(name: str, value: int, whole_name: str, whole: float) -> None:
    if value > whole:
        raise ValueError(f"{name} ({value}) cannot exceed {whole_name} ({whole})")


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when the denominator is zero."""
    numerator = _amount("numerator", numerator)
    denominator = _amount("denominator", denominator)
    if denominator == 0:
        return None
    return numerator / denominator


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean ``sum(values) / len(values)``; None for an empty list."""
    items = [_amount("value", v) for v in values]
    if not items:
        return None
    return math.fsum(items) / len(items)


def count_within(waits: Iterable[float], threshold: float) -> int:
    """How many queue times are ``<= threshold`` seconds (inclusive)."""
    threshold = _amount("threshold", threshold)
    return sum(1 for w in waits if _amount("queue time", w) <= threshold)


# --------------------------------------------------------------------------- service level


def sl_abandons_ignored(answered_within: int, abandoned_within: int, offered: int) -> float | None:
    """Cisco "abandons ignored": ``answered<=T / (offered - abandoned<=T)``."""
    answered_within, abandoned_within, offered = _sl_counts(answered_within, abandoned_within, offered)
    denominator = offered - abandoned_within
    return None if denominator == 0 else answered_within / denominator


def sl_abandons_negative(answered_within: int, abandoned_within: int, offered: int) -> float | None:
    """Cisco "abandons negative": ``answered<=T / offered`` (abandons count as misses)."""
    answered_within, abandoned_within, offered = _sl_counts(answered_within, abandoned_within, offered)
    return None if offered == 0 else answered_within / offered


def sl_abandons_positive(answered_within: int, abandoned_within: int, offered: int) -> float | None:
    """Cisco "abandons positive": ``(answered<=T + abandoned<=T) / offered``."""
    answered_within, abandoned_within, offered = _sl_counts(answered_within, abandoned_within, offered)
    return None if offered == 0 else (answered_within + abandoned_within) / offered


def _sl_counts(answered_within: int, abandoned_within: int, offered: int) -> tuple[int, int, int]:
    answered_within = _count("answered_within", answered_within)
    abandoned_within = _count("abandoned_within", abandoned_within)
    offered = _count("offered", offered)
    _part("answered_within + abandoned_within", answered_within + abandoned_within, "offered", offered)
    return answered_within, abandoned_within, offered


def service_level(
    answered_within: int,
    abandoned_within: int,
    offered: int,
    variant: str = ABANDONS_NEGATIVE,
) -> float | None:
    """Service level in the named Cisco variant (default: abandons negative).

    ``variant`` is one of :data:`SL_VARIANTS`. See the module docstring for the formulas.
    """
    if variant == ABANDONS_IGNORED:
        return sl_abandons_ignored(answered_within, abandoned_within, offered)
    if variant == ABANDONS_NEGATIVE:
        return sl_abandons_negative(answered_within, abandoned_within, offered)
    if variant == ABANDONS_POSITIVE:
        return sl_abandons_positive(answered_within, abandoned_within, offered)
    raise ValueError(f"unknown service-level variant {variant!r}; expected one of {', '.join(SL_VARIANTS)}")


def service_level_from_waits(
    answered_waits: Sequence[float],
    abandoned_waits: Sequence[float],
    threshold: float,
    variant: str = ABANDONS_NEGATIVE,
    short_abandon: float | None = None,
    unresolved: int = 0,
) -> float | None:
    """Service level from raw queue times (seconds).

    ``answered_waits``: queue time of each answered chat; ``abandoned_waits``: queue time of
    each abandoned chat. Abandons with queue time ``< short_abandon`` seconds are short
    abandons and are dropped from both offered and abandoned. ``unresolved`` counts chats
    offered that neither were answered nor abandoned (e.g. still waiting at the end of the
    window past ``T``). Then ``offered = len(answered) + len(abandoned kept) + unresolved``,
    ``answered<=T`` and ``abandoned<=T`` are counted inclusively, and the variant formula applies.
    """
    threshold = _amount("threshold", threshold)
    unresolved = _count("unresolved", unresolved)
    abandoned = [_amount("abandoned queue time", w) for w in abandoned_waits]
    if short_abandon is not None:
        short_abandon = _amount("short_abandon", short_abandon)
        abandoned = [w for w in abandoned if w >= short_abandon]
    answered = [_amount("answered queue time", w) for w in answered_waits]
    offered = len(answered) + len(abandoned) + unresolved
    return service_level(
        count_within(answered, threshold), count_within(abandoned, threshold), offered, variant
    )


# --------------------------------------------------------------------------- simple ratios


def abandonment_rate(abandoned: int, offered: int) -> float | None:
    """Abandonment rate ``abandoned / offered`` (short abandons excluded from both)."""
    abandoned = _count("abandoned", abandoned)
    offered = _count("offered", offered)
    _part("abandoned", abandoned, "offered", offered)
    return None if offered == 0 else abandoned / offered


def answered_rate(answered: int, offered: int) -> float | None:
    """Answered rate ``answered / offered``."""
    answered = _count("answered", answered)
    offered = _count("offered", offered)
    _part("answered", answered, "offered", offered)
    return None if offered == 0 else answered / offered


def asa(answered_queue_times: Iterable[float]) -> float | None:
    """Average speed of answer: mean queue time of answered chats, ``sum(w) / count``."""
    return mean(answered_queue_times)


def average_abandon_time(abandoned_queue_times: Iterable[float]) -> float | None:
    """Average abandon time: mean queue time of abandoned chats."""
    return mean(abandoned_queue_times)


def average_queue_time(offered_queue_times: Iterable[float]) -> float | None:
    """Average queue time: mean queue time of all offered chats."""
    return mean(offered_queue_times)


def transfer_rate(transferred: int, answered: int) -> float | None:
    """Transfer rate ``chats transferred at least once / answered``."""
    transferred = _count("transferred", transferred)
    answered = _count("answered", answered)
    _part("transferred", transferred, "answered", answered)
    return None if answered == 0 else transferred / answered


def first_contact_resolution(resolved: int, answered: int) -> float | None:
    """First contact resolution ``answered chats with no repeat chat within W hours / answered``."""
    resolved = _count("resolved", resolved)
    answered = _count("answered", answered)
    _part("resolved", resolved, "answered", answered)
    return None if answered == 0 else resolved / answered


def csat(good: int, total: int) -> float | None:
    """CSAT ``good ratings / all ratings``."""
    good = _count("good", good)
    total = _count("total", total)
    _part("good", good, "total", total)
    return None if total == 0 else good / total


def occupancy(busy_seconds: float, idle_seconds: float) -> float | None:
    """Occupancy ``time with >= 1 chat / (time with >= 1 chat + available idle time)``."""
    busy_seconds = _amount("busy_seconds", busy_seconds)
    idle_seconds = _amount("idle_seconds", idle_seconds)
    total = busy_seconds + idle_seconds
    return None if total == 0 else busy_seconds / total


def conformance(ready_seconds: float, scheduled_seconds: float) -> float | None:
    """Conformance ``time logged in and ready / scheduled time`` (may exceed 1)."""
    return ratio(_amount("ready_seconds", ready_seconds), _amount("scheduled_seconds", scheduled_seconds))


def chats_per_hour(answered: int, logged_in_seconds: float) -> float | None:
    """Chats per hour per agent ``answered / (logged-in seconds / 3600)``."""
    answered = _count("answered", answered)
    logged_in_seconds = _amount("logged_in_seconds", logged_in_seconds)
    return None if logged_in_seconds == 0 else answered * 3600.0 / logged_in_seconds


def invitation_conversion(converted: int, shown: int) -> float | None:
    """Invitation conversion ``accepted (or chats started) / invitations shown``."""
    converted = _count("converted", converted)
    shown = _count("shown", shown)
    _part("converted", converted, "shown", shown)
    return None if shown == 0 else converted / shown
