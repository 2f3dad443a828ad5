"""Sites and users: created by admins (and by the CLI)."""

from __future__ import annotations

import re
import secrets

from tortoise.transactions import in_transaction

from app.models import Department, InvitationRule, Site, User
from app.models.org import ROLES
from app.routing import hours
from app.routing.policy import DEFAULT_STRATEGY, STRATEGIES
from app.security import hash_password
from app.services import ServiceError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def normalise_origin(origin: str) -> str:
    origin = origin.strip().rstrip("/")
    if not ORIGIN.match(origin):
        raise ServiceError("bad_request", f"{origin!r} is not an origin like https://www.example.com")
    return origin.lower()


def snippet(base_url: str, site_key: str) -> str:
    return f'<script async src="{base_url.rstrip("/")}/widget.js" data-site="{site_key}"></script>'


async def create_site(name: str, origins: list[str]) -> Site:
    if not name.strip():
        raise ServiceError("bad_request", "A site needs a name.")
    return await Site.create(
        name=name.strip(), key="site_" + secrets.token_urlsafe(12), allowed_origins=[normalise_origin(o) for o in origins]
    )


SETTINGS_SECTIONS = ("invitations", "tracking")


async def update_site_settings(site_key: str, changes: dict) -> dict:
    """Merge changes into a site's settings, one level deep per section (`invitations`,
    `tracking`, or a top-level value such as `sticky_seconds`). Returns the settings."""
    site = await Site.get_or_none(key=site_key)
    if site is None:
        raise ServiceError("not_found", f"No site has the key {site_key!r}.")
    if not isinstance(changes, dict):
        raise ServiceError("bad_request", "The settings are a JSON object.")
    current = dict(site.settings) if isinstance(site.settings, dict) else {}
    for key, value in changes.items():
        if key in SETTINGS_SECTIONS:
            if not isinstance(value, dict):
                raise ServiceError("bad_request", f"{key} is an object of settings.")
            section = dict(current.get(key) or {})
            section.update(value)
            current[key] = section
        else:
            current[key] = value
    await Site.filter(id=site.id).update(settings=current)
    return current


async def site_identity_secret(site_key: str, *, rotate: bool = False, clear: bool = False) -> str | None:
    """Identity verification for a site (docs/widget.md, "Identity verification"). Gives the site
    a new secret — when it has none, or with `rotate` (the old one stops verifying at once) — and
    returns it: it is shown this once. `clear` removes it (identify is then unverified and links
    nothing). Without either, a site that has a secret keeps it and None is returned."""
    if rotate and clear:
        raise ServiceError("bad_request", "Rotate or clear, not both.")
    site = await Site.get_or_none(key=site_key)
    if site is None:
        raise ServiceError("not_found", f"No site has the key {site_key!r}.")
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
    """A user; `max_chats` None means their departments' default capacity (else 3)."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ServiceError("bad_request", f"{email!r} is not an e-mail address.")
    if role not in ROLES:
        raise ServiceError("bad_request", f"role must be one of {', '.join(ROLES)}.")
    if len(password) < 8:
        raise ServiceError("bad_request", "The password must have at least 8 characters.")
    if max_chats is not None and not 1 <= max_chats <= 50:
        raise ServiceError("bad_request", "max chats must be between 1 and 50.")
    if await User.exists(email=email):
        raise ServiceError("conflict", f"A user with e-mail {email} exists already.")
    return await User.create(
        email=email, password_hash=hash_password(password), role=role,
        display_name=(display_name or email.split("@")[0]).strip()[:100], max_chats=max_chats,
    )


async def create_department(site_key: str, name: str, member_emails: list[str] | None = None, *,
                            strategy: str = DEFAULT_STRATEGY, sticky_seconds: int = 0, offer_seconds: int = 0,
                            missed_offers_limit: int = 3, sl_threshold_seconds: int | None = None,
                            business_hours: str | None = None, max_wait_seconds: int | None = None,
                            route_pages: list[str] | None = None, priority: int = 0,
                            route_languages: list[str] | None = None,
                            default_max_chats: int | None = None) -> Department:
    """A department (a queue) of a site. Members are e-mails, each optionally `EMAIL:LEVEL` with a
    skill level for the skills strategy (default 1)."""
    site = await Site.get_or_none(key=site_key)
    if site is None:
        raise ServiceError("not_found", f"No site has the key {site_key!r}.")
    if not name.strip() or len(name) > 200:
        raise ServiceError("bad_request", "A department needs a name of at most 200 characters.")
    if strategy not in STRATEGIES:
        raise ServiceError("bad_request", f"The strategy must be one of {', '.join(STRATEGIES)}.")
    if not 0 <= sticky_seconds <= 3600:
        raise ServiceError("bad_request", "Sticky seconds must be between 0 and 3600.")
    if not 0 <= offer_seconds <= 300:
        raise ServiceError("bad_request", "Offer seconds must be between 0 (no offers) and 300.")
    if business_hours is not None:
        try:
            hours.parse(business_hours)
        except hours.HoursError as exc:
            raise ServiceError("bad_request", str(exc)) from None
    route_pages = [p.strip() for p in route_pages or [] if p.strip()]
    if any(not p.startswith("/") or len(p) > 200 for p in route_pages):
        raise ServiceError("bad_request", "A page pattern is a path such as /pricing* (at most 200 characters).")
    if not 0 <= priority <= 100:
        raise ServiceError("bad_request", "The priority must be between 0 and 100.")
    route_languages = [tag.strip().lower() for tag in route_languages or [] if tag.strip()]
    if any(not LANGUAGE_TAG.match(tag) for tag in route_languages):
        raise ServiceError("bad_request", "A language is a tag such as de or fr-ch.")
    if default_max_chats is not None and not 1 <= default_max_chats <= 50:
        raise ServiceError("bad_request", "The default capacity must be between 1 and 50 chats.")
    if max_wait_seconds is not None and not 5 <= max_wait_seconds <= 86400:
        raise ServiceError("bad_request", "The maximum wait must be between 5 seconds and a day.")
    if sl_threshold_seconds is not None and not 1 <= sl_threshold_seconds <= 3600:
        raise ServiceError("bad_request", "The service-level threshold must be between 1 and 3600 seconds.")
    if not 0 <= missed_offers_limit <= 100:
        raise ServiceError("bad_request", "The missed offers limit must be between 0 (never) and 100.")
    if await Department.exists(site_id=site.id, name=name.strip()):
        raise ServiceError("conflict", f"{site.name} has a department {name!r} already.")
    members: list[tuple[User, int]] = []
    for entry in member_emails or []:
        email, _, level = entry.strip().partition(":")
        if level and not (level.isdigit() and 1 <= int(level) <= 10):
            raise ServiceError("bad_request", f"The skill level of {email!r} must be 1 to 10.")
        user = await User.get_or_none(email=email.lower())
        if user is None:
            raise ServiceError("not_found", f"No user {email!r}.")
        members.append((user, int(level or 1)))
    async with in_transaction():
        department = await Department.create(site_id=site.id, name=name.strip(), routing_strategy=strategy,
                                             sticky_seconds=sticky_seconds, offer_seconds=offer_seconds,
                                             missed_offers_limit=missed_offers_limit,
                                             sl_threshold_seconds=sl_threshold_seconds,
                                             business_hours=business_hours, max_wait_seconds=max_wait_seconds,
                                             route_pages=route_pages, priority=priority,
                                             route_languages=route_languages,
                                             default_max_chats=default_max_chats)
        for user, level in members:
            await department.users.add(user)
            skills = dict(user.skills) if isinstance(user.skills, dict) else {}
            skills[str(department.id)] = level
            await User.filter(id=user.id).update(skills=skills)
    return department


DEMO_AGENT_EMAIL = "agent@demo.switchboard"
DEMO_SUPERVISOR_EMAIL = "supervisor@demo.switchboard"
DEMO_ADMIN_EMAIL = "admin@demo.switchboard"
DEMO_MARKETER_EMAIL = "marketer@demo.switchboard"


async def seed_demo(base_url: str, password: str) -> tuple[Site, bool]:
    """Create the demo site and its users once; return (site, created)."""
    site = await Site.filter(name="Demo").first()
    if site is not None:
        return site, False
    origins = {base_url, "http://127.0.0.1:8000", "http://localhost:8000"}
    site = await create_site("Demo", sorted(origins))
    # The demo pages are served by Switchboard itself: allow them on whatever host and port
    # the server answers (see app/realtime/visitor.py).
    site.settings = {"demo": True}
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
    return site, True
