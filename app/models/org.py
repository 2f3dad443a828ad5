"""Sites, departments, users (CSRs, supervisors, admins, marketers) and their status log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# "handler": back-office staff who take no chats and work on work orders (their teams').
# "qa": quality evaluators — score chats of every department against the scorecards (app/quality); take no chats.
ROLES = ("agent", "supervisor", "admin", "marketer", "handler", "qa")
CHAT_ROLES = ("agent", "supervisor", "admin")
AGENT_STATUSES = ("offline", "available", "away")


class DeploymentIdentity(Model):
    # One row: this deployment's id, made when its database is first migrated. Shared state kept
    # outside the database (Redis keys, the socket.io channel) is namespaced by it, so a Redis
    # database that another deployment — or an older copy of this one — used never mixes in.
    id = fields.IntField(primary_key=True)
    uid = fields.CharField(max_length=32, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "deployment_identity"


class Site(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    key = fields.CharField(max_length=64, unique=True)
    allowed_origins = fields.JSONField(default=list)
    settings = fields.JSONField(default=dict)
    # Identity verification: when set, `identify` needs user_hash = HMAC-SHA256(secret, user id).
    identity_secret = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # A disabled site's widget is refused (its history stays); None: enabled.
    disabled_at = fields.DatetimeField(null=True)
    # After the key is rotated the old one keeps working until `previous_key_until` (documented in
    # docs/admin.md), so pages still carrying the old snippet are not cut off mid-deploy.
    previous_key = fields.CharField(max_length=64, null=True, db_index=True)
    previous_key_until = fields.DatetimeField(null=True)

    class Meta:
        table = "site"


class Department(Model):
    id = fields.IntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="departments", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    # Routing: how this queue's chats are assigned (app/routing/policy.py STRATEGIES), and how long
    # a returning visitor's chat waits for the CSR they last talked to (0: not at all).
    routing_strategy = fields.CharField(max_length=16, default="longest_idle", db_default="longest_idle")
    sticky_seconds = fields.IntField(default=0, db_default=0)
    # Offer and accept: a chat is offered to one CSR for this long (0: assigned at once); a CSR who
    # lets this many offers in a row run out is set Away (reason "missed offers").
    offer_seconds = fields.IntField(default=0, db_default=0)
    missed_offers_limit = fields.IntField(default=3, db_default=3)
    # Service level threshold T of this queue (None: the center's SERVICE_LEVEL_THRESHOLD_SECONDS).
    sl_threshold_seconds = fields.IntField(null=True)
    # When this queue takes chats, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00" in the center's time
    # zone (None: always); outside them, and when none of its CSRs is signed in, visitors may
    # leave a message instead.
    business_hours = fields.CharField(max_length=200, null=True)
    # After this long in the queue the widget offers to leave a note instead (None: never).
    max_wait_seconds = fields.IntField(null=True)
    # Routing rules: a chat started without a chosen topic goes to the first department (by name)
    # one of whose page patterns matches the visitor's current page, e.g. ["/pricing*", "/sales/*"];
    # chats of this department get this priority (higher is served first).
    route_pages = fields.JSONField(default=list, db_default=[])
    priority = fields.IntField(default=0, db_default=0)
    # ... or one of whose languages matches the visitor's browser language, e.g. ["de", "fr-CH"].
    route_languages = fields.JSONField(default=list, db_default=[])
    # The capacity (concurrent chats) of members who have none of their own (None: the default, 3).
    default_max_chats = fields.IntField(null=True)
    # The time zone `business_hours` are read in (None: the center's CENTER_TIME_ZONE), and dates
    # the queue is closed all day or keeps special hours: [{"date": "2026-12-25", "hours": null},
    # {"date": "2026-12-24", "hours": "09:00-13:00"}].
    time_zone = fields.CharField(max_length=64, null=True)
    holidays = fields.JSONField(default=list, db_default=[])
    # Contact classification (来电类型分类): closing a chat of this queue asks for a category of the
    # work-order taxonomy — "off", "optional" or "required".
    classification = fields.CharField(max_length=8, default="off", db_default="off")
    # A chat asked for outside the business hours is held (offered to nobody) and queued at the next
    # opening, instead of being refused with the hours and the offline form (docs/kpis.md, "After hours").
    accept_after_hours = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "department"
        unique_together = (("site", "name"),)


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=16, default="agent")
    display_name = fields.CharField(max_length=100)
    # Concurrent chats this CSR may hold (None: their departments' default, else 3).
    max_chats = fields.IntField(null=True, default=None)
    is_active = fields.BooleanField(default=True)
    # Current state (the event log below is what KPIs read).
    status = fields.CharField(max_length=16, default="offline")
    status_reason = fields.CharField(max_length=64, null=True)
    status_changed_at = fields.DatetimeField(null=True)
    last_chat_ended_at = fields.DatetimeField(null=True)
    last_assigned_at = fields.DatetimeField(null=True)  # round robin takes turns by it
    missed_offers = fields.IntField(default=0, db_default=0)  # in a row; an accepted offer resets it
    skills = fields.JSONField(default=dict, db_default={})  # {"<department id>": level}, for the skills strategy
    # Writes and publishes knowledge-base articles (admins always may; docs/admin.md "Knowledge base").
    knowledge_editor = fields.BooleanField(default=False, db_default=False)
    # The staff pages' language: "en", "zh-CN", or None to follow the browser (app/i18n.py).
    language = fields.CharField(max_length=16, null=True)
    # The CSR's start date: the quality tenure curves count weeks from it (None: their account's creation).
    started_on = fields.DateField(null=True)
    departments = fields.ManyToManyField("models.Department", related_name="users", through="user_department")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class StaffSession(Model):
    """A signed-in browser of a staff user. The cookie carries a random id; only its SHA-256 is stored,
    so a copy of the table opens nothing. Sign-out, deactivation, a password change and "sign out
    everywhere" set `revoked_at`; idle timeout and absolute lifetime end it too."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=32, null=True)
    user_agent = fields.CharField(max_length=256, null=True)
    address = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "staff_session"


class PasswordToken(Model):
    # A one-time link to set a password: made by an admin for a new user or a reset; only the
    # token's SHA-256 is stored; used once, and it expires.

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user = fields.ForeignKeyField("models.User", related_name="password_tokens", on_delete=fields.CASCADE)
    purpose = fields.CharField(max_length=16)  # "invite" (a new user) or "reset"
    created_by = fields.ForeignKeyField("models.User", related_name="password_tokens_made", null=True,
                                        on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_token"


class AwayReason(Model):
    # A reason a CSR can give for being Away (break, meal, meeting ...); admins edit the list.

    id = fields.IntField(primary_key=True)
    label = fields.CharField(max_length=64, unique=True)
    position = fields.IntField(default=0)

    class Meta:
        table = "away_reason"
        ordering = ["position", "id"]


class AgentStatusEvent(Model):
    # Append-only: one row per agent state change.

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="status_events", on_delete=fields.CASCADE)
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=64, null=True)
    previous_status = fields.CharField(max_length=16, null=True)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "agent_status_event"


class Shift(Model):
    # A CSR's scheduled time on the queue (workforce schedule): conformance = ready time within the
    # shifts / scheduled time (app/kpi/engine.py `conformance`).

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="shifts", on_delete=fields.CASCADE)
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()

    class Meta:
        table = "shift"
        ordering = ["starts_at", "id"]
