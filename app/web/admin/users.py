"""Admin page: users (/admin/users) — the list, "Add user", edit, deactivate, reactivate, reset
password, the "Knowledge editor" permission (User.knowledge_editor: writes and publishes articles,
app/services/knowledge.py; staff only, never a marketer) — and the public page where a user sets their password with a one-time link
(/set-password/<token>).

Each handler parses the form, calls one function of app/services/accounts.py and shapes the reply;
a refused form comes back (400) with the message next to its field and stores nothing. A new
set-password link is shown in the response to the POST that made it, once, and kept nowhere else.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import runtime
from app.i18n import N_
from app.models import User
from app.models.org import ROLES
from app.services import ServiceError, accounts, sessions
from app.web.admin.common import FieldError, Label, Message, admin_form, admin_user, digits, posted_form, render, text, whole_number
from app.web.auth import client_address, csrf_token
from app.web.templating import console_templates

PATH = "/admin/users"
MAX_SEARCH_CHARS = 200
WHOLE = re.compile(r"-?[0-9]{1,18}")
# Public set-password attempts per address (the tokens cannot be guessed; this keeps argon2 busy
# for nobody's benefit otherwise).
SET_PASSWORD_LIMIT = (30, 15 * 60.0)
NOTICES = {
    "saved": N_("%(name)s: changes saved."),
    "deactivated": N_("%(name)s is deactivated: signed out everywhere, their chats are back in the queues."),
    "reactivated": N_("%(name)s is active again. They sign in with their password (Reset password gives them a new one)."),
}
STATUS_OF = {"not_found": 404, "gone": 410, "conflict": 400, "invalid_state": 409, "forbidden": 403}


def _user_id(request: Request) -> int | None:
    """The {user_id} of the path, when it can name a user (a number in the database's range)."""
    value = request.path_params.get("user_id")
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def _not_found() -> Response:
    return Response("No such user.", status_code=404, media_type="text/plain")


def _whole(form: Any, name: str, label: str, low: int, high: int, default: int | None = None) -> int | None:
    """`whole_number`, for ASCII digits only ("²" or "١" are digits to Python but no number here)."""
    value = str(form.get(name) or "").strip()
    if value and not WHOLE.fullmatch(value):
        raise FieldError(name, N_("%(field)s must be a whole number."), field=Label(label))
    return whole_number(form, name, label, minimum=low, maximum=high, default=default)


def _values(form: Any) -> dict[str, Any]:
    """What was typed, to show again (departments as a list of ids)."""
    values: dict[str, Any] = {k: str(form.get(k) or "")[:1000]
                              for k in ("email", "name", "role", "capacity", "started_on")}
    values["departments"] = [str(v)[:20] for v in form.getlist("departments")][:1000]
    values["knowledge_editor"] = bool(form.get("knowledge_editor"))
    for key in form.keys():
        if key.startswith("skill_") and len(key) <= 20:
            values[key] = str(form.get(key) or "")[:20]
    return values


def _parse(form: Any, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's fields as the service takes them, and the errors of those that cannot be read."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def take(key: str, read, check) -> None:
        # Read, then the service's own check of the value, so that every field's error shows at once
        # (the service checks them all again).
        try:
            parsed[key] = check(read())
        except ServiceError as exc:
            errors[getattr(exc, "field", None) or key] = exc.message

    if creating:
        take("email", lambda: text(form, "email", max_length=accounts.MAX_EMAIL_CHARS,
                                   required=N_("Enter an e-mail address.")), accounts.check_email)
    take("name", lambda: text(form, "name", max_length=accounts.MAX_NAME_CHARS, required=N_("Enter a name.")),
         accounts.check_name)
    take("role", lambda: text(form, "role", max_length=16, required=N_("Choose a role.")), accounts.check_role)
    take("capacity", lambda: _whole(form, "capacity", N_("Capacity"), *accounts.CAPACITY), accounts.check_capacity)
    take("started_on", lambda: text(form, "started_on", max_length=10), accounts.check_started_on)
    chosen = form.getlist("departments")
    members: dict[int, int] = {}
    if len(chosen) > 1000:
        errors["departments"] = N_("Too many departments.")
    for raw in chosen[:1000]:
        raw = str(raw).strip()
        if not WHOLE.fullmatch(raw) or raw.startswith("-"):
            errors["departments"] = N_("There is no such department: choose departments from the list.")
            continue
        department_id = int(raw)
        try:
            members[department_id] = _whole(form, f"skill_{department_id}", N_("Skill level"), *accounts.SKILL_LEVELS,
                                            default=1)
        except FieldError as exc:
            errors[exc.field] = exc.message
    parsed["departments"] = members
    if form.get("knowledge_editor") and str(form.get("role") or "") == "marketer":
        errors["knowledge_editor"] = N_("Marketers do not edit the knowledge base: choose another role, or untick it.")
    return parsed, errors


def _knowledge_editor(form: Any) -> bool:
    return bool(form.get("knowledge_editor")) and str(form.get("role") or "") != "marketer"


async def _page(request: Request, user: User, *, status: int = 200, editing: dict | None = None,
                errors: dict | None = None, values: dict | None = None, link: dict | None = None,
                notice: str | None = None, row_errors: dict | None = None) -> Response:
    search = request.query_params.get("q", "")[:MAX_SEARCH_CHARS]
    role = request.query_params.get("role", "")
    state = request.query_params.get("state", "")
    filters = {"q": search, "role": role if role in ROLES else "",
               "state": state if state in ("active", "deactivated") else ""}
    rows = [] if editing else await accounts.list_accounts(search=filters["q"], role=filters["role"],
                                                             state=filters["state"])
    filtered = any(filters.values())
    editors = set(await User.filter(knowledge_editor=True).values_list("id", flat=True)) if rows else set()
    return render(request, user, "admin/users.html", PATH, status=status,
                  users=rows, editors=editors, filters=filters, filtered=filtered, departments=await accounts.department_choices(),
                  roles=[(r, accounts.ROLE_LABELS[r]) for r in ROLES], editing=editing, errors=errors or {},
                  values=values or {"role": "agent", "departments": []}, link=link, notice=notice,
                  row_errors=row_errors or {}, link_hours=accounts.LINK_HOURS)


def _link(user: User, token: str) -> dict[str, str]:
    base = runtime.current().settings.public_url.rstrip("/")
    return {"name": user.display_name, "email": user.email, "url": f"{base}/set-password/{token}"}


async def users_page(request: Request) -> Response:
    """GET /admin/users: the list (search, role and state filters), and the "Add user" form."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    notice = None
    done, target = request.query_params.get("done", ""), request.query_params.get("user", "")
    if done in NOTICES and digits(target):
        found = await User.get_or_none(id=int(target))
        if found is not None:
            notice = Message(NOTICES[done], name=found.display_name)
    return await _page(request, user, notice=notice)


async def create(request: Request) -> Response:
    """POST /admin/users: a new user; the page shows their one-time set-password link."""
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    values = _values(form)
    parsed, errors = _parse(form, creating=True)
    if not errors:
        try:
            created, token = await accounts.create_account(user, **parsed)
        except ServiceError as exc:
            errors[exc.field or "email"] = exc.message
        else:
            await accounts.set_knowledge_editor(user, created.id, _knowledge_editor(form))
            return await _page(request, user, link=_link(created, token),
                               notice=Message(N_("%(name)s is added as %(role)s."), name=created.display_name,
                                              role=Label(accounts.ROLE_LABELS[created.role])))
    return await _page(request, user, status=400, errors=errors, values=values)


async def edit_page(request: Request) -> Response:
    """GET /admin/users/{id}: the edit form."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    user_id = _user_id(request)
    try:
        editing = await accounts.account(user_id)
    except ServiceError:
        return _not_found()
    values = {"name": editing["name"], "role": editing["role"],
              "capacity": "" if editing["capacity"] is None else str(editing["capacity"]),
              "started_on": editing["started_on"].isoformat() if editing["started_on"] else "",
              "departments": [str(d) for d in editing["departments"]],
              **{f"skill_{d}": str(level) for d, level in editing["departments"].items()},
              "knowledge_editor": bool(await User.filter(id=editing["id"], knowledge_editor=True).exists())}
    return await _page(request, user, editing=editing, values=values)


async def update(request: Request) -> Response:
    """POST /admin/users/{id}: name, role, departments and skill levels, capacity."""
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    try:
        editing = await accounts.account(_user_id(request))
    except ServiceError:
        return _not_found()
    values = _values(form)
    parsed, errors = _parse(form, creating=False)
    if not errors:
        try:
            await accounts.update_account(user, editing["id"], **parsed)
        except ServiceError as exc:
            if exc.code == "not_found" and exc.field is None:
                return _not_found()
            errors[exc.field or "name"] = exc.message
        else:
            await accounts.set_knowledge_editor(user, editing["id"], _knowledge_editor(form))
            return RedirectResponse(f"{PATH}?{urlencode({'done': 'saved', 'user': editing['id']})}", status_code=303)
    return await _page(request, user, status=400, editing=editing, errors=errors, values=values)


async def _account_action(request: Request, act, done: str | None) -> Response:
    user, _, refused = await admin_form(request)
    if refused is not None:
        return refused
    user_id = _user_id(request)
    if user_id is None:
        return _not_found()
    try:
        result = await act(user, user_id)
    except ServiceError as exc:
        if exc.code == "not_found":
            return _not_found()
        return await _page(request, user, status=STATUS_OF.get(exc.code, 400), row_errors={user_id: exc.message})
    if done is None:  # a new set-password link: shown now, once
        target, token = result
        return await _page(request, user, link=_link(target, token),
                           notice=Message(N_("A new set-password link for %(name)s: their older links no longer work."),
                                          name=target.display_name))
    return RedirectResponse(f"{PATH}?{urlencode({'done': done, 'user': user_id})}", status_code=303)


async def deactivate(request: Request) -> Response:
    """POST /admin/users/{id}/deactivate: signed out everywhere, chats re-queued, history kept."""
    return await _account_action(request, accounts.deactivate_account, "deactivated")


async def reactivate(request: Request) -> Response:
    """POST /admin/users/{id}/reactivate."""
    return await _account_action(request, accounts.reactivate_account, "reactivated")


async def reset_password(request: Request) -> Response:
    """POST /admin/users/{id}/password-link: a new one-time link; older unused ones stop working."""
    return await _account_action(request, accounts.password_link, None)


# -- the public set-password page ------------------------------------------------------------------

# What the page may say, marked for translation (`{{ _(message) }}` in set_password.html): the link's
# refusals are app/services/accounts.py's LINK_* texts, word for word (a unit test keeps them equal).
LINK_MESSAGES = (
    N_("This link is not valid. Check that you copied all of it, or ask your admin for a new one."),
    N_("This link was used already. Sign in with your password, or ask your admin for a new link."),
    N_("This link has expired or was replaced by a newer one. Ask your admin for a new link."),
    N_("This account is deactivated. Ask your admin."),
)
TOO_MANY = N_("Too many attempts from here. Wait a few minutes and open the link again.")
NO_MATCH = N_("The two passwords do not match.")
# The new password's refusals (app/services/sessions.py check_new_password), by their English text.
PASSWORD_REFUSALS = {
    "Enter a new password.": N_("Enter a new password."),
    f"The new password must have at least {sessions.MIN_PASSWORD_CHARS} characters.":
        N_("The new password must have at least %(n)s characters."),
    f"The new password may have at most {sessions.MAX_PASSWORD_CHARS} characters.":
        N_("The new password may have at most %(max)s characters."),
}
PASSWORD_SET = N_("Your password is set, and any other session of yours is signed out. Sign in with it now.")


def _set_password_page(request: Request, *, state: str, status: int = 200, email: str = "", message: str = "",
                       error: str | None = None, owner: User | None = None) -> Response:
    # The page speaks the Language its user chose (a user made with one, or one resetting theirs),
    # else the browser's: app/web/templating.py reads `page_user` when nobody is signed in.
    request.state.page_user = owner
    response = console_templates.TemplateResponse(
        request, "set_password.html",
        {"state": state, "email": email, "message": message, "error": error, "csrf_token": csrf_token(request),
         "min_password": sessions.MIN_PASSWORD_CHARS, "max_password": sessions.MAX_PASSWORD_CHARS},
        status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


async def set_password_page(request: Request) -> Response:
    """GET /set-password/{token}: the form, or why the link no longer works."""
    try:
        _, owner = await accounts.open_link(request.path_params.get("token"))
    except ServiceError as exc:
        return _set_password_page(request, state="invalid", message=exc.message, status=STATUS_OF.get(exc.code, 400))
    return _set_password_page(request, state="form", email=owner.email, owner=owner)


async def set_password_submit(request: Request) -> Response:
    """POST /set-password/{token}: set it, use the link up, end the user's other sessions; then a
    sign-in form saying so."""
    form, refused = await posted_form(request)
    if refused is not None:
        return refused
    token = request.path_params.get("token")
    limiter = runtime.current().rate_limiter
    if await limiter.hit(f"set-password:{client_address(request)}", *SET_PASSWORD_LIMIT) is not None:
        return _set_password_page(request, state="invalid", status=429, message=TOO_MANY)
    password, repeated = form.get("password"), form.get("repeat_password")
    try:
        _, owner = await accounts.open_link(token)
    except ServiceError as exc:
        return _set_password_page(request, state="invalid", message=exc.message, status=STATUS_OF.get(exc.code, 400))
    if isinstance(password, str) and password and password != repeated:
        return _set_password_page(request, state="form", email=owner.email, status=400, error=NO_MATCH, owner=owner)
    try:
        user = await accounts.set_password(token, password if isinstance(password, str) else None)
    except ServiceError as exc:
        if exc.field == "password":
            return _set_password_page(request, state="form", email=owner.email, status=400,
                                      error=PASSWORD_REFUSALS.get(exc.message, exc.message), owner=owner)
        return _set_password_page(request, state="invalid", message=exc.message, status=STATUS_OF.get(exc.code, 400),
                                  owner=owner)
    return _set_password_page(request, state="done", email=user.email, message=PASSWORD_SET, owner=user)


ROUTES = [
    Route(PATH, users_page, methods=["GET"]),
    Route(PATH, create, methods=["POST"]),
    Route(PATH + "/{user_id:int}", edit_page, methods=["GET"]),
    Route(PATH + "/{user_id:int}", update, methods=["POST"]),
    Route(PATH + "/{user_id:int}/deactivate", deactivate, methods=["POST"]),
    Route(PATH + "/{user_id:int}/reactivate", reactivate, methods=["POST"]),
    Route(PATH + "/{user_id:int}/password-link", reset_password, methods=["POST"]),
    Route("/set-password/{token:str}", set_password_page, methods=["GET"]),
    Route("/set-password/{token:str}", set_password_submit, methods=["POST"]),
]
