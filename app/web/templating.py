"""Jinja2 environments (autoescape on, always).

The staff pages' environment speaks the request's language: `jinja2.ext.i18n` with `gettext` /
`ngettext` from `app.i18n`, and a context processor that settles the language (the signed-in user's
choice, else the browser's) before each page renders and gives templates `lang`."""

import re

from markupsafe import escape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from app import i18n
from app.paths import CONSOLE_TEMPLATES, WEB_TEMPLATES


def staff_language(request: Request) -> str:
    """The language of the staff page this request renders (also what `app.i18n.current()` answers after)."""
    session = getattr(request.state, "staff_session", None)
    # Signed in: the user's choice; a public page that knows whose it is (a set-password link's) sets
    # `request.state.page_user`.
    user = getattr(session, "user", None) or getattr(request.state, "page_user", None)
    language = i18n.choose(getattr(user, "language", None), request.headers.get("accept-language"))
    i18n.use(language)
    return language


def _language_context(request: Request) -> dict:
    # Starlette lays these over the handler's own context: keep the names apart from handlers' keys.
    return {"lang": staff_language(request), "staff_languages": i18n.LANGUAGES}


console_templates = Jinja2Templates(directory=str(CONSOLE_TEMPLATES), context_processors=[_language_context])
console_templates.env.add_extension("jinja2.ext.i18n")
# Newstyle gettext marks what it returns as safe markup and then %-formats it. That is right for the
# catalog's own messages (reviewed text; a {% trans %} block may hold <kbd> or <strong>). A message
# shown as it came (`{{ _(error) }}`) is no catalog id when it quotes what someone typed: it is
# escaped, and a lone "%" in it ("Between 0% and 100%.") is kept as it is by doubling it.
_PERCENT = re.compile(r"%%|%(?!\()")


def _kept(message_id: str, text: str) -> str:
    if i18n.is_message(message_id):
        return text
    return _PERCENT.sub(lambda m: m.group(0) if m.group(0) == "%%" else "%%", str(escape(text)))


def _gettext(message: str) -> str:
    return _kept(message, i18n.gettext(message))


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _kept(singular, i18n.ngettext(singular, plural, n))


def _pgettext(context: str, message: str) -> str:
    return _kept(message, i18n.pgettext(context, message))


console_templates.env.install_gettext_callables(_gettext, _ngettext, newstyle=True, pgettext=_pgettext)
console_templates.env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace folded, as extracted
site_templates = Jinja2Templates(directory=str(WEB_TEMPLATES))
