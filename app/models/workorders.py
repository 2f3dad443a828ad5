"""Work orders (工单): what a chat cannot settle, tracked to the end by a handling team.

A work order belongs to a site and a customer (a visitor, or just a name and an address), is filed
under a category of the admin's two-level taxonomy, and moves through the workflow of
app/workorders/workflow.py. Its thread (`WorkOrderEntry`) holds public replies to the customer,
the customer's own replies, internal notes and the handler's feedback; its event log
(`WorkOrderEvent`, append-only) holds every change and is what the work-order reports read.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Team(Model):
    # A handling team (Billing, Logistics …): not a chat queue. Its members handle work orders;
    # they may never take a chat. SLA clocks run in its business hours (none: always).

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    description = fields.CharField(max_length=300, default="", db_default="")
    # Whom an urge or an escalation also notifies (besides the handler).
    lead = fields.ForeignKeyField("models.User", related_name="teams_led", null=True, on_delete=fields.SET_NULL)
    business_hours = fields.CharField(max_length=200, null=True)
    time_zone = fields.CharField(max_length=64, null=True)
    holidays = fields.JSONField(default=list, db_default=[])
    members = fields.ManyToManyField("models.User", related_name="teams", through="team_member")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "work_team"
        ordering = ["name", "id"]


class WorkCategory(Model):
    # The contact taxonomy: a top-level category (Complaint) or one of its children (Delivery).

    id = fields.IntField(primary_key=True)
    parent = fields.ForeignKeyField("models.WorkCategory", related_name="children", null=True,
                                    on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    position = fields.IntField(default=0, db_default=0)
    active = fields.BooleanField(default=True, db_default=True)

    class Meta:
        table = "work_category"
        ordering = ["position", "name", "id"]


class SlaPolicy(Model):
    # Targets for the orders of a category × priority (None: any), in minutes of the handling team's
    # business hours. The most specific policy applies (app/workorders/sla.py `pick`).

    id = fields.IntField(primary_key=True)
    category = fields.ForeignKeyField("models.WorkCategory", related_name="sla_policies", null=True,
                                      on_delete=fields.CASCADE)
    priority = fields.CharField(max_length=8, null=True)
    first_response_minutes = fields.IntField(null=True)
    resolution_minutes = fields.IntField(null=True)

    class Meta:
        table = "sla_policy"


class WorkOrderCounter(Model):
    # The last number given in a year (WO-2026-000042).

    year = fields.IntField(primary_key=True, generated=False)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "work_order_counter"


class WorkOrder(Model):
    id = fields.BigIntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    site = fields.ForeignKeyField("models.Site", related_name="work_orders", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="work_orders", null=True,
                                     on_delete=fields.SET_NULL)
    customer_name = fields.CharField(max_length=100, null=True)
    customer_email = fields.CharField(max_length=254, null=True)
    customer_phone = fields.CharField(max_length=40, null=True)
    # Customer language for the mails they receive ("en" / "zh-CN").
    customer_language = fields.CharField(max_length=8, default="en", db_default="en")
    source = fields.CharField(max_length=16)  # chat | offline_note | email | manual
    # The note a visitor left through the offline form that became this order (source offline_note).
    offline_message = fields.ForeignKeyField("models.OfflineMessage", related_name="work_orders", null=True,
                                             on_delete=fields.SET_NULL)
    category = fields.ForeignKeyField("models.WorkCategory", related_name="work_orders", null=True,
                                      on_delete=fields.SET_NULL)
    priority = fields.CharField(max_length=8, default="normal")
    subject = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    status = fields.CharField(max_length=24, default="new", db_index=True)
    team = fields.ForeignKeyField("models.Team", related_name="work_orders", null=True, on_delete=fields.SET_NULL)
    handler = fields.ForeignKeyField("models.User", related_name="handled_orders", null=True,
                                     on_delete=fields.SET_NULL)
    created_by = fields.ForeignKeyField("models.User", related_name="created_orders", null=True,
                                        on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(db_index=True)
    updated_at = fields.DatetimeField()
    # SLA: when the first public reply and the resolution are due (None: no target), when each
    # happened; `escalation` is how far the SLA went (0 none, 1 warned, 2 breached).
    first_response_due_at = fields.DatetimeField(null=True)
    first_responded_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    escalation = fields.IntField(default=0, db_default=0)
    urge_count = fields.IntField(default=0, db_default=0)
    reopen_count = fields.IntField(default=0, db_default=0)
    # A random secret in the customer's status link; replacing it revokes every link sent before.
    link_secret = fields.CharField(max_length=32)
    conversations = fields.ManyToManyField("models.Conversation", related_name="work_orders",
                                           through="work_order_conversation")
    watchers = fields.ManyToManyField("models.User", related_name="watched_orders", through="work_order_watcher")

    class Meta:
        table = "work_order"
        indexes = (("status", "due_at"), ("team_id", "status"), ("handler_id", "status"), ("visitor_id", "status"))


ENTRY_KINDS = ("reply", "customer", "note", "feedback")


class WorkOrderEntry(Model):
    # One post in an order's thread: `reply` (staff to the customer, public), `customer` (the
    # customer's reply, public), `note` (internal) or `feedback` (the handler's result for the
    # contact center, internal).

    id = fields.BigIntField(primary_key=True)
    work_order = fields.ForeignKeyField("models.WorkOrder", related_name="entries", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)
    author = fields.ForeignKeyField("models.User", related_name="order_entries", null=True, on_delete=fields.SET_NULL)
    author_name = fields.CharField(max_length=100, null=True)
    body = fields.TextField()
    via = fields.CharField(max_length=8, default="web")  # web | email | link
    created_at = fields.DatetimeField()

    class Meta:
        table = "work_order_entry"
        ordering = ["created_at", "id"]


class WorkOrderEvent(Model):
    # Append-only: every change of an order (created, dispatched, transferred, status, urged,
    # replied, escalated, callback_* …), with the team, handler and category at that moment.

    id = fields.BigIntField(primary_key=True)
    work_order = fields.ForeignKeyField("models.WorkOrder", related_name="events", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=32)
    actor = fields.ForeignKeyField("models.User", related_name="order_events", null=True, on_delete=fields.SET_NULL)
    team_id = fields.IntField(null=True)
    handler_id = fields.IntField(null=True)
    category_id = fields.IntField(null=True)
    at = fields.DatetimeField(db_index=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "work_order_event"
        indexes = (("work_order_id", "at"),)


class WorkOrderAttachment(Model):
    # A file on an order (an image or a PDF, checked by its content); the bytes live under the
    # attachments directory by `storage_key`, never in the database.

    id = fields.BigIntField(primary_key=True)
    work_order = fields.ForeignKeyField("models.WorkOrder", related_name="attachments", on_delete=fields.CASCADE)
    entry = fields.ForeignKeyField("models.WorkOrderEntry", related_name="attachments", null=True,
                                   on_delete=fields.SET_NULL)
    filename = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=64)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=80, unique=True)
    uploaded_by = fields.ForeignKeyField("models.User", related_name="order_attachments", null=True,
                                         on_delete=fields.SET_NULL)
    by_customer = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()

    class Meta:
        table = "work_order_attachment"


CALLBACK_OUTCOMES = ("reached", "not_reached", "satisfied", "not_satisfied")


class WorkOrderCallback(Model):
    # A follow-up (回访) with the customer after resolution: due by `due_at`, done with an outcome.

    id = fields.BigIntField(primary_key=True)
    work_order = fields.ForeignKeyField("models.WorkOrder", related_name="callbacks", on_delete=fields.CASCADE)
    assignee = fields.ForeignKeyField("models.User", related_name="callbacks", null=True, on_delete=fields.SET_NULL)
    due_at = fields.DatetimeField(db_index=True)
    note = fields.CharField(max_length=500, default="")
    outcome = fields.CharField(max_length=16, null=True)
    outcome_note = fields.CharField(max_length=500, null=True)
    done_at = fields.DatetimeField(null=True)
    created_by = fields.ForeignKeyField("models.User", related_name="callbacks_made", null=True,
                                        on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()

    class Meta:
        table = "work_order_callback"


class OutgoingMail(Model):
    # Every mail the product sends, kept: `queued` until the sender hands it to SMTP (`sent`, or
    # `failed` after the last attempt); without SMTP_URL it stays in the outbox (`outbox`), shown on
    # the admin's Outgoing mail page.

    id = fields.BigIntField(primary_key=True)
    to_address = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    body = fields.TextField()
    # Message-ID, Reply-To, In-Reply-To … as sent.
    headers = fields.JSONField(default=dict)
    work_order = fields.ForeignKeyField("models.WorkOrder", related_name="mails", null=True,
                                        on_delete=fields.SET_NULL)
    purpose = fields.CharField(max_length=32, default="")  # created | reply | resolved | urge …
    status = fields.CharField(max_length=8, default="queued", db_index=True)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(db_index=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outgoing_mail"
