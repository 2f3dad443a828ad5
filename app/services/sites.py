"""Sites: the customer websites that embed the widget. Created, edited, disabled and enabled, their
key rotated, and their tracking (privacy) settings changed — by the admin pages and by the CLI,
through these functions only. Every change is audited (app/services/audit.py, subject
"site:<id>") and takes effect on every worker at once:

- The widget's connect handler and the beacon keep the sites they read in a per-worker cache
  (app/realtime/visitor.py). Each change bumps the deployment's **site version** (a Redis counter
  with REDIS_URL, shared by every worker and by CLI commands; a counter on the runtime without
  Redis); a worker re-reads a cached site when the version moved since it read it.
- Disabling a site closes its widgets' sockets on every worker (they sit in the room
  `bus.site_room`), and removing an origin closes the sockets of pages on that origin.

**Key rotation** (docs/admin.md, "Rotating a site key"): a new key is made; the old one keeps
working for `SITE_KEY_GRACE_HOURS` (default 168, a week) so that pages still carrying the old
snippet are not cut off while the new one is deployed, then it is refused (`site_key_expired`).
Rotating again ends the grace of the key before at once. Visitor tokens are signed per site, not
per key: a visitor keeps their identity across a rotation.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from app import bus, runtime
from app.clock import iso, utcnow
from app.models import Site, User
from app.i18n import N_
from app.services import ServiceError, Words, audit, tracking

KEY_PREFIX = "site_"
MAX_NAME = 200
MAX_ORIGINS = 50
MAX_ORIGIN_CHARS = 300
DEFAULT_KEY_GRACE = timedelta(days=7)  # SITE_KEY_GRACE_HOURS overrides it
VERSION_KEY = "sites:version"

# One DNS label: letters, digits and hyphens, not starting or ending with a hyphen.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
ORIGIN_EXAMPLE = "https://shop.example.com"
TOO_LONG = f"Too long: at most {MAX_ORIGINS} origins of {MAX_ORIGIN_CHARS} characters each."


# --- origins and snippets ---------------------------------------------------------------------


def normalise_origin(origin: str) -> str:
    """A page origin as browsers send it in the Origin header: `scheme://host[:port]`, lower case,
    without a default port (443 for https, 80 for http), a path, a query or credentials.
    Refuses anything else (field "allowed_origins")."""
    raw = origin.strip() if isinstance(origin, str) else ""
    bad = {"origin": repr(raw[:80]), "example": ORIGIN_EXAMPLE}  # its refusals' values
    if not raw or len(raw) > MAX_ORIGIN_CHARS or any(c.isspace() for c in raw):
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s.", "allowed_origins", **bad)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s.", "allowed_origins", **bad) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s (it starts with https:// or http://).",
                           "allowed_origins", **bad)
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s (no path, query or #fragment).",
                           "allowed_origins", **bad)
    if parts.username is not None or parts.password is not None:
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s (no user name or password).",
                           "allowed_origins", **bad)
    host = (parts.hostname or "").lower()
    if not _valid_host(host):
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s (the host name is not valid).",
                           "allowed_origins", **bad)
    if port == 0:
        raise ServiceError("bad_request", "%(origin)s is not an origin like %(example)s (the port is not valid).",
                           "allowed_origins", **bad)
    shown = f"[{host}]" if ":" in host else host
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        shown += f":{port}"
    return f"{scheme}://{shown}"


def _valid_host(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    if ":" in host:  # an IPv6 address (urlsplit took it out of its brackets)
        return bool(re.fullmatch(r"[0-9a-f:.]+", host)) and host.count(":") >= 2
    if _IPV4.match(host):
        return all(int(part) <= 255 for part in host.split("."))
    labels = host.split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def parse_origins(origins: str | list[str]) -> list[str]:
    """The allowed origins from a list, or from text with one origin per line (commas and spaces
    separate too): each normalised, duplicates dropped, at least one, at most MAX_ORIGINS."""
    if isinstance(origins, str):
        if len(origins) > MAX_ORIGINS * (MAX_ORIGIN_CHARS + 2):
            raise ServiceError("bad_request", TOO_LONG, "allowed_origins")
        items = [item for item in re.split(r"[\s,]+", origins) if item]
    elif isinstance(origins, list) and all(isinstance(item, str) for item in origins):
        items = [item for item in (o.strip() for o in origins) if item]
    else:
        raise ServiceError("bad_request", "The allowed origins are a list of origins.", "allowed_origins")
    if not items:
        raise ServiceError("bad_request", "Give at least one origin, like %(example)s.", "allowed_origins",
                           example=ORIGIN_EXAMPLE)
    if len(items) > MAX_ORIGINS:
        raise ServiceError("bad_request", "At most %(most)s origins.", "allowed_origins", most=MAX_ORIGINS)
    found: list[str] = []
    for item in items:
        origin = normalise_origin(item)
        if origin not in found:
            found.append(origin)
    return found


def snippet(base_url: str, site_key: str) -> str:
    """The one line a site's pages carry (docs/widget.md)."""
    return f'<script async src="{base_url.rstrip("/")}/widget.js" data-site="{site_key}"></script>'


def _name(name: Any) -> str:
    value = name.strip() if isinstance(name, str) else ""
    if not value:
        raise ServiceError("bad_request", "A site needs a name.", "name")
    if len(value) > MAX_NAME:
        raise ServiceError("bad_request", "The name has at most %(most)s characters.", "name", most=MAX_NAME)
    return value


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(12)


def key_grace() -> timedelta:
    rt = runtime.installed()
    seconds = rt.settings.site_key_grace_seconds if rt is not None else None
    return timedelta(seconds=seconds) if seconds else DEFAULT_KEY_GRACE


# --- who may connect with which key ------------------------------------------------------------


def refusal(site: Site, key: str, now: datetime | None = None) -> tuple[str, str] | None:
    """Why a widget using `key` for `site` is refused — (code, message) — or None: the site is
    enabled and `key` is its key, or its previous key within the grace period."""
    if site.disabled_at is not None:
        return "site_disabled", "This site is disabled: its chat is switched off."
    # Site keys are not secrets (every page of the site carries its key): a plain comparison.
    if key == site.key:
        return None
    if site.previous_key and key == site.previous_key:
        if site.previous_key_until is not None and (now or utcnow()) < site.previous_key_until:
            return None
        return "site_key_expired", "This site key was replaced: the page needs the site's new snippet."
    return "unknown_site", "No site has this key."


async def by_key(key: str) -> Site | None:
    """The site whose key — or previous key, in its grace period or after — is `key`."""
    if not isinstance(key, str) or not key or len(key) > 64:
        return None
    site = await Site.get_or_none(key=key)
    if site is None:
        site = await Site.filter(previous_key=key).order_by("-previous_key_until").first()
    return site


class SiteVersion:
    """Without Redis: this process's site version (on the runtime)."""

    def __init__(self) -> None:
        self.value = 0


async def version() -> int:
    """The deployment's site version: it moves whenever any site changes (see the module doc)."""
    rt = runtime.current()
    if rt.redis is not None:
        return int(await rt.redis.get(rt.key(VERSION_KEY)) or 0)
    return rt.state(SiteVersion).value


async def changed(site: Site, *, closed_origins: list[str] | None = None, disconnect: bool = False) -> None:
    """After a site's row changed: every worker re-reads it; its widgets' sockets are closed when
    it was disabled (`disconnect`), or those of origins no longer allowed."""
    rt = runtime.installed()
    if rt is None:
        return  # a script with no runtime: workers re-read the site within their cache's lifetime
    if rt.redis is not None:
        await rt.redis.incr(rt.key(VERSION_KEY))
    else:
        rt.state(SiteVersion).value += 1
    if disconnect:
        await bus.disconnect_visitors(bus.site_room(site.id))
    for origin in closed_origins or ():
        await bus.disconnect_visitors(bus.site_origin_room(site.id, origin))


# --- the admin's view of a site ----------------------------------------------------------------


def state_of(site: Site) -> dict[str, Any]:
    """What the audit log keeps of a site's identity and state (never its secrets)."""
    return {"name": site.name, "allowed_origins": list(site.allowed_origins or []),
            "enabled": site.disabled_at is None}


async def _get(site_id: int) -> Site:
    ok = isinstance(site_id, int) and not isinstance(site_id, bool) and 0 < site_id < 2**31
    site = await Site.get_or_none(id=site_id) if ok else None
    if site is None:
        raise ServiceError("not_found", "No such site.")
    return site


async def get(site_id: int) -> Site:
    return await _get(site_id)


async def by_key_or_error(site_key: str) -> Site:
    site = await Site.get_or_none(key=site_key) if isinstance(site_key, str) else None
    if site is None:
        raise ServiceError("not_found", "No site has the key %(key)s.", key=repr(site_key))
    return site


# --- changes ----------------------------------------------------------------------------------


async def create_site(name: str, origins: str | list[str], *, actor: User | None = None) -> Site:
    """A new, enabled site with a fresh key. `actor` None: the command line (or the demo seed)."""
    name = _name(name)
    allowed = parse_origins(origins)
    site = await Site.create(name=name, key=new_key(), allowed_origins=allowed)
    await audit.record(actor, "site_create", subject=f"site:{site.id}", before={}, after=state_of(site),
                       name=site.name)
    return site


async def update_site(actor: User | None, site_id: int, *, name: str, origins: str | list[str]) -> Site:
    """A site's name and allowed origins. Pages on an origin no longer allowed lose their chat."""
    site = await _get(site_id)
    name, allowed = _name(name), parse_origins(origins)
    before = state_of(site)
    closed = [o for o in before["allowed_origins"] if o not in allowed]
    await Site.filter(id=site.id).update(name=name, allowed_origins=allowed)
    site.name, site.allowed_origins = name, allowed
    old, new = audit.changed(before, state_of(site))
    if new:
        await audit.record(actor, "site_update", subject=f"site:{site.id}", before=old, after=new, name=site.name)
        await changed(site, closed_origins=closed)
    return site


async def set_enabled(actor: User | None, site_id: int, enabled: bool) -> Site:
    """Enable or disable a site. A disabled site's widget is refused (on connect and on the
    beacon) and its open widgets are disconnected; its visitors, chats and trail stay."""
    site = await _get(site_id)
    if (site.disabled_at is None) == enabled:
        return site  # already so: nothing to record
    before = state_of(site)
    site.disabled_at = None if enabled else utcnow()
    await Site.filter(id=site.id).update(disabled_at=site.disabled_at)
    old, new = audit.changed(before, state_of(site))
    await audit.record(actor, "site_enable" if enabled else "site_disable", subject=f"site:{site.id}",
                       before=old, after=new, name=site.name)
    await changed(site, disconnect=not enabled)
    return site


async def rotate_key(actor: User | None, site_id: int, *, grace: timedelta | None = None) -> Site:
    """A new key for the site; the current one keeps working for `grace` (SITE_KEY_GRACE_HOURS by
    default), the one before it (if any) stops now."""
    site = await _get(site_id)
    grace = key_grace() if grace is None else grace
    old_key, key, until = site.key, new_key(), utcnow() + grace
    await Site.filter(id=site.id).update(key=key, previous_key=old_key, previous_key_until=until)
    site.key, site.previous_key, site.previous_key_until = key, old_key, until
    # The keys themselves are not secret (every page carries one) but are kept out of the log.
    await audit.record(actor, "site_key_rotate", subject=f"site:{site.id}", name=site.name,
                       previous_key_until=iso(until))
    await changed(site)
    return site


# --- settings ---------------------------------------------------------------------------------


SETTINGS_SECTIONS = ("invitations", "tracking")
TRACKING_FLAGS = ("enabled", "respect_dnt", "anonymize_ip", "hash_routes")
# The ranges settings_of (app/services/tracking.py) accepts.
TRACKING_NUMBERS = {"visit_timeout_minutes": (1, 24 * 60), "retention_days": (1, 3650)}
MAX_STRIP_PARAMS = 50
MAX_CONVERSION_EVENTS = 50
PARAM_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,100}$")
TRACKING_LABELS = {
    "enabled": N_("Keep a trail"), "respect_dnt": N_("Respect Do Not Track"),
    "anonymize_ip": N_("Anonymise IP addresses"), "strip_params": N_("Stripped URL parameters"),
    "visit_timeout_minutes": N_("Visit timeout"), "retention_days": N_("Retention"),
    "conversion_events": N_("Conversion events"), "hash_routes": N_("Hash routes are pages"),
    "route_params": N_("Query parameters that make a page"),
}
# The refusals that name a unit or a list's kind (one message each, so that each is translated whole).
TRACKING_RANGE = {
    "visit_timeout_minutes": N_("%(label)s is a whole number of minutes from %(low)s to %(high)s."),
    "retention_days": N_("%(label)s is a whole number of days from %(low)s to %(high)s."),
}
TRACKING_TOO_MANY = {
    "strip_params": N_("At most %(most)s stripped url parameters."),
    "conversion_events": N_("At most %(most)s conversion events."),
    "route_params": N_("At most %(most)s query parameters that make a page."),
}


def check_tracking(values: Any) -> dict[str, Any]:
    """Tracking settings as `Site.settings["tracking"]` keeps them, checked key by key (a message
    names its field): flags are true/false, numbers whole and in range, parameter and event names
    well formed. Unknown keys are refused."""
    if not isinstance(values, dict):
        raise ServiceError("bad_request", "The tracking settings are an object.")
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key in TRACKING_FLAGS:
            if not isinstance(value, bool):
                raise ServiceError("bad_request", "%(label)s is true or false.", key,
                                   label=Words(TRACKING_LABELS[key]))
            checked[key] = value
        elif key in TRACKING_NUMBERS:
            low, high = TRACKING_NUMBERS[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ServiceError("bad_request", TRACKING_RANGE[key], key, label=Words(TRACKING_LABELS[key]),
                                   low=low, high=high)
            checked[key] = value
        elif key == "strip_params":
            checked[key] = _names(value, key, PARAM_NAME, MAX_STRIP_PARAMS,
                                  N_("a query parameter name (letters, digits, _ . - [ ], at most 100)"))
        elif key == "conversion_events":
            checked[key] = _names(value, key, tracking.EVENT_NAME, MAX_CONVERSION_EVENTS,
                                  N_("an event name (letters, digits, _ . : -, at most 64)"))
        elif key == "route_params":
            checked[key] = _names(value, key, tracking.ROUTE_PARAM, tracking.MAX_ROUTE_PARAMS,
                                  N_("a query parameter name (letters, digits, _ . - [ ], at most 64)"))
        else:
            raise ServiceError("bad_request", "%(key)s is not a tracking setting (%(keys)s).",
                               key=repr(str(key)[:40]), keys=", ".join(TRACKING_LABELS))
    return checked


def _names(value: Any, key: str, pattern: re.Pattern, most: int, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ServiceError("bad_request", "%(label)s are a list of names.", key, label=Words(TRACKING_LABELS[key]))
    names: list[str] = []
    for name in value:
        if not pattern.match(name):
            raise ServiceError("bad_request", "%(name)s is not %(what)s.", key, name=repr(name[:40]), what=Words(what))
        if name not in names:
            names.append(name)
    if len(names) > most:
        raise ServiceError("bad_request", TRACKING_TOO_MANY[key], key, most=most)
    return names


def tracking_values(site: Site) -> dict[str, Any]:
    """The site's tracking settings in effect (defaults filled in), as plain values."""
    current = tracking.settings_of(site)
    return {"enabled": current.enabled, "respect_dnt": current.respect_dnt, "anonymize_ip": current.anonymize_ip,
            "strip_params": list(current.strip_params), "visit_timeout_minutes": current.visit_timeout_minutes,
            "retention_days": current.retention_days, "conversion_events": list(current.conversion_events),
            "hash_routes": current.hash_routes, "route_params": list(current.route_params)}


async def update_settings(actor: User | None, site: Site, changes: Any, *, action: str = "site_settings") -> dict:
    """Merge `changes` into the site's settings, one level deep per section (`invitations`,
    `tracking` — checked by `check_tracking` —, or a top-level value such as `sticky_seconds`).
    Audited as `action` with what changed; returns the settings."""
    if not isinstance(changes, dict):
        raise ServiceError("bad_request", "The settings are a JSON object.")
    current = dict(site.settings) if isinstance(site.settings, dict) else {}
    merged = dict(current)
    for key, value in changes.items():
        if key == "widget":  # checked by app/services/widget_settings.py (`admin.update_site_settings`)
            raise ServiceError("bad_request", "The widget's settings are changed through widget_settings.")
        if key in SETTINGS_SECTIONS:
            if not isinstance(value, dict):
                raise ServiceError("bad_request", "%(key)s is an object of settings.", key=key)
            if key == "tracking":
                value = check_tracking(value)
            merged[key] = {**(current.get(key) or {}), **value}
        else:
            merged[key] = value
    await Site.filter(id=site.id).update(settings=merged)
    site.settings = merged
    before, after = audit.changed(current, merged)
    if after:
        await audit.record(actor, action, subject=f"site:{site.id}", before=before, after=after, name=site.name)
        await changed(site)
    return merged


async def update_tracking(actor: User | None, site_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The privacy page: replace the site's tracking settings with `values` (every setting),
    audited as `privacy_update` with the settings that changed. Returns the settings in effect."""
    site = await _get(site_id)
    checked = check_tracking(values)
    missing = [key for key in TRACKING_LABELS if key not in checked]
    if missing:
        raise ServiceError("bad_request", "%(label)s is missing.", missing[0],
                           label=Words(TRACKING_LABELS[missing[0]]))
    before = tracking_values(site)
    current = dict(site.settings) if isinstance(site.settings, dict) else {}
    current["tracking"] = checked
    await Site.filter(id=site.id).update(settings=current)
    site.settings = current
    old, new = audit.changed(before, tracking_values(site))
    if new:
        await audit.record(actor, "privacy_update", subject=f"site:{site.id}", before=old, after=new, name=site.name)
        await changed(site)
    return tracking_values(site)
