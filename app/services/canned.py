"""Canned responses: the saved replies CSRs insert by shortcut (`/refund`), and every change to them.

Who uses which (`usable`): chat staff (CSRs, supervisors, admins) use their own personal responses,
the responses of the departments they are members of (`User.departments`) and the global ones.
Marketers and back-office handlers use none (`forbidden`).

Who writes which (`may_write`; create, edit, delete):
- personal: its owner only — any chat staff member writes their own, nobody else's (not even an
  admin: another user's personal response answers `not_found`, as if it did not exist).
- department: supervisors who are members of that department, and admins (any department).
- global: admins only.
A response the user may not even use answers `not_found`; one they use but may not write,
`forbidden`. An admin's list for the Canned responses page (`manageable`) also carries the
department responses of departments they are not a member of, which they write but do not use.

A shortcut is 1–40 letters, digits, "-" or "_" (stored without the leading "/"), unique — whatever
its case — per owner of its scope: per user (personal), per department, and among the global ones.
Two saves that would make a duplicate at the same moment are decided one after the other (a
transaction-scoped advisory lock on PostgreSQL; SQLite runs one write transaction at a time).
A title is at most 100 characters, a body 1–5,000 (a chat message's limit): app/knowledge/canned.py.

Using one (`use`) fills its variables for a conversation the user may read (app/services/scope.py),
counts it (`usage_count`, incremented in the database, never read-modify-write) and records a
`canned_used` knowledge event (what the content report's "most used canned responses" reads).
"""

from __future__ import annotations

import zlib
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.clock import utcnow
from app.knowledge import canned as rules
from app.models import CannedResponse, Department, Site, User, Visitor
from app.i18n import N_
from app.services import ServiceError, Words, knowledge, scope

SCOPES = {"personal": "Personal", "department": "Team", "global": "Global"}
CHAT_ROLES = ("agent", "supervisor", "admin")
EDITABLE = ("shortcut", "title", "body", "scope", "department_id")


def _refuse(field: str | None, message: str, code: str = "bad_request", **values: object) -> ServiceError:
    return ServiceError(code, message, field, **values)


def _check_staff(user: User) -> None:
    if user.role not in CHAT_ROLES or not user.is_active:
        raise ServiceError("forbidden", "Canned responses are for the staff who chat.")


async def _member_of(user: User) -> set[int]:
    return set(await Department.filter(users__id=user.id).values_list("id", flat=True))


# -- who uses, who writes ----------------------------------------------------------------------------

def _usable_filter(user: User, departments: set[int]) -> Q:
    return (Q(scope="personal", owner_id=user.id) | Q(scope="department", department_id__in=list(departments))
            | Q(scope="global"))


def _uses(user: User, response: CannedResponse, departments: set[int]) -> bool:
    if response.scope == "personal":
        return response.owner_id == user.id
    if response.scope == "department":
        return response.department_id in departments
    return response.scope == "global"


def may_write(user: User, scope_name: str, *, owner_id: int | None, department_id: int | None,
              departments: set[int]) -> bool:
    """Whether `user` (chat staff, whose departments are `departments`) writes a response of this scope."""
    if scope_name == "personal":
        return owner_id == user.id
    if scope_name == "department":
        return user.role == "admin" or user.role == "supervisor" and department_id in departments
    return scope_name == "global" and user.role == "admin"


def _writes(user: User, response: CannedResponse, departments: set[int]) -> bool:
    return may_write(user, response.scope, owner_id=response.owner_id, department_id=response.department_id,
                     departments=departments)


async def writable_departments(user: User) -> list[Department]:
    """The departments whose responses `user` writes: every one for admins, their own for supervisors."""
    if user.role == "admin":
        return await Department.all().order_by("name", "id").prefetch_related("site")
    if user.role == "supervisor":
        return await Department.filter(users__id=user.id).order_by("name", "id").prefetch_related("site")
    return []


async def rights(user: User) -> dict[str, bool]:
    """Which scopes `user` may create responses in."""
    _check_staff(user)
    return {"personal": True, "department": bool(await writable_departments(user)), "global": user.role == "admin"}


# -- reading -----------------------------------------------------------------------------------------

async def usable(user: User) -> list[CannedResponse]:
    """The responses `user` may use, by shortcut."""
    _check_staff(user)
    departments = await _member_of(user)
    return await CannedResponse.filter(_usable_filter(user, departments)) \
        .order_by("shortcut", "id").prefetch_related("department")


async def manageable(user: User) -> list[CannedResponse]:
    """`usable`, and for admins every department's responses (which they write): the page's list."""
    _check_staff(user)
    departments = await _member_of(user)
    wanted = _usable_filter(user, departments)
    if user.role == "admin":
        wanted |= Q(scope="department")
    return await CannedResponse.filter(wanted).order_by("shortcut", "id").prefetch_related("department")


async def view(user: User, responses: list[CannedResponse]) -> list[dict[str, Any]]:
    """The responses as the API shows them, with whether `user` uses and writes each."""
    departments = await _member_of(user)
    sites = dict(await Site.all().values_list("id", "name"))
    return [{
        # A shortcut is stored without its "/"; one written by hand with it still reads as a shortcut.
        "id": r.id, "scope": r.scope, "shortcut": r.shortcut.lstrip("/"), "title": r.title, "body": r.body,
        "usage_count": r.usage_count,
        "department": {"id": r.department.id, "name": r.department.name, "site": sites.get(r.department.site_id, "")}
        if r.scope == "department" and r.department is not None else None,
        "usable": _uses(user, r, departments), "editable": _writes(user, r, departments),
        "variables": rules.variables_in(r.body),
    } for r in responses]


async def get(user: User, response_id: object, *, departments: set[int] | None = None) -> CannedResponse:
    """A response `user` uses or writes; `not_found` otherwise (another user's personal response,
    another department's for a non-admin, an unknown id)."""
    _check_staff(user)
    if type(response_id) is not int or not 0 < response_id < 2**31:
        raise ServiceError("not_found", "No such canned response.")
    response = await CannedResponse.get_or_none(id=response_id)
    departments = await _member_of(user) if departments is None else departments
    if response is None or not (_uses(user, response, departments) or _writes(user, response, departments)):
        raise ServiceError("not_found", "No such canned response.")
    return response


# -- checking what is written ------------------------------------------------------------------------

def _text(value: object, field: str, label: str, *, most: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _refuse(field, "%(label)s must be text.", label=Words(label))
    value = value.strip()
    if required and not value:
        raise _refuse(field, "%(label)s is needed.", label=Words(label))
    if len(value) > most:
        raise _refuse(field, "%(label)s: at most %(most)s characters.", label=Words(label), most=format(most, ","))
    return value


def _shortcut(value: object) -> str:
    if not isinstance(value, str):
        raise _refuse("shortcut", "The shortcut must be text.")
    if not value.strip() or value.strip() == "/":
        raise _refuse("shortcut", "The shortcut is needed.")
    found = rules.shortcut(value)
    if found is None:
        raise _refuse("shortcut", "A shortcut is 1 to 40 letters, digits, “-” or “_” (like /refund).")
    return found


async def _owner_of_scope(user: User, values: dict[str, Any], current: CannedResponse | None,
                          departments: set[int]) -> tuple[str, int | None, int | None]:
    """(scope, owner id, department id) of the response as it is to be saved, checked."""
    scope_name = values.get("scope", current.scope if current else "personal")
    if not isinstance(scope_name, str) or scope_name not in SCOPES:
        raise _refuse("scope", "The scope is one of: personal, department, global.")
    raw_department = values.get("department_id", current.department_id if current else None)
    if scope_name != "department":
        if "department_id" in values and values["department_id"] is not None:
            raise _refuse("department_id", "Only a team response has a department.")
        owner = (current.owner_id if current and current.scope == "personal" else user.id) \
            if scope_name == "personal" else None
        if not may_write(user, scope_name, owner_id=owner, department_id=None, departments=departments):
            raise _refuse("scope", N_("Only admins write global responses.") if scope_name == "global"
                          else N_("You may not write this response."), "forbidden")
        return scope_name, owner, None
    if raw_department is None:
        raise _refuse("department_id", "Choose the department.")
    if type(raw_department) is not int or not 0 < raw_department < 2**31:
        raise _refuse("department_id", "A department id is a number.")
    if not await Department.exists(id=raw_department):
        raise _refuse("department_id", "No such department.")
    if not may_write(user, "department", owner_id=None, department_id=raw_department, departments=departments):
        raise _refuse("department_id", "Only supervisors of this department and admins write its responses.",
                      "forbidden")
    return scope_name, None, raw_department


async def _lock_scope(connection, scope_name: str, owner_id: int | None, department_id: int | None) -> None:
    """On PostgreSQL: hold, until the transaction ends, the lock of this scope owner's shortcuts."""
    if connection.capabilities.dialect != "postgres":
        return  # SQLite: one write transaction at a time already
    key = zlib.crc32(f"canned:{scope_name}:{owner_id or 0}:{department_id or 0}".encode()) - 2**31
    await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [key])


async def _check_unique(shortcut: str, scope_name: str, owner_id: int | None, department_id: int | None,
                        exclude_id: int | None) -> None:
    same = CannedResponse.filter(scope=scope_name, shortcut__iexact=shortcut)
    if scope_name == "personal":
        same = same.filter(owner_id=owner_id)
    elif scope_name == "department":
        same = same.filter(department_id=department_id)
    if exclude_id is not None:
        same = same.exclude(id=exclude_id)
    if await same.exists():
        message = {"personal": N_("There is a response /%(shortcut)s of yours already."),
                   "department": N_("There is a response /%(shortcut)s of this team already."),
                   "global": N_("There is a response /%(shortcut)s among the global ones already.")}[scope_name]
        raise _refuse("shortcut", message, "conflict", shortcut=shortcut)


# -- writing -----------------------------------------------------------------------------------------

async def save(user: User, response_id: object, values: object) -> CannedResponse:
    """Create (`response_id` None) or edit a response. An edit changes only the fields it names."""
    _check_staff(user)
    if not isinstance(values, dict):
        raise _refuse(None, "The body is a JSON object.")
    departments = await _member_of(user)
    current = None
    if response_id is not None:
        current = await get(user, response_id, departments=departments)
        if not _writes(user, current, departments):
            raise _refuse(None, "You may use this response but not change it.", "forbidden")
    elif "shortcut" not in values or "body" not in values:
        raise _refuse("shortcut" if "shortcut" not in values else "body",
                      N_("The shortcut is needed.") if "shortcut" not in values else N_("The text is needed."))

    def given(name: str, old: object) -> object:
        return values[name] if name in values else old

    shortcut = _shortcut(given("shortcut", current.shortcut if current else None))
    title = _text(given("title", current.title if current else ""), "title", N_("The title"), most=rules.MAX_TITLE,
                  required=False)
    body = _text(given("body", current.body if current else None), "body", N_("The text"), most=rules.MAX_BODY,
                 required=True)
    scope_name, owner_id, department_id = await _owner_of_scope(user, values, current, departments)
    now = utcnow()
    async with in_transaction() as connection:
        await _lock_scope(connection, scope_name, owner_id, department_id)
        await _check_unique(shortcut, scope_name, owner_id, department_id, current.id if current else None)
        if current is None:
            saved_id = (await CannedResponse.create(
                scope=scope_name, owner_id=owner_id, department_id=department_id, shortcut=shortcut, title=title,
                body=body, created_by_id=user.id, created_at=now, updated_at=now)).id
        else:
            saved_id = current.id
            await CannedResponse.filter(id=saved_id).update(
                scope=scope_name, owner_id=owner_id, department_id=department_id, shortcut=shortcut, title=title,
                body=body, updated_at=now)
    saved = await CannedResponse.get_or_none(id=saved_id).prefetch_related("department")
    if saved is None:  # deleted while it was being edited
        raise ServiceError("not_found", "No such canned response.")
    return saved


async def delete(user: User, response_id: object) -> None:
    _check_staff(user)
    departments = await _member_of(user)
    response = await get(user, response_id, departments=departments)
    if not _writes(user, response, departments):
        raise _refuse(None, "You may use this response but not delete it.", "forbidden")
    await CannedResponse.filter(id=response.id).delete()


# -- using -------------------------------------------------------------------------------------------

async def use(user: User, response_id: object, conversation_id: object) -> dict[str, Any]:
    """The response's text with its variables filled for this conversation; counted and recorded."""
    _check_staff(user)
    if conversation_id is None:
        raise _refuse("conversation_id", "Which conversation?")
    if type(conversation_id) is not int:
        raise _refuse("conversation_id", "A conversation id is a number.")
    departments = await _member_of(user)
    response = await get(user, response_id, departments=departments)
    if not _uses(user, response, departments):
        raise ServiceError("not_found", "No such canned response.")
    if not 0 < conversation_id < 2**31:  # an id the conversation table can hold
        raise ServiceError("not_found", "No such conversation.")
    conversation, _ = await scope.read_conversation(user, conversation_id)
    visitor = await Visitor.get_or_none(id=conversation.visitor_id)
    site = await Site.get_or_none(id=conversation.site_id)
    text = rules.fill(response.body, visitor_name=visitor.name if visitor else None, agent_name=user.display_name,
                      site_name=site.name if site else None)
    async with in_transaction():
        if not await CannedResponse.filter(id=response.id).update(usage_count=F("usage_count") + 1):
            raise ServiceError("not_found", "No such canned response.")  # deleted a moment ago
        await knowledge.record("canned_used", canned_id=response.id, user_id=user.id, conversation_id=conversation.id,
                               site_id=conversation.site_id, source="console")
    return {"id": response.id, "shortcut": response.shortcut, "text": text}
