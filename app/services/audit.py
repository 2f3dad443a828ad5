"""The audit log: who did what to which chat, user, site, department or setting, and when.

Every supervisory action (monitor, whisper, barge, take over, force a state) and every change made
on the admin pages or by a CLI command goes through `record`. A change to settings keeps what it
was and what it became (`before` / `after`, only the keys that changed). Rows are never updated
or deleted by the product."""

from __future__ import annotations

from app.i18n import N_
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models import AuditEvent, User


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys whose values differ, as (before, after) with only those keys."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def record(actor: User | None, action: str, *, conversation_id: int | None = None,
                 target_user_id: int | None = None, subject: str | None = None,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                 **data: Any) -> AuditEvent:
    """One audit row. `actor` None: the operator on the command line. `subject`: what was acted on
    when it is not a chat or a user, such as "site:3" or "department:7" (with its name in `data`)."""
    if subject is not None:
        data["subject"] = subject
    if before is not None or after is not None:
        data["before"], data["after"] = before or {}, after or {}
    return await AuditEvent.create(actor_id=actor.id if actor else None, action=action[:32],
                                   conversation_id=conversation_id, target_user_id=target_user_id,
                                   at=utcnow(), data=data)


# -- reading the log (the Audit log page and its CSV) -------------------------------------------

# What each action means, for people reading the log (unknown actions show as they are).
ACTION_LABELS = {
    "monitor": N_("Monitored a chat"), "whisper": N_("Whispered to a CSR"), "barge": N_("Joined a chat"), "take_over": N_("Took over a chat"),
    "force_state": N_("Set a CSR's state"), "deactivate": N_("Deactivated a user"), "reactivate": N_("Reactivated a user"),
    "sign_out_everywhere": N_("Signed a user out everywhere"), "read_conversation": N_("Read a chat they do not hold"),
    "read_profile": N_("Read a visitor's earlier chats"), "user_create": N_("Added a user"), "user_update": N_("Changed a user"),
    "password_link": N_("Made a set-password link"), "site_create": N_("Created a site"), "site_update": N_("Changed a site"),
    "site_disable": N_("Disabled a site"), "site_enable": N_("Enabled a site"), "site_key_rotate": N_("Rotated a site key"),
    "privacy_update": N_("Changed privacy settings"), "department_create": N_("Created a department"),
    "department_update": N_("Changed a department"), "general_hours_update": N_("Changed the general queue's hours"),
    "away_reasons_update": N_("Changed the away reasons"), "visitor_export": N_("Exported a visitor's data"),
    "visitor_erased": N_("Erased a visitor's data"), "widget_update": N_("Changed the widget"),
    "export_audit": N_("Exported the audit log"), "password_set": N_("Set their password by a link"),
    "site_settings": N_("Changed a site's settings"), "rule_create": N_("Created an invitation rule"),
    "rule_update": N_("Changed an invitation rule"), "rule_delete": N_("Deleted an invitation rule"),
    "team_create": N_("Created a team"), "team_update": N_("Changed a team"), "category_create": N_("Created a category"),
    "category_update": N_("Changed a category"), "sla_policy_save": N_("Saved an SLA policy"),
    "sla_policy_delete": N_("Deleted an SLA policy"),
}
PAGE_SIZE = 100


@dataclass(frozen=True)
class Filters:
    actor_id: int | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    before_id: int | None = None  # older than this row (the next page)


def _query(filters: Filters):
    query = AuditEvent.all()
    if filters.actor_id is not None:
        query = query.filter(actor_id=filters.actor_id)
    if filters.action:
        query = query.filter(action=filters.action)
    if filters.since is not None:
        query = query.filter(at__gte=filters.since)
    if filters.until is not None:
        query = query.filter(at__lt=filters.until)
    if filters.before_id is not None:
        query = query.filter(id__lt=filters.before_id)
    return query


async def search(filters: Filters, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The newest rows matching `filters`, as people read them."""
    rows = await _query(filters).order_by("-id").limit(limit).values(
        "id", "at", "action", "actor_id", "actor__display_name", "actor__email", "conversation_id", "target_user_id",
        "target_user__display_name", "target_user__email", "data")
    return [_entry(r) for r in rows]


def _entry(r: dict[str, Any]) -> dict[str, Any]:
    data = r["data"] if isinstance(r["data"], dict) else {}
    details = {k: v for k, v in data.items() if k not in ("before", "after", "subject", "name")}
    before, after = data.get("before") or {}, data.get("after") or {}
    changes = [(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))]
    target = []
    if r["conversation_id"]:
        target.append(f"chat {r['conversation_id']}")
    if r["target_user_id"]:
        target.append(r["target_user__display_name"] or f"user {r['target_user_id']}")
    if data.get("subject"):
        kind, _, ident = str(data["subject"]).partition(":")
        target.append(f"{kind} {data.get('name') or ident}".strip())
    return {
        "id": r["id"], "at": r["at"], "action": r["action"], "label": ACTION_LABELS.get(r["action"], r["action"]),
        "actor": r["actor__display_name"] or ("Command line" if r["actor_id"] is None else f"user {r['actor_id']}"),
        "actor_email": r["actor__email"], "conversation_id": r["conversation_id"],
        "target": ", ".join(target), "changes": changes, "details": details,
    }


async def actions_in_log() -> list[str]:
    return sorted(set(await AuditEvent.all().distinct().values_list("action", flat=True)))


async def actors_in_log() -> list[dict[str, Any]]:
    ids = set(await AuditEvent.filter(actor_id__not_isnull=True).distinct().values_list("actor_id", flat=True))
    return await User.filter(id__in=list(ids)).order_by("display_name").values("id", "display_name", "email")
