"""Text as the search reads it: lower case, Chinese cut into words (jieba's search mode, which also
yields the shorter words inside a long one: 退货政策 → 退货 政策 退货政策), everything else split at
what is not a letter or a digit. Articles are stored and queries are asked in this form, so both
databases' full-text search, which split at spaces, see Chinese words.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import jieba
from markdown_it import MarkdownIt

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_lock = threading.Lock()
_ready = False
_md = MarkdownIt("commonmark")


def warm() -> None:
    """Load jieba's dictionary now (about a second, once per process) rather than at the first search."""
    global _ready
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _ready = True


async def ready() -> None:
    """Load jieba's dictionary, if it is not yet, on a thread: the first Chinese search or save of a
    worker waits for it (about a second) without holding up the worker's other chats."""
    if not _ready:
        await asyncio.to_thread(warm)


def words(text: str) -> list[str]:
    """The words of `text` in reading order, lower case; Chinese segmented."""
    out: list[str] = []
    for token in _WORD.findall(text or ""):
        if not _HAN.search(token):
            out.append(token.lower())
            continue
        for part in re.split(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)", token):
            if not part:
                continue
            if _HAN.fullmatch(part):
                warm()
                out.extend(w for w in jieba.cut_for_search(part) if w.strip())
            else:
                out.append(part.lower())
    return out


def segment(text: str) -> str:
    """`text` as stored for search: its words joined by spaces."""
    return " ".join(words(text))


def has_chinese(text: str) -> bool:
    return bool(_HAN.search(text or ""))


def plain(markdown: str) -> str:
    """The readable text of a Markdown body (no markup, no link targets), for search and excerpts."""
    parts: list[str] = []

    def walk(tokens) -> None:
        for token in tokens:
            if token.children:
                walk(token.children)
            elif token.type in ("text", "code_inline", "code_block", "fence"):
                parts.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                parts.append(" ")
        parts.append(" ")

    walk(_md.parse(markdown or ""))
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def excerpt(markdown: str, size: int = 160) -> str:
    text = plain(markdown)
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"
