"""Conversations, their messages, and the append-only conversation event log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# "held": asked for outside its queue's business hours in a queue that accepts it — offered to
# nobody, it starts waiting at the next opening (app/services/after_hours.py).
CONVERSATION_STATUSES = ("held", "waiting", "assigned", "closed")
SENDER_KINDS = ("visitor", "agent", "system", "internal")


class Conversation(Model):
    id = fields.IntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="conversations", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="conversations", on_delete=fields.CASCADE)
    department = fields.ForeignKeyField(
        "models.Department", related_name="conversations", null=True, on_delete=fields.SET_NULL
    )
    agent = fields.ForeignKeyField("models.User", related_name="conversations", null=True, on_delete=fields.SET_NULL)
    status = fields.CharField(max_length=16, default="waiting", db_index=True)
    requested_at = fields.DatetimeField(db_index=True)
    assigned_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.CharField(max_length=16, null=True)
    # Two numberings (docs/protocol.md "Sequence numbers"): `last_seq` counts every message (what
    # staff see); `visitor_last_seq` counts only what the visitor may see (no internal notes), so
    # each audience's numbers run 1, 2, 3 … without holes.
    last_seq = fields.IntField(default=0)
    visitor_last_seq = fields.IntField(default=0, db_default=0)
    # Read state, each in the numbering of the side it is reported to (services/conversations.py
    # `mark_read` converts the reader's own): the visitor's in the staff numbering, the agent's in
    # the visitor's.
    visitor_read_seq = fields.IntField(default=0)
    agent_read_seq = fields.IntField(default=0)
    # Routing: higher priority is served first (VIPs); a returning visitor's chat may wait a little
    # for the CSR they last talked to.
    priority = fields.IntField(default=0, db_default=0)
    sticky_agent = fields.ForeignKeyField("models.User", related_name="sticky_conversations", null=True,
                                          on_delete=fields.SET_NULL)
    # Offer and accept: while offered, the chat stays `waiting`, reserved for `offered_to` until
    # `offer_expires_at`; CSRs who declined or let it expire are tried last.
    offered_to = fields.ForeignKeyField("models.User", related_name="offers", null=True, on_delete=fields.SET_NULL)
    offer_expires_at = fields.DatetimeField(null=True)
    declined_by = fields.JSONField(default=list, db_default=[])
    # The contact category given when the chat was closed (the work-order taxonomy), if any.
    category = fields.ForeignKeyField("models.WorkCategory", related_name="conversations", null=True,
                                      on_delete=fields.SET_NULL)

    class Meta:
        table = "conversation"
        # Exactly one open conversation per visitor (a partial unique index, migrations/0016):
        # two tabs or two workers starting a chat at once land on the same one.


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="messages", on_delete=fields.CASCADE)
    seq = fields.IntField()
    # The visitor's numbering: 1, 2, 3 … over what the visitor sees; None for internal notes.
    visitor_seq = fields.IntField(null=True)
    # Set on the visitor's own messages: their client_id is unique per visitor, not per
    # conversation, so a resend lands on the message it repeats whichever conversation is open.
    visitor = fields.ForeignKeyField("models.Visitor", related_name="messages", null=True, on_delete=fields.CASCADE)
    sender_kind = fields.CharField(max_length=16)
    author = fields.ForeignKeyField("models.User", related_name="messages", null=True, on_delete=fields.SET_NULL)
    author_name = fields.CharField(max_length=100, null=True)
    body = fields.TextField()
    client_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "message"
        unique_together = (("conversation", "seq"), ("conversation", "client_id"), ("conversation", "visitor_seq"),
                           ("visitor", "client_id"))


class ConversationEvent(Model):
    # Append-only lifecycle log; KPIs are queries over these rows.
    #
    # kinds: requested, queued, assigned, first_response, closed, abandoned, transferred, rated ...

    id = fields.BigIntField(primary_key=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="events", on_delete=fields.CASCADE)
    site = fields.ForeignKeyField("models.Site", related_name="conversation_events", on_delete=fields.CASCADE)
    department = fields.ForeignKeyField(
        "models.Department", related_name="conversation_events", null=True, on_delete=fields.SET_NULL
    )
    agent = fields.ForeignKeyField("models.User", related_name="conversation_events", null=True, on_delete=fields.SET_NULL)
    kind = fields.CharField(max_length=32)
    at = fields.DatetimeField(db_index=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "conversation_event"
        # Reports read every event of the conversations requested in a window: by conversation.
        indexes = (("conversation_id", "at"),)


class OfflineMessage(Model):
    # A message a visitor left when nobody could chat (outside business hours, nobody signed in);
    # CSRs follow it up by e-mail and mark it done.

    id = fields.BigIntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="offline_messages", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="offline_messages", on_delete=fields.CASCADE)
    department = fields.ForeignKeyField("models.Department", related_name="offline_messages", null=True,
                                        on_delete=fields.SET_NULL)
    name = fields.CharField(max_length=100, null=True)
    email = fields.CharField(max_length=254)
    body = fields.TextField()
    created_at = fields.DatetimeField(db_index=True)
    handled_at = fields.DatetimeField(null=True)
    handled_by = fields.ForeignKeyField("models.User", related_name="handled_messages", null=True,
                                        on_delete=fields.SET_NULL)

    class Meta:
        table = "offline_message"


class Participant(Model):
    # Staff other than the assigned agent who take part visibly: a supervisor who barged in,
    # or the previous CSR during a warm transfer. `left_at` set when they leave.
    id = fields.BigIntField(primary_key=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="participants", on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name="participations", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)  # barge | warm
    joined_at = fields.DatetimeField()
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "participant"


class AuditEvent(Model):
    # Append-only: who did what to whom, for supervision and admin actions.
    id = fields.BigIntField(primary_key=True)
    actor = fields.ForeignKeyField("models.User", related_name="audit_actions", null=True, on_delete=fields.SET_NULL)
    action = fields.CharField(max_length=32)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="audit_events", null=True,
                                          on_delete=fields.SET_NULL)
    target_user = fields.ForeignKeyField("models.User", related_name="audit_targets", null=True,
                                         on_delete=fields.SET_NULL)
    at = fields.DatetimeField(db_index=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "audit_event"


class ContactEvent(Model):
    # Append-only log of contacts that are not (or no longer) a queued chat, for the missed-chats
    # report: kind `note_left` — a visitor left a note through the offline form (data.reason:
    # `no_agent` nobody could chat, `outside_hours` the queue was closed, `while_queued` they gave
    # up waiting — data.conversation_id is then the chat they abandoned).

    id = fields.BigIntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="contact_events", on_delete=fields.CASCADE)
    department = fields.ForeignKeyField("models.Department", related_name="contact_events", null=True,
                                        on_delete=fields.SET_NULL)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="contact_events", null=True,
                                     on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=32)
    at = fields.DatetimeField(db_index=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "contact_event"
