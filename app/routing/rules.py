"""Routing rules that need no database: the visitor's browser languages and the department
whose languages match them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
MAX_LANGUAGES = 8


def languages(accept_language: str | None) -> list[str]:
    """The languages of an Accept-Language header, most preferred first, lower case:
    "de-CH,de;q=0.9,en;q=0.5" → ["de-ch", "de", "en"]. Malformed parts are skipped; q=0 means
    "not this one"."""
    if not accept_language or len(accept_language) > 1000:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not _TAG.match(tag):
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality <= 0:
            continue
        weighted.append((-quality, position, tag.lower()))
    seen: list[str] = []
    for _, _, tag in sorted(weighted):
        if tag not in seen:
            seen.append(tag)
    return seen[:MAX_LANGUAGES]


def matches(preferred: str, configured: str) -> bool:
    """"de-ch" matches a department's "de" and "de-ch"; "de" does not match "de-ch"."""
    return preferred == configured or preferred.startswith(configured + "-")


def department_for_languages(departments: Iterable[Any], preferred: list[str]) -> Any | None:
    """The first department (in the given order) serving the visitor's most preferred language
    that any department serves; None when none does."""
    departments = list(departments)
    for language in preferred:
        for department in departments:
            configured = department.route_languages if isinstance(department.route_languages, list) else []
            if any(isinstance(c, str) and matches(language, c.lower()) for c in configured):
                return department
    return None
