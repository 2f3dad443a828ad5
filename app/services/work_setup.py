"""What admins set up for work orders: handling teams, the two-level category taxonomy (also the
contact classification), and SLA policies by category × priority.

Every value is checked before anything is stored; a refusal names the field it is about
(`ServiceError.field`); every change is audited with what it was and what it became.
"""

from __future__ import annotations

from typing import Any

from app import runtime
from app.models import SlaPolicy, Team, User, WorkCategory
from app.routing import hours
from app.i18n import N_
from app.services import ServiceError, Words, audit
from app.workorders import sla
from app.workorders.workflow import PRIORITIES

MAX_MINUTES = 365 * 24 * 60


def _refuse(field: str, message: str, **values: object) -> ServiceError:
    return ServiceError("bad_request", message, field, **values)


def _name(value: object, field: str = "name", most: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _refuse(field, "A name is needed.")
    if len(value.strip()) > most:
        raise _refuse(field, "At most %(most)s characters.", most=most)
    return value.strip()


# -- teams -----------------------------------------------------------------------------------------

def team_view(team: Team, member_ids: list[int] | None = None) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "description": team.description, "lead_id": team.lead_id,
            "business_hours": team.business_hours, "time_zone": team.time_zone, "holidays": team.holidays or [],
            "members": member_ids if member_ids is not None else []}


async def teams() -> list[dict[str, Any]]:
    rows = await Team.all().prefetch_related("members")
    return [team_view(t, sorted(m.id for m in t.members)) for t in rows]


async def team_members(team_id: int) -> list[int]:
    return sorted(await User.filter(teams__id=team_id, is_active=True).values_list("id", flat=True))


async def teams_of(user_id: int) -> frozenset[int]:
    return frozenset(await Team.filter(members__id=user_id).values_list("id", flat=True))


async def save_team(actor: User | None, values: dict[str, Any], team_id: int | None = None) -> Team:
    """Create (team_id None) or change a team: name, description, lead (a member or not), business
    hours with their time zone and holidays, members (user ids)."""
    name = _name(values.get("name"))
    clash = Team.filter(name=name)
    if team_id is not None:
        clash = clash.exclude(id=team_id)
    if await clash.exists():
        raise _refuse("name", "A team of this name exists.")
    description = values.get("description") or ""
    if not isinstance(description, str) or len(description) > 300:
        raise _refuse("description", "At most 300 characters.")
    business_hours = values.get("business_hours") or None
    if business_hours is not None:
        if not isinstance(business_hours, str):
            raise _refuse("business_hours", "Business hours are a text like “mon-fri 09:00-17:00”.")
        try:
            hours.parse(business_hours, strict=True)
        except hours.HoursError as exc:
            raise _refuse("business_hours", str(exc)) from None
    zone = values.get("time_zone") or None
    if zone is not None:
        try:
            zone = hours.time_zone(str(zone))
        except hours.HoursError as exc:
            raise _refuse("time_zone", str(exc)) from None
    holidays = values.get("holidays") or []
    if isinstance(holidays, str):
        try:
            holidays = hours.parse_holidays(holidays)
        except hours.HoursError as exc:
            raise _refuse("holidays", str(exc)) from None
    if not isinstance(holidays, list):
        raise _refuse("holidays", "Holidays are lines like “2026-12-25 closed”.")
    members = values.get("members") or []
    if not isinstance(members, list) or not all(type(m) is int for m in members):
        raise _refuse("members", "Members are user ids.")
    found = set(await User.filter(id__in=members, is_active=True).exclude(role="marketer").values_list("id", flat=True))
    if found != set(members):
        raise _refuse("members", "Only active staff can be members.")
    lead_id = values.get("lead_id")
    if lead_id is not None:
        if type(lead_id) is not int or not await User.filter(id=lead_id, is_active=True,
                                                             role__in=("supervisor", "admin", "handler", "agent")).exists():
            raise _refuse("lead_id", "No such user.")
    fields = {"name": name, "description": description.strip(), "business_hours": business_hours, "time_zone": zone,
              "holidays": holidays, "lead_id": lead_id}
    if team_id is None:
        team = await Team.create(**fields)
        before: dict[str, Any] = {}
    else:
        team = await Team.get_or_none(id=team_id)
        if team is None:
            raise ServiceError("not_found", "No such team.")
        before = team_view(team, await team_members(team.id))
        await Team.filter(id=team.id).update(**fields)
        team = await Team.get(id=team.id)
    current = set(await User.filter(teams__id=team.id).values_list("id", flat=True))
    if set(members) != current:
        await team.members.clear()
        if members:
            await team.members.add(*await User.filter(id__in=members))
    after = team_view(team, sorted(members))
    was, now = audit.changed(before, after)
    await audit.record(actor, "team_create" if team_id is None else "team_update", subject=f"team:{team.id}",
                       name=team.name, before=was, after=now)
    return team


async def schedule_of(team_id: int | None) -> hours.Schedule:
    """The schedule an order's SLA clock runs in: its team's hours in its time zone (else the
    center's, CENTER_TIME_ZONE); without a team, always open."""
    from_team = await Team.get_or_none(id=team_id) if team_id is not None else None
    if from_team is None:
        return hours.schedule(None, "UTC", [])
    zone = from_team.time_zone or runtime.current().settings.center_time_zone
    return hours.schedule(from_team.business_hours, zone, from_team.holidays)


# -- categories ------------------------------------------------------------------------------------

def category_view(c: WorkCategory) -> dict[str, Any]:
    return {"id": c.id, "parent_id": c.parent_id, "name": c.name, "position": c.position, "active": c.active}


async def categories(*, active_only: bool = False) -> list[dict[str, Any]]:
    """Every category, parents first, each with its `path` (“Complaint › Delivery”)."""
    query = WorkCategory.all()
    if active_only:
        query = query.filter(active=True)
    rows = await query
    by_id = {c.id: c for c in rows}
    out = []
    for c in rows:
        view = category_view(c)
        parent = by_id.get(c.parent_id) if c.parent_id else None
        if c.parent_id and parent is None:
            continue  # its parent is inactive: so is it, for pickers
        view["path"] = f"{parent.name} › {c.name}" if parent else c.name
        out.append(view)
    out.sort(key=lambda v: v["path"].lower())
    return out


async def save_category(actor: User | None, values: dict[str, Any], category_id: int | None = None) -> WorkCategory:
    """Create or rename a category; a child's parent must be a top-level category (two levels).
    A change keeps the parent and the active flag that `values` does not name."""
    current = await WorkCategory.get_or_none(id=category_id) if category_id is not None else None
    if category_id is not None and current is None:
        raise ServiceError("not_found", "No such category.")
    name = _name(values.get("name"))
    parent_id = values.get("parent_id", current.parent_id if current else None)
    if parent_id is not None:
        parent = await WorkCategory.get_or_none(id=parent_id) if type(parent_id) is int else None
        if parent is None:
            raise _refuse("parent_id", "No such category.")
        if parent.parent_id is not None:
            raise _refuse("parent_id", "Categories have two levels: pick a top-level category.")
        if category_id is not None and parent.id == category_id:
            raise _refuse("parent_id", "A category cannot be its own parent.")
    if category_id is not None and parent_id is not None \
            and await WorkCategory.filter(parent_id=category_id).exists():
        raise _refuse("parent_id", "This category has sub-categories: it stays at the top level.")
    clash = WorkCategory.filter(name=name, parent_id=parent_id)
    if category_id is not None:
        clash = clash.exclude(id=category_id)
    if await clash.exists():
        raise _refuse("name", "A category of this name exists here.")
    active = values.get("active", current.active if current else True)
    if not isinstance(active, bool):
        raise _refuse("active", "Active is yes or no.")
    if category_id is None:
        category = await WorkCategory.create(name=name, parent_id=parent_id, active=active,
                                             position=int(values.get("position") or 0))
        await audit.record(actor, "category_create", subject=f"category:{category.id}", name=name,
                           parent_id=parent_id)
        return category
    category = await WorkCategory.get_or_none(id=category_id)
    if category is None:
        raise ServiceError("not_found", "No such category.")
    before = category_view(category)
    await WorkCategory.filter(id=category.id).update(name=name, parent_id=parent_id, active=active)
    category = await WorkCategory.get(id=category.id)
    was, now = audit.changed(before, category_view(category))
    await audit.record(actor, "category_update", subject=f"category:{category.id}", name=name, before=was, after=now)
    return category


async def category_of(category_id: object, *, field: str = "category_id") -> WorkCategory | None:
    """An active category by id (None for None), or a refusal naming `field`."""
    if category_id is None or category_id == "":
        return None
    if type(category_id) is not int:
        raise _refuse(field, "Pick a category from the list.")
    category = await WorkCategory.get_or_none(id=category_id, active=True)
    if category is None:
        raise _refuse(field, "No such category.")
    return category


# -- SLA policies ----------------------------------------------------------------------------------

def policy_view(p: SlaPolicy) -> dict[str, Any]:
    return {"id": p.id, "category_id": p.category_id, "priority": p.priority,
            "first_response_minutes": p.first_response_minutes, "resolution_minutes": p.resolution_minutes}


async def policies() -> list[dict[str, Any]]:
    return [policy_view(p) for p in await SlaPolicy.all().order_by("id")]


def _minutes(values: dict, field: str, label: str) -> int | None:
    value = values.get(field)
    if value is None or value == "":
        return None
    if type(value) is not int or not 1 <= value <= MAX_MINUTES:
        raise _refuse(field, "%(label)s is a whole number of minutes from 1 to %(most)s.",
                      label=Words(label), most=MAX_MINUTES)
    return value


async def save_policy(actor: User | None, values: dict[str, Any], policy_id: int | None = None) -> SlaPolicy:
    category = await category_of(values.get("category_id"))
    priority = values.get("priority") or None
    if priority is not None and priority not in PRIORITIES:
        raise _refuse("priority", "Priority is low, normal, high or urgent.")
    first = _minutes(values, "first_response_minutes", N_("First response"))
    resolution = _minutes(values, "resolution_minutes", N_("Resolution"))
    if first is None and resolution is None:
        raise _refuse("resolution_minutes", "Give a first-response or a resolution target.")
    clash = SlaPolicy.filter(category_id=category.id if category else None, priority=priority)
    if policy_id is not None:
        clash = clash.exclude(id=policy_id)
    if await clash.exists():
        raise _refuse("category_id", "A policy for this category and priority exists.")
    fields = {"category_id": category.id if category else None, "priority": priority,
              "first_response_minutes": first, "resolution_minutes": resolution}
    if policy_id is None:
        policy = await SlaPolicy.create(**fields)
    else:
        if not await SlaPolicy.filter(id=policy_id).update(**fields):
            raise ServiceError("not_found", "No such policy.")
        policy = await SlaPolicy.get(id=policy_id)
    await audit.record(actor, "sla_policy_save", subject=f"sla_policy:{policy.id}", after=policy_view(policy))
    return policy


async def delete_policy(actor: User | None, policy_id: int) -> None:
    if not await SlaPolicy.filter(id=policy_id).delete():
        raise ServiceError("not_found", "No such policy.")
    await audit.record(actor, "sla_policy_delete", subject=f"sla_policy:{policy_id}")


async def policy_for(category: WorkCategory | None, priority: str) -> sla.Policy | None:
    rows = [sla.Policy(p.category_id, p.priority, p.first_response_minutes, p.resolution_minutes)
            for p in await SlaPolicy.all()]
    return sla.pick(rows, category.id if category else None, category.parent_id if category else None, priority)
