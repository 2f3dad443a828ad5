"""The widget's appearance per site: accent colour, launcher position, header title and greeting
per language, the pre-chat fields, the topic picker and the offline form. Kept in
`Site.settings["widget"]`, edited on /admin/widget, sent to the widget in `session.widget`
(docs/widget.md, "Appearance").

Every value is checked before anything is stored; a refusal names the form field it is about
(`ServiceError.field`: accent_color, launcher_position, title_en, greeting_zh, prechat_email …).
The accent colour is the background of white text (the launcher, the panel's header, the visitor's
messages, buttons), so it must reach WCAG AA's contrast ratio of 4.5:1 against white.

A change is audited (`widget_update`, with the fields that changed) and reaches new widget
connections on every worker at once (the site version moves: app/services/sites.py).
"""

from __future__ import annotations

from app.i18n import N_
import math
import re
from typing import Any

from tortoise.transactions import in_transaction

from app.models import Message, Site, User, Visitor
from app.services import ServiceError, Words, audit, conversations, sites

LANGUAGES = ("en", "zh-CN")  # what the widget speaks (widget/src/i18n.js)
SUFFIX = {"en": "en", "zh-CN": "zh"}  # the form fields' suffix per language: title_en, greeting_zh
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}
POSITIONS = {"bottom-right": N_("Bottom right"), "bottom-left": N_("Bottom left")}
PRECHAT = {"hidden": N_("Hidden"), "optional": N_("Optional"), "required": N_("Required")}
PRECHAT_FIELDS = ("name", "email")
MAX_TITLE = 60
MAX_GREETING = 300
MIN_CONTRAST = 4.5  # WCAG 2 AA, normal text
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
WHITE = "#ffffff"

# A site that never saved its appearance gets these (the widget as it always looked).
DEFAULTS: dict[str, Any] = {
    "accent_color": "#2563eb",
    "launcher_position": "bottom-right",
    "title": {"en": "Chat with us", "zh-CN": "在线咨询"},
    "greeting": {"en": "", "zh-CN": ""},
    "prechat": {"name": "optional", "email": "optional"},
    "topics": True,
    "offline_form": True,
}

# The form's field names and labels (the admin page shows each refusal next to its field).
LABELS: dict[str, str] = {
    "accent_color": N_("Accent colour"),
    "launcher_position": N_("Launcher position"),
    "title_en": N_("Header title (English)"),
    "title_zh": N_("Header title (简体中文)"),
    "greeting_en": N_("Greeting (English)"),
    "greeting_zh": N_("Greeting (简体中文)"),
    "prechat_name": N_("Name field"),
    "prechat_email": N_("Email field"),
    "topics": N_("Visitors pick a topic"),
    "offline_form": N_("Offline form"),
}
# What the first message of a chat is refused with when a required pre-chat field is missing.
MISSING = {"name": "Please enter your name to start the chat.",
           "email": "Please enter your e-mail address to start the chat."}


def _refuse(field: str, message: str, **values: object) -> ServiceError:
    return ServiceError("bad_request", message, field, **values)


# --- contrast (WCAG 2: https://www.w3.org/TR/WCAG22/#dfn-relative-luminance) -------------------


def relative_luminance(colour: str) -> float:
    """The relative luminance of an sRGB colour `#rrggbb`: 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG's contrast ratio of two colours, from 1 (none) to 21 (black on white)."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ratio_text(ratio: float) -> str:
    """A ratio as people read it, rounded down (so that 4.499 never reads as 4.50): "2.14:1"."""
    return f"{math.floor(ratio * 100) / 100:.2f}:1"


# --- checking ----------------------------------------------------------------------------------


def _colour(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not COLOUR.match(text):
        if not text:
            raise _refuse("accent_color", "Give a colour like #2563eb: # and six hexadecimal digits.")
        raise _refuse("accent_color", "%(text)s is not a colour like #2563eb: # and six hexadecimal digits.",
                      text=repr(text[:20]))
    colour = text.lower()
    ratio = contrast_ratio(colour, WHITE)
    if ratio < MIN_CONTRAST:
        raise _refuse("accent_color", "White text on %(colour)s has a contrast ratio of %(ratio)s; "
                                      "WCAG AA needs at least %(least)s:1. Choose a darker colour.",
                      colour=colour, ratio=ratio_text(ratio), least=MIN_CONTRAST)
    return colour


def _choice(value: Any, field: str, choices: dict[str, str]) -> str:
    if not isinstance(value, str) or value not in choices:
        names = ", ".join(f"{label} ({key})" for key, label in choices.items())
        raise _refuse(field, "%(label)s is one of: %(names)s.", label=Words(LABELS[field]), names=names)
    return value


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _refuse(field, "%(label)s is on or off.", label=Words(LABELS[field]))
    return value


def _text(value: Any, field: str, most: int, *, one_line: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _refuse(field, "%(label)s is text.", label=Words(LABELS[field]))
    if one_line:
        value = " ".join(value.split())
    else:  # lines kept (the widget shows them as written), other control characters not
        value = "\n".join(line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()
        value = re.sub(r"\n{3,}", "\n\n", value)
    if any(ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in value):
        raise _refuse(field, "%(label)s has characters that cannot be shown.", label=Words(LABELS[field]))
    if len(value) > most:
        raise _refuse(field, "%(label)s has at most %(most)s characters (%(given)s given).",
                      label=Words(LABELS[field]), most=most, given=len(value))
    return value


def _per_language(values: Any, key: str, most: int, one_line: bool) -> dict[str, str]:
    if not isinstance(values, dict) or set(values) - set(LANGUAGES):
        raise _refuse(key + "_en", "The %(key)s is given per language (%(languages)s).",
                      key=key, languages=", ".join(LANGUAGES))
    return {lang: _text(values.get(lang), f"{key}_{SUFFIX[lang]}", most, one_line=one_line) for lang in LANGUAGES}


def check(values: Any) -> dict[str, Any]:
    """The widget settings as `Site.settings["widget"]` keeps them, every one given and checked
    (in the form's order, so the first refusal is the first field that is wrong). Unknown keys
    are refused."""
    if not isinstance(values, dict):
        raise ServiceError("bad_request", "The widget settings are an object.")
    unknown = [key for key in values if key not in DEFAULTS]
    if unknown:
        raise ServiceError("bad_request", "%(key)s is not a widget setting (%(keys)s).",
                           key=repr(str(unknown[0])[:40]), keys=", ".join(DEFAULTS))
    missing = [key for key in DEFAULTS if key not in values]
    if missing:
        raise ServiceError("bad_request", "The widget setting %(key)s is missing.", key=repr(missing[0]))
    prechat = values["prechat"]
    if not isinstance(prechat, dict) or set(prechat) != set(PRECHAT_FIELDS):
        raise _refuse("prechat_name", "The pre-chat fields are name and email, each hidden, optional or required.")
    return {
        "accent_color": _colour(values["accent_color"]),
        "launcher_position": _choice(values["launcher_position"], "launcher_position", POSITIONS),
        "title": _per_language(values["title"], "title", MAX_TITLE, True),
        "greeting": _per_language(values["greeting"], "greeting", MAX_GREETING, False),
        "prechat": {f: _choice(prechat[f], f"prechat_{f}", PRECHAT) for f in PRECHAT_FIELDS},
        "topics": _flag(values["topics"], "topics"),
        "offline_form": _flag(values["offline_form"], "offline_form"),
    }


# --- reading -----------------------------------------------------------------------------------


def settings_of(site: Site) -> dict[str, Any]:
    """The site's widget settings in effect: what it saved, with the defaults for anything it did
    not (or for a stored value that is not valid, such as one edited by hand in the database)."""
    stored = site.settings.get("widget") if isinstance(site.settings, dict) else None
    stored = stored if isinstance(stored, dict) else {}
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = stored.get(key, default)
        if isinstance(default, dict):
            value = {**default, **(value if isinstance(value, dict) else {})}
            value = {k: value[k] for k in default}
        merged[key] = value
    try:
        return check(merged)
    except ServiceError:  # one bad value: each key on its own, the default where it fails
        fixed = dict(DEFAULTS)
        for key in DEFAULTS:
            try:
                fixed[key] = check({**DEFAULTS, key: merged[key]})[key]
            except ServiceError:
                pass
        return fixed


def flat(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings under the form's field names (the page's values, the audit log's before/after)."""
    out: dict[str, Any] = {"accent_color": settings["accent_color"], "launcher_position": settings["launcher_position"]}
    for key in ("title", "greeting"):
        for lang in LANGUAGES:
            out[f"{key}_{SUFFIX[lang]}"] = settings[key][lang]
    for field in PRECHAT_FIELDS:
        out[f"prechat_{field}"] = settings["prechat"][field]
    out["topics"], out["offline_form"] = settings["topics"], settings["offline_form"]
    return out


def required_fields(settings: dict[str, Any]) -> list[str]:
    """The pre-chat fields a new chat cannot start without: "name", "email"."""
    return [field for field in PRECHAT_FIELDS if settings["prechat"][field] == "required"]


# --- changes -----------------------------------------------------------------------------------


def merged(site: Site, partial: Any) -> dict[str, Any]:
    """The site's settings with `partial` laid over them (one level into title, greeting and
    prechat), checked: what `site-settings --set '{"widget": {…}}'` stores."""
    if not isinstance(partial, dict):
        raise ServiceError("bad_request", "widget is an object of settings.")
    base = settings_of(site)
    return check({key: {**base[key], **value} if isinstance(base.get(key), dict) and isinstance(value, dict)
                  else value for key, value in {**base, **partial}.items()})


async def update(actor: User | None, site_id: int, values: Any) -> dict[str, Any]:
    """Replace the site's widget settings with `values` (every setting, as `check` takes them),
    audited as `widget_update` with the fields that changed. Returns the settings in effect."""
    checked = check(values)
    valid_id = isinstance(site_id, int) and not isinstance(site_id, bool) and 0 < site_id < 2**31
    async with in_transaction():
        # Locked while read and written: a privacy change saved at the same moment is not lost.
        site = await Site.filter(id=site_id).select_for_update().first() if valid_id else None
        if site is None:
            raise ServiceError("not_found", "No such site.")
        before = settings_of(site)
        stored = dict(site.settings) if isinstance(site.settings, dict) else {}
        stored["widget"] = checked
        await Site.filter(id=site.id).update(settings=stored)
        site.settings = stored
        old, new = audit.changed(flat(before), flat(checked))
        if new:
            await audit.record(actor, "widget_update", subject=f"site:{site.id}", name=site.name, before=old, after=new)
    if new:
        await sites.changed(site)  # every worker's site cache re-reads it: new widgets get the new look
    return checked


# --- the visitor's first message ---------------------------------------------------------------


async def check_first_message(visitor: Visitor, required: list[str], *, name: str | None, email: str | None,
                              client_id: str) -> None:
    """Refuses (`prechat_required`, with the `field`) the first message of a new conversation when
    the site requires a pre-chat field that neither the message nor the visitor's profile (an
    earlier answer, `identify`) holds. A message of an open conversation, or the resend of one
    already stored, is never refused."""
    given = {"name": name or visitor.name, "email": email or visitor.email}
    missing = [field for field in required if field in given and not given[field]]
    if not missing:
        return
    if await conversations.open_conversation_of(visitor) is not None:
        return
    if await Message.exists(visitor_id=visitor.id, client_id=client_id):
        return
    exc = ServiceError("prechat_required", MISSING[missing[0]], missing[0])
    exc.extra = {"field": missing[0]}  # type: ignore[attr-defined]  # in the error ack (app/realtime/handlers.py)
    raise exc
