"""What every admin page shares: the admin check, the CSRF check of a posted form, rendering with
the admin layout (no-store), and reading form fields with the field they belong to.

A refused form comes back (400) with the message next to its field (`errors[field]`) and what was
typed (`values`); nothing is stored.

Messages are in the page's language: `render` translates what a page shows of a refusal (`errors`,
`error`, `notice`, `row_errors`) once the request's language is known. A message is an English
catalog id marked with `N_` where it is written (here, in the handlers, or in the service that
refuses), or a `Message` (an id with its `%(name)s` values) when it names a value. They are translated
here rather than with `{{ _(error) }}` in the templates: the templates' `_()` marks its result as safe
HTML and %-formats it, and a refusal may quote what was typed."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app import i18n
from app.i18n import N_
from app.models import Site, User
from app.services import Message, ServiceError, Words
from app.web.auth import check_csrf, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, staff_language

# The admin section's pages, in the order of its navigation: (path, label).
SECTIONS = (
    ("/admin/sites", N_("Sites")),
    ("/admin/widget", N_("Widget")),
    ("/admin/users", N_("Users")),
    ("/admin/departments", N_("Departments")),
    ("/admin/teams", N_("Teams")),
    ("/admin/work-categories", N_("Categories & SLA")),
    ("/admin/away-reasons", N_("Away reasons")),
    ("/admin/invitation-rules", N_("Invitation rules")),
    ("/admin/privacy", N_("Privacy")),
    ("/admin/outgoing-mail", N_("Outgoing mail")),
    ("/admin/audit", N_("Audit log")),
)
# A user's status as the Users page shows it.
STATUS_LABELS = {"available": N_("Available"), "away": N_("Away"), "offline": N_("Offline")}


# A field's label named in a message (translated with it), and a message that names values: the
# services' own (app/services/__init__.py), under the names these pages use.
Label = Words


def shown(message: object) -> object:
    """A message in the request's language (call after `staff_language`): a `Message` by its id and
    values, a str as a catalog id (itself when the catalog has none); anything else as it is."""
    if isinstance(message, Message):
        return message.said(i18n.gettext)
    if isinstance(message, str) and message:
        return i18n.gettext(message)
    return message


class FieldError(ServiceError):
    """A form value that cannot be taken: shown next to `field`. `values` fill `%(name)s` in the
    message (see `Message`)."""

    def __init__(self, field: str, message: str, /, **values: object) -> None:
        super().__init__("bad_request", Message(message, **values) if values else message, field)


async def admin_user(request: Request) -> tuple[User | None, Response | None]:
    """The signed-in admin, or the response for anyone else (sign in first; 403 for other roles)."""
    user = await current_user(request)
    if user is None:
        return None, login_redirect(request)
    if user.role != "admin":
        return None, Response("The admin pages are for admins.", status_code=403, media_type="text/plain")
    return user, None


async def posted_form(request: Request) -> tuple[Any, Response | None]:
    """The posted form, or a 403 when its CSRF token is not this session's."""
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return form, Response("The form expired; reload the page and try again.", status_code=403,
                              media_type="text/plain")
    return form, None


async def admin_form(request: Request) -> tuple[User | None, Any, Response | None]:
    """A form posted to an admin page: (admin, form, None), or (…, refusal) — sign in first, 403
    for other roles, 403 for an expired or missing CSRF token."""
    user, refused = await admin_user(request)
    if refused is not None:
        return None, None, refused
    form, refused = await posted_form(request)
    return user, form, refused


def render(request: Request, user: User, template: str, current: str, *, status: int = 200,
           **context: Any) -> Response:
    """An admin page: `current` is its path in the admin navigation. What it shows of a refusal is
    translated into the request's language here (see the module's docstring)."""
    staff_language(request)
    context["errors"] = {k: shown(v) for k, v in (context.get("errors") or {}).items()}
    for key in ("error", "notice"):
        if key in context:
            context[key] = shown(context[key])
    if context.get("row_errors"):
        context["row_errors"] = {k: shown(v) for k, v in context["row_errors"].items()}
    context.setdefault("values", {})
    context.setdefault("status_labels", STATUS_LABELS)
    response = console_templates.TemplateResponse(
        request, template,
        {"user": user, "csrf_token": csrf_token(request), "admin_sections": SECTIONS, "admin_current": current,
         **context},
        status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def text(form: Any, name: str, *, max_length: int = 200, required: str | None = None) -> str:
    """A text field, stripped; `required` is the message when it is empty."""
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise FieldError(name, required)
    if len(value) > max_length:
        raise FieldError(name, N_("At most %(n)s characters."), n=max_length)
    return value


def digits(text: str, max_len: int = 9) -> bool:
    """Only ASCII digits, 1 to `max_len` of them (str.isdigit also takes "²" and "٣", which int() refuses)."""
    return re.fullmatch(rf"[0-9]{{1,{max_len}}}", text) is not None


async def site_named(raw: Any) -> Site | None:
    """The site a URL names by id (`?site=ID` or a path parameter), or None for anything else."""
    text = str(raw or "")
    return await Site.get_or_none(id=int(text)) if digits(text) else None


def whole_number(form: Any, name: str, label: str, *, minimum: int | None = None, maximum: int | None = None,
                 default: int | None = None) -> int | None:
    """A whole-number field within [minimum, maximum]; empty gives `default`."""
    value = str(form.get(name) or "").strip()
    if not value:
        return default
    if not digits(value.removeprefix("-")):
        raise FieldError(name, N_("%(field)s must be a whole number."), field=Label(label))
    number = int(value)
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise FieldError(name, N_("%(field)s must be between %(low)s and %(high)s."), field=Label(label),
                         low=minimum, high=maximum)
    return number


def form_values(form: Any) -> dict[str, Any]:
    """What was typed, to show again on a refused form (never the CSRF token)."""
    values: dict[str, Any] = {}
    for key in form.keys():
        if key == "csrf_token":
            continue
        items = form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values
