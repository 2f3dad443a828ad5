"""Departments (queues) and the general queue's hours: created and edited by admins on
/admin/departments and by the CLI (`create-department`), through `save` and `save_general_hours`.

Every value is checked before anything is stored; a refusal names the field it is about
(`ServiceError.field`). A change reaches routing at once on every worker: the routing store (shared
in Redis when there is one) is rewritten for the department's members and its waiting chats, and
availability (hours, members) is read from the database on each request. Every change is audited
with what it was and what it became.
"""

from __future__ import annotations

from app.i18n import N_
import re
from typing import Any

from tortoise.transactions import in_transaction

from app import bus, runtime
from app.clock import utcnow
from app.models import Conversation, Department, Site, User
from app.routing import hours
from app.routing.policy import DEFAULT_STRATEGY, STRATEGIES
from app.services import ServiceError, Words, audit, routing, routing_state, scope

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
STAFF_ROLES = ("agent", "supervisor", "admin")

# What `save` takes, with the defaults of a new department.
DEFAULTS: dict[str, Any] = {
    "name": "", "routing_strategy": DEFAULT_STRATEGY, "sticky_seconds": 0, "offer_seconds": 0,
    "missed_offers_limit": 3, "sl_threshold_seconds": None, "business_hours": None, "time_zone": None,
    "holidays": [], "max_wait_seconds": None, "route_pages": [], "priority": 0, "route_languages": [],
    "default_max_chats": None, "classification": "off", "accept_after_hours": False,
}
# Closing a chat asks for a contact category: never, optionally, or always (app/services/classification.py).
CLASSIFICATION = {"off": "Off", "optional": "Optional", "required": "Required"}
# Whole-number settings: (field, label, minimum, maximum, may be empty).
NUMBERS = (
    ("sticky_seconds", N_("Sticky seconds"), 0, 3600, False),
    ("offer_seconds", N_("Offer seconds"), 0, 300, False),
    ("missed_offers_limit", N_("Missed-offer limit"), 0, 100, False),
    ("sl_threshold_seconds", N_("SL threshold"), 1, 3600, True),
    ("max_wait_seconds", N_("Maximum wait"), 5, 86400, True),
    ("priority", N_("Priority"), 0, 100, False),
    ("default_max_chats", N_("Default capacity"), 1, 50, True),
)


def _refuse(field: str, message: str, **values: object) -> ServiceError:
    return ServiceError("bad_request", message, field, **values)


def _number(values: dict, field: str, label: str, low: int, high: int, optional: bool) -> int | None:
    value = values.get(field)
    if value is None or value == "":
        if optional:
            return None
        raise _refuse(field, "%(label)s is needed.", label=Words(label))
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(field, "%(label)s must be a whole number.", label=Words(label))
    if not low <= value <= high:
        raise _refuse(field, "%(label)s must be between %(low)s and %(high)s.", label=Words(label), low=low, high=high)
    return value


def _strings(values: dict, field: str) -> list[str]:
    value = values.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _refuse(field, "A list of texts is expected.")
    return [v.strip() for v in value if v.strip()]


async def check(values: dict, *, site_id: int, department_id: int | None = None) -> dict[str, Any]:
    """The department's fields as stored, or ServiceError naming the first field that is wrong."""
    out: dict[str, Any] = {}
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _refuse("name", "A department needs a name.")
    if len(name.strip()) > 200:
        raise _refuse("name", "At most 200 characters.")
    out["name"] = name.strip()
    clash = Department.filter(site_id=site_id, name=out["name"])
    if department_id is not None:
        clash = clash.exclude(id=department_id)
    if await clash.exists():
        raise ServiceError("conflict", "This site has a department %(name)s already.", "name",
                           name=repr(out["name"]))
    strategy = values.get("routing_strategy") or DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        raise _refuse("routing_strategy", "The strategy must be one of %(strategies)s.",
                      strategies=", ".join(STRATEGIES))
    out["routing_strategy"] = strategy
    for field, label, low, high, optional in NUMBERS:
        out[field] = _number(values, field, label, low, high, optional)
    business_hours = values.get("business_hours")
    if business_hours is not None and not isinstance(business_hours, str):
        raise _refuse("business_hours", "Business hours are a text such as mon-fri 09:00-17:00.")
    business_hours = (business_hours or "").strip() or None
    if business_hours is not None:
        if len(business_hours) > 200:
            raise _refuse("business_hours", "At most 200 characters.")
        try:
            hours.parse(business_hours, strict=True)
        except hours.HoursError as exc:
            raise _refuse("business_hours", str(exc)) from None
    out["business_hours"] = business_hours
    zone = values.get("time_zone")
    if zone not in (None, ""):
        try:
            zone = hours.time_zone(zone if isinstance(zone, str) else "")
        except hours.HoursError as exc:
            raise _refuse("time_zone", str(exc)) from None
    out["time_zone"] = zone or None
    out["holidays"] = _holidays(values.get("holidays"))
    pages = _strings(values, "route_pages")
    if any(not p.startswith("/") or len(p) > 200 for p in pages) or len(pages) > 50:
        raise _refuse("route_pages", "A page pattern is a path such as /pricing* (at most 200 characters, 50 patterns).")
    out["route_pages"] = pages
    languages = [tag.lower() for tag in _strings(values, "route_languages")]
    if any(not LANGUAGE_TAG.match(tag) for tag in languages) or len(languages) > 50:
        raise _refuse("route_languages", "A language is a tag such as de or fr-ch.")
    out["route_languages"] = languages
    classification = values.get("classification") or "off"
    if classification not in CLASSIFICATION:
        raise _refuse("classification", "Contact category on close is off, optional or required.")
    out["classification"] = classification
    accept = values.get("accept_after_hours", False)
    if not isinstance(accept, bool):
        raise _refuse("accept_after_hours", "Accepting chats outside business hours is yes or no.")
    out["accept_after_hours"] = accept
    return out


def _holidays(value: Any) -> list[dict]:
    """Holidays as given: the lines people write (a text) or the stored list."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        value = hours.holidays_text(value) if all(isinstance(v, dict) for v in value) else None
    if not isinstance(value, str):
        raise _refuse("holidays", "Holidays are lines such as 2026-12-25 closed.")
    if len(value) > 20_000:
        raise _refuse("holidays", "Too long.")
    try:
        return hours.parse_holidays(value)
    except hours.HoursError as exc:
        raise _refuse("holidays", str(exc)) from None


async def _members(members: Any) -> dict[int, int]:
    """{user id: skill level} of active staff, or ServiceError on the `members` field."""
    if members is None:
        return {}
    if not isinstance(members, dict):
        raise _refuse("members", "Members are CSRs with a skill level.")
    out: dict[int, int] = {}
    for user_id, level in members.items():
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
            raise _refuse("members", "A skill level is a whole number from 1 to 10.")
        out[int(user_id)] = level
    if out:
        found = set(await User.filter(id__in=list(out), is_active=True, role__in=STAFF_ROLES)
                    .values_list("id", flat=True))
        if found != set(out):
            raise _refuse("members", "A member is not an active CSR, supervisor or admin.")
    return out


def _view(department: Department) -> dict[str, Any]:
    return {k: getattr(department, k) for k in DEFAULTS}


async def members_of(department_id: int) -> dict[int, int]:
    """{user id: skill level (1 when none is set)} of the department's members."""
    rows = await User.filter(departments__id=department_id).values("id", "skills")
    key = str(department_id)
    return {r["id"]: (r["skills"] or {}).get(key, 1) if isinstance(r["skills"], dict) else 1 for r in rows}


async def save(actor: User | None, site_id: int, values: dict, members: dict | None = None, *,
               department_id: int | None = None) -> Department:
    """Create (department_id None) or edit a department of a site. `members` None leaves an
    existing department's members as they are; else it is {user id: skill level}."""
    site = await Site.get_or_none(id=site_id)
    if site is None:
        raise ServiceError("not_found", "No such site.", "site_id")
    department = None
    if department_id is not None:
        department = await Department.get_or_none(id=department_id, site_id=site_id)
        if department is None:
            raise ServiceError("not_found", "No such department.")
    fields = await check({**(_view(department) if department else DEFAULTS), **values},
                         site_id=site_id, department_id=department_id)
    wanted = await _members(members) if members is not None else None
    before_members = await members_of(department.id) if department is not None else {}
    before = {**_view(department), "members": _named(before_members)} if department is not None else {}
    async with in_transaction():
        if department is None:
            department = await Department.create(site_id=site_id, **fields)
        else:
            await Department.filter(id=department.id).update(**fields)
            for key, value in fields.items():
                setattr(department, key, value)
        if wanted is not None:
            await _set_members(department, before_members, wanted)
    after_members = await members_of(department.id)
    after = {**_view(department), "members": _named(after_members)}
    old, new = audit.changed({k: _plain(v) for k, v in before.items()}, {k: _plain(v) for k, v in after.items()})
    if before:
        if old or new:
            await audit.record(actor, "department_update", subject=f"department:{department.id}",
                               name=department.name, before=old, after=new)
    else:
        await audit.record(actor, "department_create", subject=f"department:{department.id}", name=department.name,
                           site=site.name, after=new)
    await _reroute(department.id, set(before_members) | set(after_members))
    for user_id in set(before_members) - set(after_members):  # a supervisor's reach shrank
        await scope.leave_out_of_reach(user_id)
    return department


def _named(members: dict[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(members.items())}


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


async def _set_members(department: Department, before: dict[int, int], wanted: dict[int, int]) -> None:
    gone = [i for i in before if i not in wanted]
    if gone:
        await department.users.remove(*await User.filter(id__in=gone))
    new = [i for i in wanted if i not in before]
    if new:
        await department.users.add(*await User.filter(id__in=new))
    key = str(department.id)
    for user in await User.filter(id__in=list(set(before) | set(wanted))):
        skills = dict(user.skills) if isinstance(user.skills, dict) else {}
        if user.id in wanted:
            skills[key] = wanted[user.id]
        else:
            skills.pop(key, None)
        if skills != user.skills:
            await User.filter(id=user.id).update(skills=skills)


async def _reroute(department_id: int, user_ids: set[int]) -> None:
    """Routing follows the change now: members' queues and capacities, the waiting chats'
    strategy and stickiness; then a routing pass and the boards."""
    for user_id in sorted(user_ids):
        await routing_state.sync_agent(user_id)
    for chat_id in await Conversation.filter(department_id=department_id, status="waiting").values_list("id", flat=True):
        await routing_state.sync_chat(chat_id)
    routing.schedule()
    await bus.board_changed("department")


# -- the general queue's hours (per site, in the site's settings) -------------------------------

async def general_hours(site: Site) -> dict[str, Any]:
    settings = site.settings if isinstance(site.settings, dict) else {}
    stored = settings.get("general_queue") if isinstance(settings.get("general_queue"), dict) else {}
    return {"business_hours": stored.get("business_hours"), "time_zone": stored.get("time_zone"),
            "holidays": stored.get("holidays") or []}


async def save_general_hours(actor: User | None, site_id: int, values: dict) -> dict[str, Any]:
    """The hours of a site's general queue (chats with no department): business hours, time zone, holidays."""
    site = await Site.get_or_none(id=site_id)
    if site is None:
        raise ServiceError("not_found", "No such site.")
    checked = await check({**DEFAULTS, "name": "general", **values}, site_id=-1)
    new = {k: checked[k] for k in ("business_hours", "time_zone", "holidays")}
    before = await general_hours(site)
    settings = dict(site.settings) if isinstance(site.settings, dict) else {}
    settings["general_queue"] = new
    await Site.filter(id=site.id).update(settings=settings)
    old, changed = audit.changed(before, new)
    if old or changed:
        await audit.record(actor, "general_hours_update", subject=f"site:{site.id}", name=site.name,
                           before=old, after=changed)
    await bus.board_changed("department")
    return new


def schedule_of(business_hours: str | None, time_zone: str | None, holidays: list | None) -> hours.Schedule:
    """A queue's schedule, in its own time zone or else the center's."""
    return hours.schedule(business_hours, time_zone or runtime.current().settings.center_time_zone, holidays)


def opens_next(business_hours: str | None, time_zone: str | None, holidays: list | None):
    """When the queue opens next (now, when it is open), or None: never within a year."""
    return hours.next_open(schedule_of(business_hours, time_zone, holidays), utcnow())


def open_now(business_hours: str | None, time_zone: str | None, holidays: list | None) -> bool:
    return schedule_of(business_hours, time_zone, holidays).open_at(utcnow())
