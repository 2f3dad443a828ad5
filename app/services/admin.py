"""What the CLI and the demo call: sites, users and departments (each through the same service as
its admin page), the demo seed."""

from __future__ import annotations

import secrets

from app.models import Department, InvitationRule, Site, User
from app.routing.policy import DEFAULT_STRATEGY
from app.services import (
    ServiceError, accounts, departments, knowledge_demo, quality_demo, sites, widget_settings, work_setup, workorders,
)

# Sites live in app/services/sites.py; these names stay here for the CLI and older callers.
ORIGIN_EXAMPLE = sites.ORIGIN_EXAMPLE
normalise_origin = sites.normalise_origin
snippet = sites.snippet
create_site = sites.create_site
SETTINGS_SECTIONS = sites.SETTINGS_SECTIONS


async def update_site_settings(site_key: str, changes: dict, *, actor: User | None = None) -> dict:
    """Merge changes into a site's settings (`site-settings --set`): see `sites.update_settings`;
    a `widget` part goes through the Widget page's checks (`widget_settings`). Everything is
    checked before anything is stored."""
    site = await sites.by_key_or_error(site_key)
    widget = None
    if isinstance(changes, dict) and "widget" in changes:
        changes = dict(changes)
        widget = widget_settings.merged(site, changes.pop("widget"))
    settings = await sites.update_settings(actor, site, changes)
    if widget is not None:
        settings = {**settings, "widget": await widget_settings.update(actor, site.id, widget)}
    return settings


async def site_identity_secret(site_key: str, *, rotate: bool = False, clear: bool = False) -> str | None:
    """Identity verification for a site (docs/widget.md, "Identity verification"). Gives the site
    a new secret — when it has none, or with `rotate` (the old one stops verifying at once) — and
    returns it: it is shown this once. `clear` removes it (identify is then unverified and links
    nothing). Without either, a site that has a secret keeps it and None is returned."""
    if rotate and clear:
        raise ServiceError("bad_request", "Rotate or clear, not both.")
    site = await Site.get_or_none(key=site_key)
    if site is None:
        raise ServiceError("not_found", "No site has the key %(key)s.", key=repr(site_key))
    if clear:
        await Site.filter(id=site.id).update(identity_secret=None)
        return None
    if site.identity_secret and not rotate:
        return None
    secret = secrets.token_hex(32)
    await Site.filter(id=site.id).update(identity_secret=secret)
    return secret


async def create_user(
    email: str, password: str, role: str = "agent", display_name: str | None = None, max_chats: int | None = None
) -> User:
    """A user with a password (the demo, tests); the same service as the CLI and the Users page
    (`accounts.create_account`), audited as the operator's. `max_chats` None means their
    departments' default capacity (else 3)."""
    user, _ = await accounts.create_account(None, email=email, name=display_name, role=role, capacity=max_chats,
                                            password=password)
    return user


async def create_department(site_key: str, name: str, member_emails: list[str] | None = None, *,
                            strategy: str = DEFAULT_STRATEGY, sticky_seconds: int = 0, offer_seconds: int = 0,
                            missed_offers_limit: int = 3, sl_threshold_seconds: int | None = None,
                            business_hours: str | None = None, max_wait_seconds: int | None = None,
                            route_pages: list[str] | None = None, priority: int = 0,
                            route_languages: list[str] | None = None,
                            default_max_chats: int | None = None, time_zone: str | None = None,
                            holidays: str | None = None, classification: str = "off",
                            accept_after_hours: bool = False) -> Department:
    """A department (a queue) of a site, from the command line (the admin page calls
    `departments.save` the same way). Members are e-mails, each optionally `EMAIL:LEVEL` with a
    skill level for the skills strategy (default 1)."""
    site = await Site.get_or_none(key=site_key)
    if site is None:
        raise ServiceError("not_found", "No site has the key %(key)s.", key=repr(site_key))
    members: dict[int, int] = {}
    for entry in member_emails or []:
        email, _, level = entry.strip().partition(":")
        if level and not (level.isdigit() and 1 <= int(level) <= 10):
            raise ServiceError("bad_request", "The skill level of %(email)s must be 1 to 10.", email=repr(email))
        user = await User.get_or_none(email=email.lower())
        if user is None:
            raise ServiceError("not_found", "No user %(email)s.", email=repr(email))
        members[user.id] = int(level or 1)
    values = {"name": name, "routing_strategy": strategy, "sticky_seconds": sticky_seconds,
              "offer_seconds": offer_seconds, "missed_offers_limit": missed_offers_limit,
              "sl_threshold_seconds": sl_threshold_seconds, "business_hours": business_hours,
              "max_wait_seconds": max_wait_seconds, "route_pages": route_pages or [], "priority": priority,
              "route_languages": route_languages or [], "default_max_chats": default_max_chats,
              "time_zone": time_zone, "holidays": holidays, "classification": classification,
              "accept_after_hours": accept_after_hours}
    return await departments.save(None, site.id, values, members)


DEMO_AGENT_EMAIL = "agent@demo.switchboard"
DEMO_SUPERVISOR_EMAIL = "supervisor@demo.switchboard"
DEMO_ADMIN_EMAIL = "admin@demo.switchboard"
DEMO_MARKETER_EMAIL = "marketer@demo.switchboard"
DEMO_HANDLER_EMAIL = "backoffice@demo.switchboard"


async def seed_demo(base_url: str, password: str) -> tuple[Site, bool]:
    """Create the demo site and its users once; return (site, created)."""
    site = await Site.filter(name="Demo").first()
    if site is not None:
        await seed_knowledge(site)  # a demo made before the knowledge base gets its articles once
        await seed_quality(site, password)  # … and one made before quality monitoring its history
        return site, False
    origins = {base_url, "http://127.0.0.1:8000", "http://localhost:8000"}
    site = await create_site("Demo", sorted(origins))
    # The demo pages are served by Switchboard itself: allow them on whatever host and port
    # the server answers (see app/realtime/visitor.py).
    # Its support page switches tabs with ?tab=…: each tab is a page of its own in the explorer.
    site.settings = {"demo": True, "tracking": {"hash_routes": True, "route_params": ["tab"]}}
    await site.save(update_fields=["settings"])
    await create_user(DEMO_AGENT_EMAIL, password, "agent", "Dana (demo agent)")
    await create_user(DEMO_SUPERVISOR_EMAIL, password, "supervisor", "Sam (demo supervisor)")
    await create_department(site.key, "Sales", [DEMO_AGENT_EMAIL])
    await create_department(site.key, "Support", [DEMO_AGENT_EMAIL, DEMO_SUPERVISOR_EMAIL])
    await create_user(DEMO_ADMIN_EMAIL, password, "admin", "Ada (demo admin)")
    await create_user(DEMO_MARKETER_EMAIL, password, "marketer", "Mia (demo marketer)")
    # An automatic invitation to try: 20 seconds on the pricing page.
    await InvitationRule.create(site_id=site.id, name="Pricing help", conditions={"url": "/demo/pricing*",
                                "min_seconds_on_page": 20}, message="Questions about our prices? We're happy to help.")
    await seed_work_orders(site, password)
    await seed_knowledge(site)
    await seed_quality(site, password)
    return site, True


async def seed_quality(site: Site, password: str) -> None:
    """The demo's quality monitoring: a scorecard, a sampling rule, an evaluator, evaluations and weeks of
    history for a new and a veteran CSR (app/services/quality_demo.py)."""
    await quality_demo.seed(site, password, admin_email=DEMO_ADMIN_EMAIL, supervisor_email=DEMO_SUPERVISOR_EMAIL,
                            create_user=create_user)


async def seed_knowledge(site: Site) -> None:
    """The demo's articles (English and Chinese) and canned responses (app/services/knowledge_demo.py)."""
    if await User.filter(email=DEMO_ADMIN_EMAIL).exists() and await User.filter(email=DEMO_AGENT_EMAIL).exists():
        await knowledge_demo.seed(site, editor_email=DEMO_ADMIN_EMAIL, csr_email=DEMO_AGENT_EMAIL)


# The demo's contact taxonomy and SLA targets (minutes of the handling team's business hours).
DEMO_CATEGORIES = {"Complaint": ["Delivery", "Product quality"], "Billing": ["Refund", "Invoice"],
                   "Question": ["Order status", "Product information"]}
DEMO_SLA = [(None, None, 240, 2880), (None, "urgent", 30, 480), ("Complaint", "high", 60, 1440)]
DEMO_ORDERS = [
    ("Parcel arrived damaged", "Complaint", "Delivery", "high", "Logistics",
     "The tent poles were bent when the parcel arrived. I would like a replacement.", "Lena Fischer",
     "lena.fischer@example.com"),
    ("Refund not received", "Billing", "Refund", "normal", "Billing",
     "I returned the boots three weeks ago and have not seen the refund yet.", "Tom Baker", "tom.baker@example.com"),
    ("Invoice with our VAT number", "Billing", "Invoice", "low", None,
     "Please send the invoice for order 10442 again with our company's VAT number.", "Mei Chen",
     "mei.chen@example.com"),
]


async def seed_work_orders(site: Site, password: str) -> None:
    """The demo's back office: teams Billing and Logistics (with a back-office handler), the
    taxonomy, SLA policies and a few open orders."""
    handler = await create_user(DEMO_HANDLER_EMAIL, password, "handler", "Hugo (demo back office)")
    supervisor = await User.get(email=DEMO_SUPERVISOR_EMAIL)
    billing = await work_setup.save_team(None, {"name": "Billing", "description": "Refunds, invoices, payments",
                                                "members": [handler.id], "lead_id": supervisor.id,
                                                "business_hours": "mon-fri 08:00-18:00"})
    logistics = await work_setup.save_team(None, {"name": "Logistics", "description": "Deliveries and returns",
                                                  "members": [handler.id], "lead_id": supervisor.id})
    teams = {"Billing": billing, "Logistics": logistics}
    ids = {}
    for parent, children in DEMO_CATEGORIES.items():
        top = await work_setup.save_category(None, {"name": parent})
        ids[parent] = top
        for child in children:
            ids[f"{parent}/{child}"] = await work_setup.save_category(None, {"name": child, "parent_id": top.id})
    for category, priority, first, resolution in DEMO_SLA:
        await work_setup.save_policy(None, {"category_id": ids[category].id if category else None, "priority": priority,
                                            "first_response_minutes": first, "resolution_minutes": resolution})
    for subject, parent, child, priority, team, description, name, email in DEMO_ORDERS:
        await workorders.create(None, {
            "site_id": site.id, "subject": subject, "description": description, "priority": priority,
            "category_id": ids[f"{parent}/{child}"].id, "customer_name": name, "customer_email": email,
            "team_id": teams[team].id if team else None}, source="manual")
