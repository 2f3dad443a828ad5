"""User-agent parsing, cached per distinct string (parsing costs ~100 µs)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from user_agents import parse


@dataclass(frozen=True)
class Device:
    browser: str | None
    os: str | None
    device: str  # desktop | mobile | tablet | bot | other
    is_bot: bool


def _family_version(family: str, version: str) -> str | None:
    if not family or family == "other":
        return None
    return f"{family} {version}".strip() if version else family


@lru_cache(maxsize=4096)
def classify(user_agent: str | None) -> Device:
    if not user_agent:
        return Device(None, None, "other", False)
    ua = parse(user_agent[:512])
    if ua.is_bot:
        kind = "bot"
    elif ua.is_tablet:
        kind = "tablet"
    elif ua.is_mobile:
        kind = "mobile"
    elif ua.is_pc:
        kind = "desktop"
    else:
        kind = "other"
    major = str(ua.browser.version[0]) if ua.browser.version else ""
    return Device(
        browser=_family_version(ua.browser.family, major),
        os=_family_version(ua.os.family, ua.os.version_string),
        device=kind,
        is_bot=ua.is_bot,
    )
