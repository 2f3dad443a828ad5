"""User accounts: created, edited, deactivated and reactivated by admins on /admin/users and by the
CLI (`create-user`), and the one-time links with which a user sets their own password.

- A user made without a password (the admin page) gets an unusable one — the hash of a secret
  nobody knows — and a one-time **set-password link**, valid LINK_HOURS. Only the link token's
  SHA-256 is stored; the token is shown to the admin once. A new link for the same user ("Reset
  password") makes every unused older one stop working; setting the password uses the link up and
  ends every other session of the user.
- A change of departments, skill levels or capacity reaches routing at once on every worker (the
  routing store — shared in Redis when there is one — is rewritten from the database, then a
  routing pass runs). A change of role reconnects the user's consoles, so each joins the rooms of
  its new role.
- An admin cannot deactivate themselves, and nobody can deactivate or demote the last active admin
  (checked with the admins' rows locked, so two admins demoting each other cannot both succeed).
- Every change is audited (`app/services/audit.py`), with what it was and what it became.

A refusal is a ServiceError whose `field` names the form field it is about.
"""

from __future__ import annotations

from app.i18n import N_
import hashlib
import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from app import bus, i18n, runtime
from app.clock import utcnow
from app.models import Department, PasswordToken, StaffSession, User
from app.models.org import ROLES
from app.security import hash_password
from app.services import ServiceError, Words, agents, audit, routing, routing_state, scope, sessions

# How roles are called on the pages (an "agent" is a CSR there).
ROLE_LABELS = {"agent": N_("CSR"), "supervisor": N_("Supervisor"), "admin": N_("Admin"), "marketer": N_("Marketer"),
               "handler": N_("Back office"), "qa": N_("Quality evaluator")}
# Roles that take chats, hence belong to departments.
STAFF_ROLES = ("agent", "supervisor", "admin")
LINK_HOURS = 72
MAX_EMAIL_CHARS = 254
MAX_NAME_CHARS = 100
SKILL_LEVELS = (1, 10)
CAPACITY = (1, 50)
# A password given directly (the CLI): the rule `create-user` always had. A password set through a
# link follows the account page's rule (sessions.check_new_password).
MIN_DIRECT_PASSWORD_CHARS = 8
MAX_TOKEN_CHARS = 128

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def _refuse(field: str, message: str, code: str = "bad_request", **values: object) -> ServiceError:
    return ServiceError(code, message, field, **values)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- checking values ---------------------------------------------------------------------------

def check_email(email: object) -> str:
    if not isinstance(email, str) or not email.strip():
        raise _refuse("email", "Enter an e-mail address.")
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_CHARS:
        raise _refuse("email", "An e-mail address has at most %(most)s characters.", most=MAX_EMAIL_CHARS)
    if not EMAIL.match(email) or any(ord(c) < 32 or ord(c) == 127 for c in email):
        raise _refuse("email", "%(email)s is not an e-mail address.", email=email)
    return email


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _refuse("name", "Enter a name.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise _refuse("name", "A name has at most %(most)s characters.", most=MAX_NAME_CHARS)
    return name


def check_role(role: object) -> str:
    if role not in ROLES:
        raise _refuse("role", "Choose a role from the list: %(roles)s.", roles=", ".join(ROLE_LABELS[r] for r in ROLES))
    return role  # type: ignore[return-value]


def check_capacity(capacity: object) -> int | None:
    if capacity is None:
        return None
    low, high = CAPACITY
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise _refuse("capacity", "Capacity must be a whole number.")
    if not low <= capacity <= high:
        raise _refuse("capacity", "Capacity must be between %(low)s and %(high)s chats (empty: the department default).",
                      low=low, high=high)
    return capacity


async def check_departments(departments: object, role: str) -> dict[int, int]:
    """{department id: skill level}: every department exists, every level is 1 to 10."""
    if departments is None:
        return {}
    if not isinstance(departments, dict):
        raise _refuse("departments", "Choose departments from the list.")
    low, high = SKILL_LEVELS
    members: dict[int, int] = {}
    for department_id, level in departments.items():
        if isinstance(department_id, bool) or not isinstance(department_id, int) or not 0 < department_id < 2**31:
            raise _refuse("departments", "There is no such department: choose departments from the list.")
        if isinstance(level, bool) or not isinstance(level, int) or not low <= level <= high:
            raise _refuse("skill_%s" % department_id, "A skill level is a whole number from %(low)s to %(high)s.",
                          low=low, high=high)
        members[department_id] = level
    if members and role not in STAFF_ROLES:
        if role == "marketer":
            raise _refuse("departments", "Marketers take no chats: leave the departments empty.")
        who = Words(N_("Back-office staff") if role == "handler" else N_("Quality evaluators"))
        raise _refuse("departments", "%(role)s take no chats and belong to no department: leave the departments empty.",
                      role=who)
    known = set(await Department.filter(id__in=list(members)).values_list("id", flat=True)) if members else set()
    if set(members) - known:
        raise _refuse("departments", "There is no such department (it may have just been deleted).")
    return members


EARLIEST_START = date(1970, 1, 1)


def _center_today() -> date:
    """Today in the center's time zone (UTC outside a running server, e.g. the CLI before start-up)."""
    from zoneinfo import ZoneInfo

    found = runtime.installed()
    zone = found.settings.center_time_zone if found is not None else "UTC"
    return datetime.now(ZoneInfo(zone)).date()


def check_started_on(value: object, today: date | None = None) -> date | None:
    """The user's start date (the quality tenure curves count weeks from it): a date like 2026-03-02,
    not in the future (in the center's time zone); None or "" → none (their account's creation counts)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        text = value.strip()
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                raise ValueError
            value = date.fromisoformat(text)
        except ValueError:
            raise _refuse("started_on", "The start date must be a date like 2026-03-02.") from None
    if not isinstance(value, date):
        raise _refuse("started_on", "The start date must be a date like 2026-03-02.")
    if value > (today or _center_today()):
        raise _refuse("started_on", "The start date cannot be in the future.")
    if value < EARLIEST_START:
        raise _refuse("started_on", "The start date cannot be before 1970.")
    return value


async def _email_free(email: str, user_id: int | None = None) -> None:
    taken = User.filter(email__iexact=email)
    if user_id is not None:
        taken = taken.exclude(id=user_id)
    if await taken.exists():
        raise _refuse("email", "A user with the e-mail %(email)s exists already.", "conflict", email=email)


async def _keep_an_admin(target: User, field: str, doing: str) -> None:
    """Within a transaction: refuse when `target` is the last active admin. The admins' rows are
    locked (PostgreSQL), so two admins demoting or deactivating each other are decided one after
    the other; SQLite runs one write transaction at a time anyway."""
    if target.role != "admin" or not target.is_active:
        return
    admins = await User.filter(role="admin", is_active=True).select_for_update()
    if not [a for a in admins if a.id != target.id]:
        raise _refuse(field, "%(name)s is the last active admin: make someone else an admin before you %(doing)s.",
                      "invalid_state", name=target.display_name, doing=Words(doing))


async def _snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of an account."""
    members = await Department.filter(users__id=user.id).values_list("id", flat=True)
    skills = user.skills if isinstance(user.skills, dict) else {}
    return {
        "email": user.email, "name": user.display_name, "role": user.role, "capacity": user.max_chats,
        "departments": {str(d): skills.get(str(d), 1) for d in sorted(members)}, "active": user.is_active,
        # Kept only once set (the start date is optional: the account's creation counts without it).
        **({"started_on": user.started_on.isoformat()} if user.started_on else {}),
    }


async def _set_departments(user: User, members: dict[int, int]) -> None:
    current = set(await Department.filter(users__id=user.id).values_list("id", flat=True))
    gone = current - set(members)
    if gone:
        await user.departments.remove(*await Department.filter(id__in=list(gone)))
    new = set(members) - current
    if new:
        await user.departments.add(*await Department.filter(id__in=list(new)))
    skills = {str(d): level for d, level in sorted(members.items())}
    await User.filter(id=user.id).update(skills=skills)
    user.skills = skills


async def _routing_follows(user_id: int) -> None:
    """The routing store (every worker's, through Redis when shared) takes the account as the
    database now has it; a routing pass may now give them a waiting chat; boards re-read."""
    await routing_state.sync_agent(user_id)
    routing.schedule()
    await bus.board_changed("status")


async def _get(user_id: object) -> User:
    user = await User.get_or_none(id=user_id) if type(user_id) is int and 0 < user_id < 2**31 else None
    if user is None:
        raise ServiceError("not_found", "No such user.")
    return user


# -- accounts ------------------------------------------------------------------------------------

async def create_account(actor: User | None, *, email: object, name: object = None, role: object = "agent",
                         departments: object = None, capacity: object = None,
                         password: str | None = None, started_on: object = None) -> tuple[User, str | None]:
    """A new user. Without `password` (the admin page) they get an unusable one and a one-time
    set-password link: returns (user, link token) — the token is shown once and never stored.
    With one (the CLI), (user, None). `actor` None: the operator on the command line."""
    email = check_email(email)
    name = check_name(email.split("@")[0] if name is None else name)
    role = check_role(role)
    capacity = check_capacity(capacity)
    started_on = check_started_on(started_on)
    members = await check_departments(departments, role)
    if password is not None:
        if not isinstance(password, str) or len(password) < MIN_DIRECT_PASSWORD_CHARS:
            raise _refuse("password", "The password must have at least %(least)s characters.",
                          least=MIN_DIRECT_PASSWORD_CHARS)
        if len(password) > sessions.MAX_PASSWORD_CHARS:
            raise _refuse("password", "The password may have at most %(most)s characters.",
                          most=sessions.MAX_PASSWORD_CHARS)
    await _email_free(email)
    password_hash = hash_password(password if password is not None else secrets.token_urlsafe(32))
    token = None
    try:
        async with in_transaction():
            user = await User.create(email=email, password_hash=password_hash, role=role, display_name=name,
                                     max_chats=capacity, skills={}, started_on=started_on)
            await _set_departments(user, members)
            if password is None:
                token = await _new_link(user, actor, "invite")
    except IntegrityError:  # the same e-mail, added at the same moment
        raise _refuse("email", "A user with the e-mail %(email)s exists already.", "conflict", email=email) from None
    await audit.record(actor, "user_create", target_user_id=user.id, after=await _snapshot(user))
    if token is not None:
        await audit.record(actor, "password_link", target_user_id=user.id, purpose="invite", hours=LINK_HOURS)
    if members:
        await _routing_follows(user.id)
    return user, token


async def set_knowledge_editor(actor: User | None, user_id: int, on: bool) -> None:
    """The "Knowledge editor" permission (writes and publishes articles, app/services/knowledge.py),
    audited like the account's other changes. A marketer never holds it (one who becomes a marketer
    loses it)."""
    target = await User.get_or_none(id=user_id)
    if target is None:
        return
    on = on and target.role != "marketer"
    if bool(target.knowledge_editor) == on:
        return
    await User.filter(id=user_id).update(knowledge_editor=on)
    await audit.record(actor, "user_update", target_user_id=user_id, before={"knowledge_editor": not on},
                       after={"knowledge_editor": on})


async def update_account(actor: User | None, user_id: object, *, name: object, role: object, departments: object,
                         capacity: object, started_on: object = ...) -> User:
    """Name, role, departments with skill levels, capacity, start date (left as it is when not given).
    Routing follows at once."""
    user = await _get(user_id)
    name, role, capacity = check_name(name), check_role(role), check_capacity(capacity)
    started_on = user.started_on if started_on is ... else check_started_on(started_on)
    members = await check_departments(departments, role)
    before = await _snapshot(user)
    demoted = user.role == "admin" and role != "admin"
    if demoted:  # checked again below, with the admins locked
        async with in_transaction():
            await _keep_an_admin(user, "role", N_("change their role"))
    if role not in STAFF_ROLES and user.role in STAFF_ROLES and user.status != "offline":
        # Marketers and back-office staff take no chats: Offline first, which hands theirs back.
        await agents.set_agent_state(user, "offline", "role changed")
    async with in_transaction():
        if demoted:
            await _keep_an_admin(user, "role", N_("change their role"))
        await User.filter(id=user.id).update(display_name=name, role=role, max_chats=capacity, started_on=started_on)
        await _set_departments(user, members)
    role_changed = role != user.role
    user.display_name, user.role, user.max_chats, user.started_on = name, role, capacity, started_on
    old, new = audit.changed(before, await _snapshot(user))
    if new:
        await audit.record(actor, "user_update", target_user_id=user.id, before=old, after=new)
    await _routing_follows(user.id)
    if role_changed:
        # Every console of theirs reconnects (on every worker) and joins the rooms of the new role.
        await bus.disconnect_room(bus.agent_room(user.id))
    else:  # a supervisor who left a department stops following its chats
        await scope.leave_out_of_reach(user.id)
    return user


async def deactivate_account(actor: User | None, user_id: object) -> User:
    """The account can no longer sign in or take chats: signed out everywhere at once, its chats
    re-queued (at the front), its unused set-password links void. History and KPIs stay."""
    if actor is not None and user_id == actor.id:
        raise _refuse("account", "You cannot deactivate your own account.", "invalid_state")
    user = await _get(user_id)
    if not user.is_active:
        raise _refuse("account", "%(name)s is deactivated already.", "invalid_state", name=user.display_name)
    now = utcnow()
    async with in_transaction():
        await _keep_an_admin(user, "account", N_("deactivate them"))
        # Inactive from this moment: every session of theirs stops opening anything now.
        await User.filter(id=user.id).update(is_active=False)
        await PasswordToken.filter(user_id=user.id, used_at=None, expires_at__gt=now).update(expires_at=now)
    await agents.deactivate(user)
    await audit.record(actor, "deactivate", target_user_id=user.id)
    return user


async def reactivate_account(actor: User | None, user_id: object) -> User:
    """The account may sign in again (with its password; a reset gives a new link). It starts Offline."""
    user = await _get(user_id)
    if user.is_active:
        raise _refuse("account", "%(name)s is active already.", "invalid_state", name=user.display_name)
    await User.filter(id=user.id).update(is_active=True)
    user.is_active = True
    await audit.record(actor, "reactivate", target_user_id=user.id)
    await _routing_follows(user.id)
    return user


# -- set-password links --------------------------------------------------------------------------

async def _new_link(user: User, actor: User | None, purpose: str) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # An older link that was not used stops working: only the newest one does.
    await PasswordToken.filter(user_id=user.id, used_at=None, expires_at__gt=now).update(expires_at=now)
    await PasswordToken.create(token_hash=hash_token(token), user_id=user.id, purpose=purpose,
                               created_by_id=actor.id if actor else None, created_at=now,
                               expires_at=now + timedelta(hours=LINK_HOURS))
    return token


async def password_link(actor: User | None, user_id: object) -> tuple[User, str]:
    """"Reset password": a new one-time link (returned once); older unused links stop working. The
    current password keeps working until the link is used."""
    user = await _get(user_id)
    if not user.is_active:
        raise _refuse("account", "%(name)s is deactivated: reactivate them first.", "invalid_state",
                      name=user.display_name)
    async with in_transaction():
        token = await _new_link(user, actor, "reset")
    await audit.record(actor, "password_link", target_user_id=user.id, purpose="reset", hours=LINK_HOURS)
    return user, token


LINK_UNKNOWN = "This link is not valid. Check that you copied all of it, or ask your admin for a new one."
LINK_USED = "This link was used already. Sign in with your password, or ask your admin for a new link."
LINK_EXPIRED = "This link has expired or was replaced by a newer one. Ask your admin for a new link."
LINK_INACTIVE = "This account is deactivated. Ask your admin."


async def open_link(token: object) -> tuple[PasswordToken, User]:
    """The link's row and its user, when it may still set a password; else ServiceError with code
    `not_found` (no such link), or `gone` (used, expired, replaced, or the account deactivated)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS or not TOKEN.match(token):
        raise ServiceError("not_found", LINK_UNKNOWN)
    link = await PasswordToken.get_or_none(token_hash=hash_token(token)).select_related("user")
    if link is None:
        raise ServiceError("not_found", LINK_UNKNOWN)
    if link.used_at is not None:
        raise ServiceError("gone", LINK_USED)
    if link.expires_at <= utcnow():
        raise ServiceError("gone", LINK_EXPIRED)
    if not link.user.is_active:
        raise ServiceError("gone", LINK_INACTIVE)
    return link, link.user


async def set_password(token: object, password: object) -> User:
    """The user behind a link sets their password: the link is used up (once, even when two tabs
    send it at the same moment), and every other session of theirs ends."""
    try:
        password = sessions.check_new_password(password)
    except ServiceError as exc:
        raise _refuse("password", exc.message.message_id, exc.code, **exc.message.values) from None
    link, user = await open_link(token)
    password_hash = hash_password(password)
    now = utcnow()
    async with in_transaction():
        taken = await PasswordToken.filter(id=link.id, used_at=None, expires_at__gt=now).update(used_at=now)
        if not taken:
            raise ServiceError("gone", LINK_USED)
        await User.filter(id=user.id, is_active=True).update(password_hash=password_hash)
        await PasswordToken.filter(user_id=user.id, used_at=None, expires_at__gt=now).update(expires_at=now)
    await sessions.end_all(user.id, "password_set")
    await audit.record(user, "password_set", target_user_id=user.id, purpose=link.purpose)
    return user


# -- the list --------------------------------------------------------------------------------------

async def department_choices() -> list[dict[str, Any]]:
    """Every department, for the form: id, name, site, by site and name."""
    rows = await Department.all().values("id", "name", "site__name", "default_max_chats")
    return sorted(({"id": r["id"], "name": r["name"], "site": r["site__name"], "default": r["default_max_chats"]}
                   for r in rows), key=lambda d: (d["site"].casefold(), d["name"].casefold(), d["id"]))


async def list_accounts(*, search: str = "", role: str = "", state: str = "") -> list[dict[str, Any]]:
    """The users matching the filters (name or e-mail containing `search`; a role; "active" or
    "deactivated"), by name: with departments and skill levels, capacity (own or the departments'
    default), state, live status and last sign-in (the newest session's start, None: never)."""
    query = User.all()
    if role in ROLES:
        query = query.filter(role=role)
    if state == "active":
        query = query.filter(is_active=True)
    elif state == "deactivated":
        query = query.filter(is_active=False)
    search = " ".join(search.split())
    if search:
        query = query.filter(Q(display_name__icontains=search) | Q(email__icontains=search))
    users = await query
    ids = [u.id for u in users]
    memberships: dict[int, list[dict[str, Any]]] = {}
    last: dict[int, datetime] = {}
    if ids:
        for row in await Department.filter(users__id__in=ids).values("id", "name", "site__name", "users__id",
                                                                      "default_max_chats"):
            memberships.setdefault(row["users__id"], []).append(row)
        for row in await StaffSession.filter(user_id__in=ids).annotate(last=Max("created_at")) \
                .group_by("user_id").values("user_id", "last"):
            last[row["user_id"]] = row["last"]
    listed = []
    for user in users:
        skills = user.skills if isinstance(user.skills, dict) else {}
        departments = sorted(memberships.get(user.id, []), key=lambda d: (d["name"].casefold(), d["id"]))
        listed.append({
            "id": user.id, "name": user.display_name, "email": user.email, "role": user.role,
            "role_label": ROLE_LABELS.get(user.role, user.role), "active": user.is_active,
            "status": user.status if user.is_active else "offline",
            "departments": [{"id": d["id"], "name": d["name"], "site": d["site__name"],
                             "level": skills.get(str(d["id"]), 1)} for d in departments],
            "capacity": user.max_chats,
            "effective_capacity": routing_state.capacity(user.max_chats,
                                                         [d["default_max_chats"] for d in departments]),
            "last_sign_in": last.get(user.id), "started_on": user.started_on,
            "created_on": user.created_at.date().isoformat() if user.created_at else "",
        })
    listed.sort(key=lambda u: (u["name"].casefold(), u["email"]))
    return listed


async def account(user_id: object) -> dict[str, Any]:
    """One user as the edit form shows it."""
    user = await _get(user_id)
    skills = user.skills if isinstance(user.skills, dict) else {}
    members = await Department.filter(users__id=user.id).values_list("id", flat=True)
    return {"id": user.id, "email": user.email, "name": user.display_name, "role": user.role,
            "active": user.is_active, "capacity": user.max_chats, "started_on": user.started_on,
            "departments": {d: skills.get(str(d), 1) for d in members}}


async def set_language(user: User, language: object) -> str | None:
    """The user's own "Language" (their staff pages): "en", "zh-CN", or "" / None to follow the browser."""
    if language == "":
        chosen = None
    elif isinstance(language, str) and language in i18n.LANGUAGES:
        chosen = language
    else:
        raise _refuse("language", "Choose English, 简体中文 or “follow the browser”.")
    if chosen != user.language:
        await User.filter(id=user.id).update(language=chosen)
        await audit.record(user, "user_language", target_user_id=user.id, before={"language": user.language},
                           after={"language": chosen})
        user.language = chosen
    return chosen

