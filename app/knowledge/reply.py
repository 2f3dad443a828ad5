"""An article as a chat reply ("Insert text" in the console's Knowledge panel): each paragraph,
heading and list item a line, links as "text (address)", no Markdown syntax, bounded like a chat
message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt

MAX_TEXT = 5_000  # a chat message's most

_md = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_SCHEMES = ("http://", "https://", "mailto:")


def _target(href: str, article_url: Callable[[int], str | None] | None) -> str | None:
    """Where a link of the body goes, as a reader of a chat may follow it (None: nowhere to show)."""
    if href.startswith("article:"):
        rest = href[len("article:"):]
        return article_url(int(rest)) if article_url and rest.isdigit() and len(rest) < 12 else None
    if href.lower().startswith(_SCHEMES):
        return href[len("mailto:"):] if href.lower().startswith("mailto:") else href
    return None


def _inline(children, article_url) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children or ():
        kind = child.type
        if kind in ("text", "code_inline"):
            out.append(child.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "link_open":
            links.append((str(child.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(out[start:]).strip()
            target = _target(href, article_url)
            if target and target != label:
                out.append(f" ({target})" if label else target)
    return "".join(out)


def reply_text(markdown: str, *, article_url: Callable[[int], str | None] | None = None,
               most: int = MAX_TEXT) -> str:
    """An article body as a chat reply: each paragraph, heading and list item a line (items marked
    "• " or "1. "), blocks apart by an empty line, links as "text (address)", no images, no
    Markdown syntax; at most `most` characters (cut at a word, with "…")."""
    lines: list[str] = []
    lists: list[list[Any]] = []  # [ordered, number] of each open list
    marker: str | None = None  # the marker of a list item whose first line is still to come
    row: list[str] | None = None
    for token in _md.parse(markdown or ""):
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([False, 0])
        elif kind == "ordered_list_open":
            start = str(token.attrGet("start") or "1")
            lists.append([True, int(start) - 1 if start.isdigit() and len(start) < 9 else 0])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            lists[-1][1] += 1
            ordered, number = lists[-1]
            marker = "  " * (len(lists) - 1) + (f"{number}. " if ordered else "• ")
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            lines.append(" · ".join(cell for cell in row if cell))
            row = None
        elif kind == "inline":
            line = _inline(token.children, article_url).strip()
            if row is not None:
                row.append(line)
            elif marker is not None:
                lines.append(marker + line)
                marker = None
            elif line:
                lines.append("  " * len(lists) + line if lists else line)
        elif kind in ("fence", "code_block"):
            lines.append(token.content.rstrip("\n"))
        if token.level == 0 and (kind.endswith("_close") or kind in ("fence", "code_block")):
            lines.append("")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > most:
        cut = text[: most - 1]
        space = max(cut.rfind(" "), cut.rfind("\n"))
        text = (cut[:space] if space > most // 2 else cut).rstrip() + "…"
    return text
