"""A chat's transcript as the visitor gets it by mail — pure: plain values in, (subject, text) out.

In the visitor's language (`LANGUAGES`: English, Simplified Chinese) with every time in their time
zone when the widget told it (an IANA name), else in UTC — and the mail says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LANGUAGES = ("en", "zh-CN")

_TEXT = {
    "en": {
        "subject": "Your chat with {site}",
        "intro": "Here is the transcript of your chat with {site}, as you asked.",
        "started": "Started: {at}",
        "ended": "Ended: {at}",
        "zone": "Times are in {zone}.",
        "you": "You",
        "system": "Notice",
        "agent": "Support",
        "footer": "You receive this mail because you asked for it in the chat.",
    },
    "zh-CN": {
        "subject": "您与 {site} 的对话记录",
        "intro": "以下是您与 {site} 的对话记录（应您的要求发送）。",
        "started": "开始时间：{at}",
        "ended": "结束时间：{at}",
        "zone": "时间均为 {zone} 时间。",
        "you": "我",
        "system": "通知",
        "agent": "客服",
        "footer": "您收到此邮件是因为您在对话中请求了对话记录。",
    },
}


@dataclass(frozen=True)
class Line:
    """One message the visitor saw: who wrote it (visitor, agent, system), their name, when, what."""

    sender: str
    author: str | None
    at: datetime
    body: str


def language_of(preferred: list[str] | tuple[str, ...] | None) -> str:
    """The first of the visitor's languages a transcript is written in (zh* → Simplified Chinese); English otherwise."""
    for tag in preferred or ():
        tag = str(tag).lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def _local(at: datetime, zone: ZoneInfo | timezone) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def render(*, site: str, language: str, time_zone: str | None, started_at: datetime, ended_at: datetime | None,
           lines: list[Line]) -> tuple[str, str]:
    """(subject, plain-text body) of a transcript. `time_zone` None: the times are in UTC, said so."""
    text = _TEXT.get(language, _TEXT["en"])
    zone: ZoneInfo | timezone = ZoneInfo(time_zone) if time_zone else timezone.utc
    out = [text["intro"].format(site=site), "",
           text["started"].format(at=_local(started_at, zone))]
    if ended_at is not None:
        out.append(text["ended"].format(at=_local(ended_at, zone)))
    out += [text["zone"].format(zone=time_zone or "UTC"), ""]
    for line in lines:
        who = text["you"] if line.sender == "visitor" else text["system"] if line.sender == "system" \
            else line.author or text["agent"]
        out.append(f"[{_local(line.at, zone)}] {who}:")
        out += [f"  {row}" for row in line.body.splitlines() or [""]]
    out += ["", "-- ", text["footer"]]
    subject = text["subject"].format(site=" ".join(site.split())[:200])
    return subject, "\n".join(out) + "\n"
