"""Proactive invitations: a CSR (or an automatic rule) invites a visitor to chat; every step of
an invitation is an event, so the invitation funnel is computed from the log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

INVITATION_STATES = ("sent", "shown", "accepted", "declined", "expired")


class Invitation(Model):
    # state: sent → shown → accepted | declined | expired. `agent` is the inviting CSR (a rule's
    # invitation names the CSR profile it comes from, or none); `conversation` the chat it started.
    id = fields.BigIntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="invitations", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="invitations", on_delete=fields.CASCADE)
    agent = fields.ForeignKeyField("models.User", related_name="invitations", null=True, on_delete=fields.SET_NULL)
    department = fields.ForeignKeyField("models.Department", related_name="invitations", null=True,
                                        on_delete=fields.SET_NULL)
    rule_id = fields.IntField(null=True, db_index=True)
    message = fields.CharField(max_length=500)
    state = fields.CharField(max_length=16, default="sent", db_index=True)
    sent_at = fields.DatetimeField(db_index=True)
    expires_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="invitations", null=True,
                                          on_delete=fields.SET_NULL)

    class Meta:
        table = "invitation"


class InvitationEvent(Model):
    # kind: sent, shown, accepted, declined, expired, chat_started, converted.
    id = fields.BigIntField(primary_key=True)
    invitation = fields.ForeignKeyField("models.Invitation", related_name="events", on_delete=fields.CASCADE)
    site = fields.ForeignKeyField("models.Site", related_name="invitation_events", on_delete=fields.CASCADE)
    rule_id = fields.IntField(null=True)
    agent_id = fields.IntField(null=True)
    kind = fields.CharField(max_length=16)
    at = fields.DatetimeField(db_index=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "invitation_event"


class InvitationRule(Model):
    # An automatic invitation: conditions (app/tracking/rules.py) combined with AND; the message
    # and who it comes from (a department, whose Available CSRs with room must exist, and/or a CSR
    # profile); at most `max_per_visitor` invitations of this rule per visitor in `cap_hours`;
    # only within `active_hours` (business-hours syntax, center time zone; None: always).
    id = fields.IntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="invitation_rules", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    enabled = fields.BooleanField(default=True)
    conditions = fields.JSONField(default=dict)
    message = fields.CharField(max_length=500)
    department = fields.ForeignKeyField("models.Department", related_name="invitation_rules", null=True,
                                        on_delete=fields.SET_NULL)
    agent = fields.ForeignKeyField("models.User", related_name="invitation_rules", null=True,
                                   on_delete=fields.SET_NULL)
    max_per_visitor = fields.IntField(default=1)
    cap_hours = fields.IntField(default=24)
    active_hours = fields.CharField(max_length=200, null=True)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invitation_rule"
