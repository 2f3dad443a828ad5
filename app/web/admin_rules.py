"""Admin page: automatic invitation rules (list, create, edit, enable/disable, delete).

Server-rendered forms with CSRF tokens; every field is checked by the service, and a refused
form comes back with the error and what was typed."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.models import Department, InvitationRule, Site, User
from app.i18n import N_
from app.services import ServiceError, invitations
from app.tracking.rules import DEVICES, REFERRER_TYPES, value_type
from app.web.admin.common import Label, Message, admin_user, digits, render
from app.web.auth import check_csrf

INT_FIELDS = ("min_seconds_on_page", "min_seconds_on_site", "min_pages")
# The whole-number conditions as their errors name them.
FIELD_LABELS = {"min_seconds_on_page": N_("Min seconds on page"), "min_seconds_on_site": N_("Min seconds on site"),
                "min_pages": N_("Min pages")}
TEXT_FIELDS = ("url", "referrer_type", "referrer_domain", "keyword", "device", "visitor", "event")
# A rule's conditions as the list names them (English: the key with spaces).
CONDITION_LABELS = {
    "url": N_("url"), "min_seconds_on_page": N_("min seconds on page"), "min_seconds_on_site": N_("min seconds on site"),
    "min_pages": N_("min pages"), "referrer_type": N_("referrer type"), "referrer_domain": N_("referrer domain"),
    "keyword": N_("keyword"), "device": N_("device"), "visitor": N_("visitor"), "event": N_("event"),
    "country": N_("country"), "attribute": N_("attribute"),
}
# The referrer types and devices a condition chooses from (the stored values, shown by these names).
OPTION_LABELS = {
    "direct": N_("direct"), "internal": N_("internal"), "search": N_("search"), "social": N_("social"),
    "email": N_("email"), "paid": N_("paid"), "other": N_("other"),
    "desktop": N_("desktop"), "mobile": N_("mobile"), "tablet": N_("tablet"),
}


_admin = admin_user


def _int(value: Any, label: str) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not digits(text.removeprefix("-")):
        message = Message(N_("%(field)s must be a whole number."), field=Label(label))
        raise ServiceError("bad_request", message)
    return int(text)


def typed_value(kind: Any, value: Any) -> str | int | float | bool:
    """The attribute value as the chosen type stores it: text as typed, a number as a number,
    true/false as a boolean (what `identify` sends is compared with its own type)."""
    kind = str(kind or "text")
    text = str(value or "")
    if kind == "text":
        return text
    if kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            number = math.nan
        if not text.strip() or not math.isfinite(number):
            raise ServiceError("bad_request", N_("The attribute value must be a number, such as 5 or 2.5."))
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind == "boolean":
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise ServiceError("bad_request", N_("The attribute value must be true or false."))
        return word == "true"
    raise ServiceError("bad_request", N_("The attribute value type is text, number or true/false."))


def parse_form(form) -> dict[str, Any]:
    """The form's fields as the service takes them."""
    conditions: dict[str, Any] = {}
    for key in INT_FIELDS:
        value = _int(form.get(key), FIELD_LABELS[key])
        if value is not None:
            conditions[key] = value
    for key in TEXT_FIELDS:
        value = str(form.get(key) or "").strip()
        if value:
            conditions[key] = value
    countries = [c.strip() for c in str(form.get("country") or "").replace(";", ",").split(",") if c.strip()]
    if countries:
        conditions["country"] = countries
    attribute = str(form.get("attribute_name") or "").strip()
    if attribute:
        conditions["attribute"] = {"name": attribute, "equals": typed_value(form.get("attribute_type"),
                                                                            form.get("attribute_equals"))}
    return {
        "name": str(form.get("name") or ""), "message": str(form.get("message") or ""),
        "site_id": _int(form.get("site_id"), N_("Site")), "department_id": _int(form.get("department_id"), N_("Department")),
        "agent_id": _int(form.get("agent_id"), N_("CSR")), "conditions": conditions,
        "max_per_visitor": _int(form.get("max_per_visitor"), N_("Invitations per visitor")) or 1,
        "cap_hours": _int(form.get("cap_hours"), N_("Within hours")) or 24,
        "active_hours": str(form.get("active_hours") or ""), "enabled": form.get("enabled") == "on",
    }


async def _render(request: Request, user: User, *, error: str | None = None, values: dict | None = None,
                  editing: int | None = None, status: int = 200) -> Response:
    context = {
        "rules": await invitations.list_rules(),
        "sites": await Site.all().order_by("name"), "departments": await Department.all().order_by("name"),
        "agents": await User.filter(is_active=True, role__in=("agent", "supervisor", "admin")).order_by("display_name"),
        "referrer_types": REFERRER_TYPES, "devices": DEVICES, "error": error,
        "condition_labels": CONDITION_LABELS, "option_labels": OPTION_LABELS,
        "editing": editing,
    }
    context["values"] = values or {}
    return render(request, user, "admin_rules.html", "/admin/invitation-rules", status=status, **context)


def _values_of(rule: InvitationRule) -> dict[str, Any]:
    c = rule.conditions if isinstance(rule.conditions, dict) else {}
    return {
        "name": rule.name, "message": rule.message, "site_id": rule.site_id, "department_id": rule.department_id,
        "agent_id": rule.agent_id, "max_per_visitor": rule.max_per_visitor, "cap_hours": rule.cap_hours,
        "active_hours": rule.active_hours or "", "enabled": rule.enabled,
        **{k: c.get(k, "") for k in INT_FIELDS + TEXT_FIELDS},
        "country": ", ".join(c.get("country", [])),
        "attribute_name": (c.get("attribute") or {}).get("name", ""),
        "attribute_equals": _shown((c.get("attribute") or {}).get("equals", "")),
        "attribute_type": value_type((c.get("attribute") or {}).get("equals", "")),
    }


def _shown(value: Any) -> str:
    """A stored attribute value as the form shows it (true/false in lower case, as typed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def rules_page(request: Request) -> Response:
    user, refused = await _admin(request)
    if refused is not None:
        return refused
    editing = request.query_params.get("edit")
    if editing and digits(editing):
        rule = await InvitationRule.get_or_none(id=int(editing))
        if rule is not None:
            return await _render(request, user, values=_values_of(rule), editing=rule.id)
    return await _render(request, user, values={"enabled": True, "max_per_visitor": 1, "cap_hours": 24})


async def rules_submit(request: Request) -> Response:
    user, refused = await _admin(request)
    if refused is not None:
        return refused
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf_token") or "")):
        return Response("The form expired; reload the page and try again.", status_code=403, media_type="text/plain")
    action = str(form.get("action") or "save")
    rule_id = _int(form.get("rule_id"), N_("Rule")) if form.get("rule_id") else None
    try:
        if action == "delete" and rule_id is not None:
            await invitations.delete_rule(user, rule_id)
        elif action == "toggle" and rule_id is not None:
            rule = await InvitationRule.get_or_none(id=rule_id)
            if rule is None:
                raise ServiceError("not_found", N_("No such rule."))
            await invitations.set_rule_enabled(user, rule_id, not rule.enabled)
        else:
            await invitations.save_rule(user, parse_form(form), rule_id)
    except ServiceError as exc:
        values = {k: v for k, v in form.items() if k != "csrf_token"}
        values["enabled"] = form.get("enabled") == "on"
        return await _render(request, user, error=exc.message, values=values, editing=rule_id, status=400)
    return RedirectResponse("/admin/invitation-rules", status_code=303)
