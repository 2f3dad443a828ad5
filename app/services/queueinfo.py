"""What a waiting visitor is told: their place in the queue and an estimated wait.

The estimate comes from the queue's *current* service rate — chats assigned from that queue in
the last 15 minutes — not from a long-run average: position / rate. With no assignments in that
window there is no honest estimate (None), and the widget says so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.functions import Count

from app import runtime
from app.clock import utcnow
from app.models import Conversation, ConversationEvent
from app import bus

RATE_WINDOW = timedelta(minutes=15)
MAX_ETA_SECONDS = 4 * 3600


class PlacesTold(dict[int, tuple[int, int | None]]):
    """The last place this worker told each waiting visitor (conversation id → (position, eta
    bucket)), so that unchanged places are not resent; on the server's runtime."""


async def waiting_places() -> dict[int, dict[str, Any]]:
    """Every waiting chat → {position (1 = next), eta_seconds (or None)}, in serving order per queue."""
    rows = await Conversation.filter(status="waiting").order_by("-priority", "requested_at", "id").values(
        "id", "department_id", "visitor_id"
    )
    if not rows:
        return {}
    since = utcnow() - RATE_WINDOW
    served = {
        r["department_id"]: r["n"]
        for r in await ConversationEvent.filter(kind="assigned", at__gte=since).annotate(n=Count("id"))
        .group_by("department_id").values("department_id", "n")
    }
    counters: dict[int | None, int] = {}
    places = {}
    for r in rows:
        queue = r["department_id"]
        counters[queue] = position = counters.get(queue, 0) + 1
        per_second = served.get(queue, 0) / RATE_WINDOW.total_seconds()
        eta = min(MAX_ETA_SECONDS, round(position / per_second)) if per_second > 0 else None
        places[r["id"]] = {"position": position, "eta_seconds": eta, "visitor_id": r["visitor_id"]}
    return places


async def place_of(conversation: Conversation) -> dict[str, Any] | None:
    if conversation.status != "waiting":
        return None
    place = (await waiting_places()).get(conversation.id)
    return {"position": place["position"], "eta_seconds": place["eta_seconds"]} if place else None


def _bucket(eta: int | None) -> int | None:
    # Resend an estimate only when it moves noticeably: to the nearest 15 s under 2 min, else the minute.
    if eta is None:
        return None
    return eta // 15 if eta < 120 else 1000 + eta // 60


async def publish() -> None:
    """Tell each waiting visitor their place, when it changed since this worker last told them."""
    places = await waiting_places()
    told = runtime.current().state(PlacesTold)
    for conversation_id in list(told):
        if conversation_id not in places:
            del told[conversation_id]
    for conversation_id, place in places.items():
        key = (place["position"], _bucket(place["eta_seconds"]))
        if told.get(conversation_id) == key:
            continue
        told[conversation_id] = key
        await bus.to_visitor(place["visitor_id"], "queue", {
            "conversation_id": conversation_id, "position": place["position"], "eta_seconds": place["eta_seconds"],
        })
