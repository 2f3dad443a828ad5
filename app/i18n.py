"""The staff side's languages: English and Simplified Chinese (i18n).

Templates are translated through Babel's gettext catalogs (`app/locale/<locale>/LC_MESSAGES/
messages.po`, extracted with `pybabel extract` and compiled to `.mo` by `make build`; see the
Makefile's `catalogs` targets). The language of a request is the signed-in user's preference
(`User.language`), else the browser's (`Accept-Language`), else English; it lives in a context
variable that the Jinja environment's `gettext` / `ngettext` read, so one environment serves every
language. The console's JavaScript has its own catalogs (`agent_ui/locales/`, `agent_ui/src/i18n.js`);
`<html lang>` tells it which one to use.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# The languages a user can choose: BCP 47 tag → its own name (never translated: "简体中文" stays).
LANGUAGES: dict[str, str] = {"en": "English", "zh-CN": "简体中文"}
_BABEL_LOCALE = {"en": "en", "zh-CN": "zh_CN"}

_current: ContextVar[str] = ContextVar("staff_language", default=DEFAULT)


def babel_locale(language: str) -> str:
    return _BABEL_LOCALE.get(language, "en")


@lru_cache(maxsize=None)
def translations(language: str) -> NullTranslations:
    """The compiled catalog of `language`; read from its `.po` when `make build` has not compiled
    it yet (a checkout run without the build step still shows its translations)."""
    folder = LOCALE_DIR / babel_locale(language) / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if po.exists():
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=babel_locale(language))
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer, domain=DOMAIN)
    return NullTranslations()


@lru_cache(maxsize=1)
def _message_ids() -> frozenset[str]:
    # Every id is in the Chinese catalog (tests/unit/test_catalogs.py sees to it); plural entries are
    # keyed (singular, index), contexts "context\x04id".
    catalog = getattr(translations("zh-CN"), "_catalog", {})
    return frozenset((key[0] if isinstance(key, tuple) else key).rpartition("\x04")[2] for key in catalog)


def is_message(message: str) -> bool:
    """Whether `message` is one of the catalog's own ids (reviewed text), not text from elsewhere."""
    return message in _message_ids()


def negotiate(accept_language: str | None) -> str:
    """The first language of an `Accept-Language` header that we speak (any zh → zh-CN), else English."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag == "zh" or tag.startswith("zh-"):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return DEFAULT


def choose(preference: str | None, accept_language: str | None) -> str:
    """A user's own choice wins; none (follow the browser) → the browser's."""
    return preference if preference in LANGUAGES else negotiate(accept_language)


def use(language: str) -> None:
    _current.set(language if language in LANGUAGES else DEFAULT)


def current() -> str:
    return _current.get()


def N_(message: str) -> str:
    """Marks a message for `pybabel extract` where it is defined; it is translated where it is shown
    (`{{ _(error) }}` in a template), once the request's language is known."""
    return message


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current()).pgettext(context, message)
