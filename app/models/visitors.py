"""Visitors of a site, their visits and page views (the trail)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Visitor(Model):
    # A browser recognised by the id the widget keeps in first-party storage.

    id = fields.CharField(max_length=40, primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="visitors", on_delete=fields.CASCADE)
    first_seen = fields.DatetimeField()
    last_seen = fields.DatetimeField(db_index=True)
    visit_count = fields.IntField(default=0)
    name = fields.CharField(max_length=100, null=True)
    email = fields.CharField(max_length=254, null=True)
    user_agent = fields.CharField(max_length=512, null=True)
    browser = fields.CharField(max_length=64, null=True)
    os = fields.CharField(max_length=64, null=True)
    device = fields.CharField(max_length=32, null=True)
    is_bot = fields.BooleanField(default=False)
    country = fields.CharField(max_length=2, null=True)
    current_url = fields.CharField(max_length=2048, null=True)
    current_title = fields.CharField(max_length=512, null=True)
    attributes = fields.JSONField(default=dict)
    # The site's own user id, from `Switchboard('identify', {id})`: links this browser's trail
    # with the same person's other devices.
    external_id = fields.CharField(max_length=128, null=True, db_index=True)
    # True when external_id was proven with the site's identity secret (user_hash); only verified
    # identities link devices and share transcripts across them.
    identity_verified = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "visitor"


class Visit(Model):
    id = fields.BigIntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="visits", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="visits", on_delete=fields.CASCADE)
    number = fields.IntField()
    started_at = fields.DatetimeField(db_index=True)
    last_activity_at = fields.DatetimeField()
    landing_url = fields.CharField(max_length=2048, null=True)
    # The landing page as the explorer counts it (app/tracking/pages.py), fixed when recorded.
    landing_page = fields.CharField(max_length=2048, null=True)
    referrer = fields.CharField(max_length=2048, null=True)
    # Where the visit came from (app/tracking/referrer.py) and who made it, as of its landing page.
    referrer_type = fields.CharField(max_length=16, null=True)
    referrer_domain = fields.CharField(max_length=253, null=True)
    keywords = fields.CharField(max_length=200, null=True)
    utm = fields.JSONField(default=dict, db_default={})
    country = fields.CharField(max_length=2, null=True)
    device = fields.CharField(max_length=16, null=True)

    class Meta:
        table = "visit"


class PageView(Model):
    id = fields.BigIntField(primary_key=True)
    visit = fields.ForeignKeyField("models.Visit", related_name="page_views", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="page_views", on_delete=fields.CASCADE)
    url = fields.CharField(max_length=2048)
    # The page as the explorer counts it: path, hash route, kept parameters (app/tracking/pages.py).
    page = fields.CharField(max_length=2048, null=True)
    title = fields.CharField(max_length=512, null=True)
    referrer = fields.CharField(max_length=2048, null=True)
    at = fields.DatetimeField(db_index=True)
    # Time the page was visible, reported by the widget as the visitor stays (the largest count wins).
    active_ms = fields.IntField(null=True)
    # The widget's id for this page view, to which its active time is reported later.
    view_key = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "page_view"
        indexes = (("visitor_id", "view_key"),)


class TrackEvent(Model):
    """A custom event of the site's own: `Switchboard('track', 'signup', {plan: "pro"})`."""

    id = fields.BigIntField(primary_key=True)
    site = fields.ForeignKeyField("models.Site", related_name="track_events", on_delete=fields.CASCADE)
    visitor = fields.ForeignKeyField("models.Visitor", related_name="track_events", on_delete=fields.CASCADE)
    visit = fields.ForeignKeyField("models.Visit", related_name="track_events", null=True, on_delete=fields.SET_NULL)
    name = fields.CharField(max_length=64)
    props = fields.JSONField(default=dict)
    url = fields.CharField(max_length=2048, null=True)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "track_event"
