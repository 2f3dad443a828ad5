"""Where a visit came from: the referrer's type, its host, the search keywords, the UTM tags.

Search engines, social networks and web-mail hosts come from Snowplow's referer-parser
database (the `referer-parser` package ships it as data); paid traffic is told by the landing
page's own tags (`utm_medium=cpc`, a `gclid` …), as analytics tools do. Pure: plain values in,
plain values out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from referer_parser import Referer

TYPES = ("direct", "internal", "search", "social", "email", "paid", "other")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# utm_medium values that mean an ad was paid for (Google Analytics' default channel grouping).
PAID_MEDIUMS = frozenset({"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "cpm", "cpv", "cpa",
                          "display", "banner", "paid_social", "paidsocial", "paid-social", "retargeting"})
# Click ids that ad networks add to their landing pages.
CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid", "li_fat_id", "dclid", "yclid")
EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "newsletter"})
_MAX_KEYWORDS = 200
_MAX_TAG = 200


@dataclass(frozen=True)
class Source:
    type: str  # one of TYPES
    domain: str | None = None  # the referrer's host, without "www."
    name: str | None = None  # the engine or network, e.g. "Google"
    keywords: str | None = None
    utm: dict[str, str] = field(default_factory=dict)


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


def utm(url: str | None) -> dict[str, str]:
    """The UTM tags of a landing page's URL (the first value of each)."""
    if not url or "utm_" not in url:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=False):
        key = key.lower()
        if key in UTM_KEYS and key not in out and value.strip():
            out[key] = value.strip()[:_MAX_TAG]
    return out


def _click_id(url: str | None) -> bool:
    if not url or "=" not in url:
        return False
    try:
        keys = {k.lower() for k, _ in parse_qsl(urlsplit(url).query)}
    except ValueError:
        return False
    return any(k in keys for k in CLICK_IDS)


@lru_cache(maxsize=4096)
def _lookup(referrer: str) -> tuple[str, str | None, str | None]:
    """(medium, name, search term) from the referrer database, for one referrer URL."""
    found = Referer(referrer)
    term = found.search_term.strip() if found.search_term else None
    return found.medium, found.referer, (term[:_MAX_KEYWORDS] if term else None)


def classify(referrer: str | None, url: str | None) -> Source:
    """Classify the referrer of a visit's landing page `url`."""
    tags = utm(url)
    ref_host = _host(referrer)
    domain = ref_host.removeprefix("www.") if ref_host else None
    page_host = _host(url)
    medium = (tags.get("utm_medium") or "").lower()
    if medium in PAID_MEDIUMS or _click_id(url):
        name = _lookup(referrer)[1] if ref_host else None
        keywords = _lookup(referrer)[2] if ref_host else None
        return Source("paid", domain, name, keywords, tags)
    if ref_host is None:
        if medium in EMAIL_MEDIUMS:
            return Source("email", None, tags.get("utm_source"), None, tags)
        return Source("direct", None, None, None, tags)
    if page_host and (ref_host == page_host or ref_host.removeprefix("www.") == page_host.removeprefix("www.")):
        return Source("internal", domain, None, None, tags)
    kind, name, keywords = _lookup(referrer)
    if kind in ("search", "social", "email"):
        return Source(kind, domain, name, keywords if kind == "search" else None, tags)
    if medium in EMAIL_MEDIUMS:
        return Source("email", domain, tags.get("utm_source"), None, tags)
    return Source("other", domain, None, None, tags)
