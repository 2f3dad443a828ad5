"""Proactive invitations: a CSR invites a visitor who is on the site to chat.

The visitor's widget shows the invitation at once with "Accept" and "Decline". Accepting opens
a chat assigned to the inviting CSR (when they still have room; otherwise it queues like any
chat); declining or ignoring it (it expires) is recorded, and a visitor who declined is not
invited again for the site's cool-down. Every step is an `InvitationEvent`: sent, shown,
accepted, declined, expired, chat_started and — when the visitor fires a custom event within
the conversion window after the chat — converted.

Per-site settings, `Site.settings["invitations"]`: `message` (the default text),
`timeout_seconds` (60), `decline_cooldown_hours` (24), `conversion_window_hours` (24).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from app import presence, runtime
from app.clock import iso, utcnow
from app.models import (Conversation, Department, Invitation, InvitationEvent, InvitationRule, Site, TrackEvent, User,
                        Visitor)
from app import bus
from app.routing import hours
from app.services import ServiceError, assignment, audit, conversations, routing_state, scope, serialize, tracking
from app.tracking import live, rules

log = logging.getLogger(__name__)

DEFAULTS = {"message": "Hi! Can I help you with anything?", "timeout_seconds": 60, "decline_cooldown_hours": 24,
            "conversion_window_hours": 24}
OPEN_STATES = ("sent", "shown")
STAFF_ROLES = ("agent", "supervisor", "admin")


class InvitationTimers(dict[int, asyncio.TimerHandle]):
    """Expiry timers of the invitations this worker sent (invitation id → timer); on the server's
    runtime. `expire_due` is the safety net for a worker that stopped."""


def _timers() -> InvitationTimers:
    return runtime.current().state(InvitationTimers)


def settings_of(site: Site) -> dict[str, Any]:
    raw = site.settings.get("invitations") if isinstance(site.settings, dict) else None
    merged = dict(DEFAULTS)
    if isinstance(raw, dict):
        for key, default in DEFAULTS.items():
            value = raw.get(key)
            if isinstance(value, type(default)) and not isinstance(value, bool):
                merged[key] = value
    return merged


async def _event(invitation: Invitation, kind: str, **data: Any) -> None:
    await InvitationEvent.create(invitation_id=invitation.id, site_id=invitation.site_id, rule_id=invitation.rule_id,
                                 agent_id=invitation.agent_id, kind=kind, at=utcnow(), data=data)


def view(invitation: Invitation, agent: User | None) -> dict:
    """What the visitor's widget and the live Visitors view see of an invitation."""
    return {"id": invitation.id, "state": invitation.state, "message": invitation.message,
            "agent": {"name": agent.display_name} if agent else None, "expires_at": iso(invitation.expires_at),
            "by": agent.display_name if agent else None}


async def _publish_state(invitation: Invitation, agent: User | None) -> None:
    await live.update(invitation.visitor_id, invitation={"id": invitation.id, "state": invitation.state,
                                                         "by": agent.display_name if agent else None})
    if invitation.agent_id is not None:
        await bus.to_staff("invitation.updated", {"id": invitation.id, "visitor_id": invitation.visitor_id,
                                                  "state": invitation.state}, agent_id=invitation.agent_id)


async def invite(user: User, visitor_id: str, message: str | None) -> dict:
    """A CSR invites a visitor who is on the site now."""
    if user.role not in STAFF_ROLES:
        raise ServiceError("forbidden", "Only CSRs, supervisors and admins invite visitors.")
    if user.status != "available":
        raise ServiceError("unavailable", "Set yourself Available to invite visitors.")
    visitor = await Visitor.get_or_none(id=visitor_id)
    if visitor is None or visitor.is_bot or await presence.count(visitor.id) == 0 \
            or not await scope.may_read_visitor(user, visitor):  # another site's visitor: not for this CSR
        raise ServiceError("not_found", "This visitor is no longer on the site.")
    if await conversations.open_conversation_of(visitor) is not None:
        raise ServiceError("invalid_state", "This visitor is already in a chat.")
    await expire_due(visitor_id=visitor.id)
    if await Invitation.exists(visitor_id=visitor.id, state__in=OPEN_STATES):
        raise ServiceError("invalid_state", "This visitor has an invitation open already.")
    site = await Site.get(id=visitor.site_id)
    config = settings_of(site)
    now = utcnow()
    cooldown = now - timedelta(hours=config["decline_cooldown_hours"])
    if await Invitation.exists(visitor_id=visitor.id, state="declined", answered_at__gte=cooldown):
        raise ServiceError("declined_recently", "This visitor declined an invitation recently; "
                                                "they are not invited again for a while.")
    invitation = await Invitation.create(
        site_id=site.id, visitor_id=visitor.id, agent_id=user.id, message=message or config["message"], state="sent",
        sent_at=now, expires_at=now + timedelta(seconds=config["timeout_seconds"]),
    )
    await _event(invitation, "sent")
    await bus.to_visitor(visitor.id, "invitation", view(invitation, user))
    await _publish_state(invitation, user)
    _schedule_expiry(invitation)
    return {"id": invitation.id, "state": invitation.state, "expires_at": iso(invitation.expires_at)}


def _schedule_expiry(invitation: Invitation) -> None:
    delay = max(0.0, (invitation.expires_at - utcnow()).total_seconds()) + 0.05
    loop = asyncio.get_running_loop()
    _timers()[invitation.id] = loop.call_later(delay, lambda: asyncio.ensure_future(_expire_later()))


async def _expire_later() -> None:
    try:
        await expire_due()
    except Exception:  # the next check retries
        log.exception("expiring invitations failed")


async def expire_due(visitor_id: str | None = None) -> int:
    """Mark every open invitation whose time ran out as expired (an event each)."""
    query = Invitation.filter(state__in=OPEN_STATES, expires_at__lte=utcnow())
    if visitor_id is not None:
        query = query.filter(visitor_id=visitor_id)
    expired = 0
    for invitation in await query:
        if await Invitation.filter(id=invitation.id, state__in=OPEN_STATES).update(state="expired",
                                                                                    answered_at=utcnow()):
            invitation.state = "expired"
            _timers().pop(invitation.id, None)
            await _event(invitation, "expired")
            await bus.to_visitor(invitation.visitor_id, "invitation.withdrawn", {"id": invitation.id,
                                                                                 "reason": "expired"})
            await _publish_state(invitation, await User.get_or_none(id=invitation.agent_id))
            expired += 1
    return expired


async def open_for(visitor: Visitor) -> dict | None:
    """The visitor's invitation still open, if any (shown again after a page change)."""
    await expire_due(visitor_id=visitor.id)
    invitation = await Invitation.filter(visitor_id=visitor.id, state__in=OPEN_STATES).order_by("-id").first()
    if invitation is None:
        return None
    return view(invitation, await User.get_or_none(id=invitation.agent_id))


async def _mine(visitor: Visitor, invitation_id: int) -> Invitation:
    invitation = await Invitation.get_or_none(id=invitation_id, visitor_id=visitor.id)
    if invitation is None:
        raise ServiceError("not_found", "No such invitation.")
    return invitation


async def shown(visitor: Visitor, invitation_id: int) -> None:
    invitation = await _mine(visitor, invitation_id)
    if await Invitation.filter(id=invitation.id, state="sent").update(state="shown"):
        invitation.state = "shown"
        await _event(invitation, "shown")
        await _publish_state(invitation, await User.get_or_none(id=invitation.agent_id))


async def _answer(visitor: Visitor, invitation_id: int, state: str) -> Invitation:
    """The visitor accepts or declines an open invitation of theirs (once: `invalid_state` after)."""
    invitation = await _mine(visitor, invitation_id)
    await expire_due(visitor_id=visitor.id)
    if not await Invitation.filter(id=invitation.id, state__in=OPEN_STATES).update(state=state,
                                                                                    answered_at=utcnow()):
        raise ServiceError("invalid_state", "This invitation is no longer open.")
    invitation.state = state
    _cancel_timer(invitation.id)
    await _event(invitation, state)
    return invitation


async def decline(visitor: Visitor, invitation_id: int) -> None:
    invitation = await _answer(visitor, invitation_id, "declined")
    await bus.to_visitor(visitor.id, "invitation.withdrawn", {"id": invitation.id, "reason": "declined"})
    await _publish_state(invitation, await User.get_or_none(id=invitation.agent_id))


async def accept(visitor: Visitor, invitation_id: int) -> Conversation:
    """Open the chat: assigned to the inviting CSR when they still have room, else queued."""
    invitation = await _answer(visitor, invitation_id, "accepted")
    agent = await User.get_or_none(id=invitation.agent_id)
    # The inviting CSR is there to answer, whatever the queue's hours.
    conversation, started = await conversations.open_or_start(visitor, invitation.department_id, hours_apply=False)
    if started:
        # The invitation's text opens the transcript, as the CSR's words.
        opening, _ = await conversations.append_message(
            conversation, sender_kind="agent" if agent else "system", body=invitation.message, client_id=None,
            author=agent, author_name=agent.display_name if agent else None,
        )
        await conversations.publish_message(conversation, opening)
        if agent is not None and agent.status == "available":
            try:  # to the inviting CSR when they have room; else routing serves it from the queue
                conversation = await assignment.hand_to(conversation, agent, via="invitation")
            except ServiceError:
                pass
        conversation = await Conversation.get(id=conversation.id)
    await Invitation.filter(id=invitation.id).update(conversation_id=conversation.id)
    await _event(invitation, "chat_started", conversation_id=conversation.id)
    await _publish_state(invitation, agent)
    holder = await User.get_or_none(id=conversation.agent_id) if conversation.agent_id else None
    await bus.to_visitor(visitor.id, "conversation", serialize.conversation_for_visitor(conversation, holder))
    return conversation


def _cancel_timer(invitation_id: int) -> None:
    timer = _timers().pop(invitation_id, None)
    if timer is not None:
        timer.cancel()


async def converted(visitor_id: str, event_name: str) -> bool:
    """A custom event: the latest invitation of this visitor that started a chat within the
    conversion window converts (once)."""
    invitation = await (Invitation.filter(visitor_id=visitor_id, state="accepted", conversation_id__isnull=False)
                        .order_by("-answered_at").first())
    if invitation is None:
        return False
    site = await Site.get(id=invitation.site_id)
    window = timedelta(hours=settings_of(site)["conversion_window_hours"])
    if invitation.answered_at is None or utcnow() - invitation.answered_at > window:
        return False
    if await InvitationEvent.exists(invitation_id=invitation.id, kind="converted"):
        return False
    await _event(invitation, "converted", event=event_name)
    return True


# --- automatic rules ----------------------------------------------------------------------------


async def rules_for(site_id: int) -> list[dict]:
    """The enabled rules of a site, as the widget times them (sent with `session`)."""
    return [rules.client_view(r.id, r.conditions if isinstance(r.conditions, dict) else {})
            for r in await InvitationRule.filter(site_id=site_id, enabled=True).order_by("position", "id")]


async def _has_room(department_id: int | None, agent_id: int | None) -> bool:
    """Someone who could take the chat now: the rule's CSR, or an Available member of its
    department (anyone Available without one), with free capacity."""
    if agent_id is not None:
        candidates = await User.filter(id=agent_id, status="available", is_active=True).values_list("id", flat=True)
    elif department_id is not None:
        candidates = await User.filter(departments__id=department_id, status="available", is_active=True) \
            .values_list("id", flat=True)
    else:
        candidates = await User.filter(status="available", is_active=True, role__in=STAFF_ROLES) \
            .values_list("id", flat=True)
    if not candidates:
        return False
    capacity = await routing_state.capacities(list(candidates))
    store = runtime.current().routing_store
    for agent in candidates:
        if await store.load(agent) < capacity.get(agent, 0):
            return True
    return False


async def _facts(visitor: Visitor):
    row = live.row(visitor.id) or {}
    now = utcnow()

    def since(value) -> float:
        if not value:
            return 0.0
        return max(0.0, (now - datetime.fromisoformat(value)).total_seconds())

    await tracking.flush()  # custom events of the last moment count too
    events = set(await TrackEvent.filter(visitor_id=visitor.id).distinct().values_list("name", flat=True))
    return rules.Facts(
        url=row.get("url") or visitor.current_url, seconds_on_page=since(row.get("page_since")),
        seconds_on_site=since(row.get("visit_since") or row.get("online_since")), pages=row.get("pages", 0),
        referrer_type=row.get("referrer_type"), referrer_domain=row.get("referrer_domain"),
        keywords=row.get("keywords"), country=row.get("country") or visitor.country,
        device=row.get("device") or visitor.device,
        returning=bool(row.get("returning", (visitor.visit_count or 1) > 1)),
        attributes=visitor.attributes if isinstance(visitor.attributes, dict) else {}, events=events,
    )


async def rule_matched(visitor: Visitor, rule_id: int) -> dict:
    """The widget says a rule's timing is reached: check the whole rule here, then invite."""
    rule = await InvitationRule.get_or_none(id=rule_id, site_id=visitor.site_id, enabled=True)
    if rule is None:
        raise ServiceError("not_found", "No such rule.")
    if visitor.is_bot:
        raise ServiceError("not_eligible", "Not invited.")
    if await conversations.open_conversation_of(visitor) is not None:
        raise ServiceError("not_eligible", "Already in a chat.")
    await expire_due(visitor_id=visitor.id)
    if await Invitation.exists(visitor_id=visitor.id, state__in=OPEN_STATES):
        raise ServiceError("not_eligible", "An invitation is open already.")
    site = await Site.get(id=visitor.site_id)
    config = settings_of(site)
    now = utcnow()
    if await Invitation.exists(visitor_id=visitor.id, state="declined",
                               answered_at__gte=now - timedelta(hours=config["decline_cooldown_hours"])):
        raise ServiceError("not_eligible", "Declined an invitation recently.")
    if await Invitation.filter(visitor_id=visitor.id, rule_id=rule.id,
                               sent_at__gte=now - timedelta(hours=rule.cap_hours)).count() >= rule.max_per_visitor:
        raise ServiceError("not_eligible", "Invited by this rule often enough.")
    if rule.active_hours:
        try:
            schedule = hours.parse(rule.active_hours)
        except hours.HoursError:
            schedule = None
        if schedule is not None and not schedule.open_at(now, runtime.current().settings.center_time_zone):
            raise ServiceError("not_eligible", "Outside the rule's active hours.")
    conditions = rules.validate(rule.conditions) if isinstance(rule.conditions, dict) else {}
    missed = rules.failed(conditions, await _facts(visitor))
    if missed:
        raise ServiceError("not_eligible", "Conditions not met: %(missed)s.", missed=", ".join(missed))
    if not await _has_room(rule.department_id, rule.agent_id):
        raise ServiceError("not_eligible", "Nobody can take a chat now.")
    agent = await User.get_or_none(id=rule.agent_id) if rule.agent_id else None
    invitation = await Invitation.create(
        site_id=site.id, visitor_id=visitor.id, agent_id=rule.agent_id, department_id=rule.department_id,
        rule_id=rule.id, message=rule.message, state="sent", sent_at=now,
        expires_at=now + timedelta(seconds=config["timeout_seconds"]),
    )
    await _event(invitation, "sent")
    shown = view(invitation, agent)
    await bus.to_visitor(visitor.id, "invitation", shown)
    await _publish_state(invitation, agent)
    _schedule_expiry(invitation)
    return shown


async def list_rules() -> list[dict]:
    rows = await InvitationRule.all().order_by("site_id", "position", "id").prefetch_related("site", "department",
                                                                                           "agent")
    return [{"id": r.id, "name": r.name, "site": r.site.name, "site_id": r.site_id, "enabled": r.enabled,
             "conditions": r.conditions, "message": r.message,
             "department": r.department.name if r.department else None,
             "agent": r.agent.display_name if r.agent else None, "max_per_visitor": r.max_per_visitor,
             "cap_hours": r.cap_hours, "active_hours": r.active_hours} for r in rows]


async def save_rule(user: User, fields: dict[str, Any], rule_id: int | None = None) -> InvitationRule:
    """Create (or replace) an automatic invitation rule; admins only. ServiceError names the
    field that is wrong; nothing is stored then."""
    if user.role != "admin":
        raise ServiceError("forbidden", "Only admins edit invitation rules.")
    name = (fields.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ServiceError("bad_request", "A rule needs a name of at most 100 characters.")
    message = (fields.get("message") or "").strip()
    if not message or len(message) > 500:
        raise ServiceError("bad_request", "The invitation needs a message of at most 500 characters.")
    site = await Site.get_or_none(id=fields.get("site_id")) if isinstance(fields.get("site_id"), int) else None
    if site is None:
        raise ServiceError("bad_request", "Choose the site the rule is for.")
    department_id = fields.get("department_id")
    if department_id is not None and not await Department.exists(id=department_id, site_id=site.id):
        raise ServiceError("bad_request", "That department is not one of the site's.")
    agent_id = fields.get("agent_id")
    if agent_id is not None and not await User.exists(id=agent_id, is_active=True, role__in=STAFF_ROLES):
        raise ServiceError("bad_request", "That CSR does not exist.")
    try:
        conditions = rules.validate(fields.get("conditions") or {})
    except rules.RuleError as exc:
        raise ServiceError("bad_request", str(exc)) from None
    max_per_visitor, cap_hours = fields.get("max_per_visitor", 1), fields.get("cap_hours", 24)
    if not isinstance(max_per_visitor, int) or not 1 <= max_per_visitor <= 100:
        raise ServiceError("bad_request", "Invitations per visitor: 1 to 100.")
    if not isinstance(cap_hours, int) or not 1 <= cap_hours <= 24 * 365:
        raise ServiceError("bad_request", "The frequency window is 1 hour to a year.")
    active_hours = (fields.get("active_hours") or "").strip() or None
    if active_hours is not None:
        try:
            hours.parse(active_hours)
        except hours.HoursError as exc:
            raise ServiceError("bad_request", "Active hours: %(error)s", error=str(exc)) from None
    values = dict(site_id=site.id, name=name, message=message, department_id=department_id, agent_id=agent_id,
                  conditions=conditions, max_per_visitor=max_per_visitor, cap_hours=cap_hours,
                  active_hours=active_hours, enabled=bool(fields.get("enabled", True)))
    if rule_id is None:
        rule = await InvitationRule.create(**values)
        await audit.record(user, "rule_create", subject=f"rule:{rule.id}", name=name, after=_rule_view(rule))
        return rule
    before = await InvitationRule.get_or_none(id=rule_id)
    if before is None or not await InvitationRule.filter(id=rule_id).update(**values):
        raise ServiceError("not_found", "No such rule.")
    rule = await InvitationRule.get(id=rule_id)
    old, new = audit.changed(_rule_view(before), _rule_view(rule))
    if new:
        await audit.record(user, "rule_update", subject=f"rule:{rule.id}", name=name, before=old, after=new)
    return rule


def _rule_view(rule: InvitationRule) -> dict[str, Any]:
    return {k: getattr(rule, k) for k in ("name", "message", "site_id", "department_id", "agent_id", "conditions",
                                          "max_per_visitor", "cap_hours", "active_hours", "enabled")}


async def set_rule_enabled(user: User, rule_id: int, enabled: bool) -> None:
    """Turn a rule on or off; admins only, audited."""
    if user.role != "admin":
        raise ServiceError("forbidden", "Only admins edit invitation rules.")
    rule = await InvitationRule.get_or_none(id=rule_id)
    if rule is None:
        raise ServiceError("not_found", "No such rule.")
    if rule.enabled != enabled:
        await InvitationRule.filter(id=rule_id).update(enabled=enabled)
        await audit.record(user, "rule_update", subject=f"rule:{rule.id}", name=rule.name,
                           before={"enabled": rule.enabled}, after={"enabled": enabled})


async def delete_rule(user: User, rule_id: int) -> None:
    if user.role != "admin":
        raise ServiceError("forbidden", "Only admins edit invitation rules.")
    rule = await InvitationRule.get_or_none(id=rule_id)
    if rule is None or not await InvitationRule.filter(id=rule_id).delete():
        raise ServiceError("not_found", "No such rule.")
    await audit.record(user, "rule_delete", subject=f"rule:{rule_id}", name=rule.name, before=_rule_view(rule))


async def record_event(visitor: Visitor, settings: tracking.TrackingSettings, name: str,
                       props: dict[str, Any]) -> bool:
    """A custom event of the visitor's: kept in the trail (`tracking.track`), and — when the site
    counts it as a conversion — the conversion of the invitation that started their chat."""
    kept = await tracking.track(visitor, settings, name, props)
    if kept and name in settings.conversion_events:
        await converted(visitor.id, name)
    return kept
