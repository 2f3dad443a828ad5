"""Schedules: the shifts CSRs are planned on the queue, for schedule conformance (docs/kpis.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.clock import iso
from app.kpi.intervals import as_zone
from app.models import Shift, User
from app.models.org import CHAT_ROLES
from app.services import ServiceError

MAX_SHIFT = timedelta(hours=24)


def parse_instant(text: str, time_zone: str, name: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is the center's local time (`time_zone`)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ServiceError("bad_request", "%(name)s must be an ISO date-time like 2026-11-23T09:00; got %(text)s.",
                           name=name, text=repr(text)) from None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=as_zone(time_zone))
    return value.astimezone(timezone.utc)


async def _staff(email: str) -> User:
    user = await User.get_or_none(email=email.strip().lower())
    if user is None:
        raise ServiceError("not_found", "No user with the e-mail %(email)s.", email=repr(email))
    if user.role not in CHAT_ROLES:
        raise ServiceError("bad_request", "%(name)s takes no chats; they have no shifts.", name=user.display_name)
    return user


def _view(shift: Shift, email: str) -> dict[str, Any]:
    return {"id": shift.id, "user": email, "starts_at": iso(shift.starts_at), "ends_at": iso(shift.ends_at),
            "hours": round((shift.ends_at - shift.starts_at).total_seconds() / 3600, 2)}


async def add_shift(email: str, starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
    """Schedule a CSR from `starts_at` to `ends_at` (at most 24 hours, no overlap with another)."""
    user = await _staff(email)
    if ends_at <= starts_at:
        raise ServiceError("bad_request", "The shift must end after it starts.")
    if ends_at - starts_at > MAX_SHIFT:
        raise ServiceError("bad_request", "A shift lasts at most 24 hours.")
    clash = await Shift.filter(user_id=user.id, starts_at__lt=ends_at, ends_at__gt=starts_at).first()
    if clash is not None:
        raise ServiceError("invalid_state",
                           "It overlaps shift %(id)s (%(starts)s to %(ends)s).",
                           id=clash.id, starts=iso(clash.starts_at), ends=iso(clash.ends_at))
    shift = await Shift.create(user_id=user.id, starts_at=starts_at, ends_at=ends_at)
    return _view(shift, user.email)


async def list_shifts(email: str) -> list[dict[str, Any]]:
    user = await _staff(email)
    return [_view(s, user.email) for s in await Shift.filter(user_id=user.id).order_by("starts_at", "id")]
