"""A visitor's profile for staff: who they are, their whole trail across visits, their earlier
conversations with transcripts, their work orders, identify attributes and custom events — as far as the reader's
scope (app/services/scope.py) allows."""

from __future__ import annotations

from app.clock import iso
from app.models import PageView, TrackEvent, User, Visit, Visitor
from app.services import conversations, scope, serialize, tracking, visitors, workorders

MAX_VISITS = 50
MAX_PAGES = 500


async def profile(user: User, visitor_id: str | None) -> dict:
    """The profile as the user's scope allows: `not_found` for a visitor they may not read, and
    only the conversations they may read (none for a marketer)."""
    visitor = await scope.read_visitor(user, visitor_id)
    await tracking.flush()  # the last page views of this worker's batch belong in the trail
    # The same person's other devices (identified with the same id of the site's) share the trail.
    linked = await tracking.linked_visitor_ids(visitor)
    visits = await Visit.filter(visitor_id__in=linked).order_by("-started_at").limit(MAX_VISITS)
    pages = await (PageView.filter(visit_id__in=[v.id for v in visits])
                   .order_by("-at").limit(MAX_PAGES))
    by_visit: dict[int, list[dict]] = {v.id: [] for v in visits}
    for page in reversed(pages):
        by_visit[page.visit_id].append({
            "url": page.url, "title": page.title, "at": iso(page.at), "active_ms": page.active_ms,
        })
    trail = []
    for visit in visits:
        trail.append({
            "visitor_id": visit.visitor_id, "number": visit.number, "started_at": iso(visit.started_at), "last_activity_at": iso(visit.last_activity_at),
            "landing_url": visit.landing_url, "referrer": visit.referrer,
            **{key: getattr(visit, key, None) for key in ("referrer_type", "referrer_domain", "keywords", "utm",
                                                          "country", "device")},
            "pages": by_visit[visit.id],
        })
    events = await _custom_events(visitor)
    attributes = visitor.attributes if isinstance(visitor.attributes, dict) else {}
    return {
        "visitor": {**serialize.visitor_profile(tracking.latest(visitor), await visitors.is_online(visitor.id)),
                    "attributes": attributes, "external_id": visitor.external_id, "linked_visitors": linked[1:]},
        "visits": trail,
        "conversations": await conversations.past_conversations(user, visitor, exclude_id=None),
        "events": events,
        # The visitor's work orders this user reads (none for marketers): open ones first.
        "work_orders": [] if user.role == "marketer" else sorted(
            await workorders.of_visitor(user, visitor.id, open_only=False),
            key=lambda o: o["status"] in ("resolved", "closed")),
    }


async def _custom_events(visitor: Visitor) -> list[dict]:
    """Custom events (`Switchboard('track', …)`), newest first, when the trail records them."""
    rows = await TrackEvent.filter(visitor_id__in=await tracking.linked_visitor_ids(visitor)).order_by("-at").limit(200)
    return [{"name": e.name, "props": e.props, "at": iso(e.at)} for e in rows]
