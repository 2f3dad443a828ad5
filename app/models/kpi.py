"""Kept KPI facts: a finished day's per-conversation facts, derived once from the event log.

The event log stays the truth (app/reports/kept_days.py says when a day is kept, how a late event
makes it stale and how `python -m app kpi-rebuild` recomputes it)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

KEPT_STATES = ("computing", "kept", "stale")


class KeptDay(Model):
    # One local day (in `time_zone`) whose conversations' facts are kept in `kpi_kept_fact`.
    # state: computing (a worker is deriving it; `claim` is that worker's), kept (its facts are
    # the event log's), stale (an event came for one of its conversations; recomputed on next use).
    id = fields.IntField(primary_key=True)
    time_zone = fields.CharField(max_length=64)
    day = fields.DateField()
    starts_at = fields.DatetimeField(db_index=True)  # the day's first instant (UTC)
    ends_at = fields.DatetimeField()  # the next day's first instant
    state = fields.CharField(max_length=16)
    claim = fields.CharField(max_length=32)
    computed_at = fields.DatetimeField()
    conversations = fields.IntField(default=0)
    events = fields.IntField(default=0)

    class Meta:
        table = "kpi_kept_day"
        unique_together = (("time_zone", "day"),)


class KeptFact(Model):
    # `app.kpi.engine.ConversationFacts` of one conversation requested on a kept day; holds as
    # JSON [[agent_id, start µs, end µs or null], ...] (µs since the Unix epoch, UTC).
    id = fields.BigIntField(primary_key=True)
    day = fields.ForeignKeyField("models.KeptDay", related_name="facts", on_delete=fields.CASCADE)
    # Erasing a visitor deletes their conversations, and with them these rows.
    conversation = fields.ForeignKeyField("models.Conversation", related_name="kept_facts", on_delete=fields.CASCADE)
    requested_at = fields.DatetimeField()
    answered_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    abandoned_at = fields.DatetimeField(null=True)
    queue_seconds = fields.FloatField(null=True)
    handle_seconds = fields.FloatField(null=True)
    wrap_up_seconds = fields.FloatField(default=0.0)
    transfers = fields.IntField(default=0)
    rating = fields.CharField(max_length=16, null=True)
    department_id = fields.IntField(null=True)
    agent_id = fields.IntField(null=True)
    last_agent_id = fields.IntField(null=True)
    site_id = fields.IntField(null=True)
    visitor_id = fields.CharField(max_length=64, null=True)
    holds = fields.TextField(default="[]")
    after_hours = fields.BooleanField(default=False)
    held_only = fields.BooleanField(default=False)

    class Meta:
        table = "kpi_kept_fact"
        unique_together = (("day", "conversation"),)
