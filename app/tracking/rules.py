"""Conditions of automatic invitation rules: checked, and matched against what we know of a
visitor. Pure: no database, no clock (the caller passes the facts).

A rule's conditions, all optional, combined with AND:

| key | value | true when |
|---|---|---|
| `url` | a path pattern, e.g. `/pricing*` (fnmatch, case-sensitive) | the current page's path matches |
| `min_seconds_on_page` | 0…86,400 | the visitor has been on this page at least that long |
| `min_seconds_on_site` | 0…86,400 | this visit began at least that long ago |
| `min_pages` | 1…1,000 | pages seen in this visit |
| `referrer_type` | direct / internal / search / social / email / paid / other | the visit's referrer is of that type |
| `referrer_domain` | a host, e.g. `google.com` | the visit's referrer host is it or a subdomain of it |
| `keyword` | text | the visit's search keywords contain it (case-insensitive) |
| `country` | list of ISO codes | the visitor's country is one of them |
| `device` | desktop / mobile / tablet | the visitor's device |
| `visitor` | new / returning | first visit or not |
| `attribute` | `{name, equals}` | an identify attribute has that value, compared as typed values: a number equals the same number (5 and 5.0), true/false only a boolean, text only the same text |
| `event` | a custom event name | the visitor fired it (`Switchboard('track', …)`) |

The widget runs the timing (it asks when the page and site times are reached); the server
checks every condition again with its own facts before an invitation is shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

REFERRER_TYPES = ("direct", "internal", "search", "social", "email", "paid", "other")
DEVICES = ("desktop", "mobile", "tablet")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HOST = re.compile(r"^[a-z0-9.-]{1,253}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# What the widget needs to time a rule (the rest it cannot know or need not).
CLIENT_KEYS = ("url", "min_seconds_on_page", "min_seconds_on_site", "min_pages")
TIME_SLACK_SECONDS = 3  # the widget's clock and the server's disagree a little


class RuleError(ValueError):
    """Conditions that cannot be used; the message says which and why."""


def _int(conditions: Mapping, key: str, low: int, high: int) -> int | None:
    value = conditions.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(f"{key} must be a whole number from {low} to {high}.")
    return value


def validate(conditions: Any) -> dict[str, Any]:
    """The conditions, checked and normalised; RuleError on anything unknown or malformed."""
    if not isinstance(conditions, Mapping):
        raise RuleError("The conditions are an object.")
    known = {"url", "min_seconds_on_page", "min_seconds_on_site", "min_pages", "referrer_type", "referrer_domain",
             "keyword", "country", "device", "visitor", "attribute", "event"}
    unknown = sorted(set(conditions) - known)
    if unknown:
        raise RuleError(f"Unknown condition: {', '.join(unknown)}.")
    out: dict[str, Any] = {}
    url = conditions.get("url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith("/") or len(url) > 200:
            raise RuleError("url is a path pattern such as /pricing* (at most 200 characters).")
        out["url"] = url
    for key, low, high in (("min_seconds_on_page", 0, 86_400), ("min_seconds_on_site", 0, 86_400),
                           ("min_pages", 1, 1000)):
        value = _int(conditions, key, low, high)
        if value is not None:
            out[key] = value
    if conditions.get("referrer_type") is not None:
        if conditions["referrer_type"] not in REFERRER_TYPES:
            raise RuleError(f"referrer_type is one of {', '.join(REFERRER_TYPES)}.")
        out["referrer_type"] = conditions["referrer_type"]
    domain = conditions.get("referrer_domain")
    if domain is not None:
        domain = domain.strip().lower().removeprefix("www.") if isinstance(domain, str) else None
        if not domain or not _HOST.match(domain):
            raise RuleError("referrer_domain is a host name such as google.com.")
        out["referrer_domain"] = domain
    keyword = conditions.get("keyword")
    if keyword is not None:
        if not isinstance(keyword, str) or not keyword.strip() or len(keyword) > 100:
            raise RuleError("keyword is a word or phrase of at most 100 characters.")
        out["keyword"] = keyword.strip().lower()
    country = conditions.get("country")
    if country is not None:
        codes = [country] if isinstance(country, str) else country
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and _COUNTRY.match(c.upper())
                                                               for c in codes):
            raise RuleError("country is a list of two-letter country codes such as [\"DE\", \"AT\"].")
        out["country"] = sorted({c.upper() for c in codes})
    if conditions.get("device") is not None:
        if conditions["device"] not in DEVICES:
            raise RuleError(f"device is one of {', '.join(DEVICES)}.")
        out["device"] = conditions["device"]
    if conditions.get("visitor") is not None:
        if conditions["visitor"] not in ("new", "returning"):
            raise RuleError("visitor is new or returning.")
        out["visitor"] = conditions["visitor"]
    attribute = conditions.get("attribute")
    if attribute is not None:
        if not isinstance(attribute, Mapping) or not isinstance(attribute.get("name"), str) \
                or not _NAME.match(attribute["name"]) or "equals" not in attribute \
                or not isinstance(attribute["equals"], (str, int, float, bool)) \
                or (isinstance(attribute["equals"], str) and len(attribute["equals"]) > 500) \
                or (isinstance(attribute["equals"], float) and not math.isfinite(attribute["equals"])):
            raise RuleError("attribute is {\"name\": …, \"equals\": a string, number or true/false}.")
        out["attribute"] = {"name": attribute["name"], "equals": attribute["equals"]}
    event = conditions.get("event")
    if event is not None:
        if not isinstance(event, str) or not _NAME.match(event):
            raise RuleError("event is a custom event name (letters, digits, _ . : -).")
        out["event"] = event
    return out


@dataclass
class Facts:
    """What the server knows of a visitor now."""

    url: str | None = None
    seconds_on_page: float = 0.0
    seconds_on_site: float = 0.0
    pages: int = 0
    referrer_type: str | None = None
    referrer_domain: str | None = None
    keywords: str | None = None
    country: str | None = None
    device: str | None = None
    returning: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)


def _path(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return None


def failed(conditions: Mapping[str, Any], facts: Facts, slack: float = TIME_SLACK_SECONDS) -> list[str]:
    """The conditions this visitor does not meet (empty: the rule matches)."""
    missed: list[str] = []
    if "url" in conditions:
        path = _path(facts.url)
        if path is None or not fnmatchcase(path, conditions["url"]):
            missed.append("url")
    if facts.seconds_on_page + slack < conditions.get("min_seconds_on_page", 0):
        missed.append("min_seconds_on_page")
    if facts.seconds_on_site + slack < conditions.get("min_seconds_on_site", 0):
        missed.append("min_seconds_on_site")
    if facts.pages < conditions.get("min_pages", 0):
        missed.append("min_pages")
    if "referrer_type" in conditions and facts.referrer_type != conditions["referrer_type"]:
        missed.append("referrer_type")
    if "referrer_domain" in conditions:
        domain = (facts.referrer_domain or "").lower().removeprefix("www.")
        wanted = conditions["referrer_domain"]
        if not (domain == wanted or domain.endswith("." + wanted)):
            missed.append("referrer_domain")
    if "keyword" in conditions and conditions["keyword"] not in (facts.keywords or "").lower():
        missed.append("keyword")
    if "country" in conditions and (facts.country or "").upper() not in conditions["country"]:
        missed.append("country")
    if "device" in conditions and facts.device != conditions["device"]:
        missed.append("device")
    if "visitor" in conditions and facts.returning != (conditions["visitor"] == "returning"):
        missed.append("visitor")
    if "attribute" in conditions:
        attribute = conditions["attribute"]
        value = facts.attributes.get(attribute["name"]) if isinstance(facts.attributes, Mapping) else None
        if not same_value(value, attribute["equals"]):
            missed.append("attribute")
    if "event" in conditions and conditions["event"] not in facts.events:
        missed.append("event")
    return missed


def value_type(value: Any) -> str:
    """The type of an attribute value as a rule stores it: "boolean", "number" or "text"."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "text"


def same_value(value: Any, wanted: Any) -> bool:
    """Whether an identified attribute equals a rule's typed value: numbers by value (5 equals
    5.0), booleans only booleans (true is not 1), text only the same text."""
    kind = value_type(wanted)
    if value_type(value) != kind or (kind == "text" and not isinstance(value, str)):
        return False
    return value == wanted


def client_view(rule_id: int, conditions: Mapping[str, Any]) -> dict[str, Any]:
    """What the widget gets to time a rule: its id and the conditions it can watch itself."""
    return {"id": rule_id, **{k: conditions[k] for k in CLIENT_KEYS if k in conditions}}
