"""Articles' Markdown as HTML anyone may be shown.

CommonMark (markdown-it-py) with raw HTML off: `<script>` typed in an article is text. Links to other
articles are written `[text](article:12)` and images `![alt](image:34)`; `render` turns them into
real addresses through the caller's resolvers (an unknown or unreadable article: the link's text
only). Whatever comes out is cleaned by nh3 (ammonia) with a short list of tags and attributes and
the http / https / mailto schemes only — a second line of defence should a rule above ever let
something through. Links leave in a new tab without the opener.
"""

from __future__ import annotations

from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt

TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "del", "s"}
ATTRIBUTES = {"a": {"href", "title", "target"}, "img": {"src", "alt", "title"}, "ol": {"start"},
              "th": {"align"}, "td": {"align"}}
SCHEMES = {"http", "https", "mailto"}

Resolver = Callable[[int], str | None]

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table") \
    .enable("strikethrough")


def _ref(value: str, scheme: str) -> int | None:
    if not value.startswith(scheme + ":"):
        return None
    rest = value[len(scheme) + 1:]
    return int(rest) if rest.isdigit() and len(rest) < 12 else None


def references(markdown: str) -> tuple[set[int], set[int]]:
    """(article ids, image ids) the body refers to."""
    articles: set[int] = set()
    images: set[int] = set()
    for token in _md.parse(markdown or ""):
        for child in token.children or ():
            if child.type == "link_open":
                ref = _ref(str(child.attrGet("href") or ""), "article")
                if ref is not None:
                    articles.add(ref)
            elif child.type == "image":
                ref = _ref(str(child.attrGet("src") or ""), "image")
                if ref is not None:
                    images.add(ref)
    return articles, images


def render(markdown: str, *, article_url: Resolver | None = None, image_url: Resolver | None = None) -> str:
    """Sanitised HTML of an article body."""
    tokens = _md.parse(markdown or "")
    for token in tokens:
        children = token.children or []
        dropped: list[int] = []
        for index, child in enumerate(children):
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                if href.startswith("article:"):
                    ref = _ref(href, "article")
                    url = article_url(ref) if ref is not None and article_url else None
                    if url is None:  # the link's text stays, the link goes
                        dropped.append(index)
                        depth, j = 1, index + 1
                        while j < len(children) and depth:
                            depth += {"link_open": 1, "link_close": -1}.get(children[j].type, 0)
                            if depth == 0:
                                dropped.append(j)
                            j += 1
                        continue
                    child.attrSet("href", url)
            elif child.type == "image":
                src = str(child.attrGet("src") or "")
                if src.startswith("image:"):
                    ref = _ref(src, "image")
                    url = image_url(ref) if ref is not None and image_url else None
                    child.attrSet("src", url or "")
        if dropped:
            token.children = [c for i, c in enumerate(children) if i not in set(dropped)]
    html = _md.renderer.render(tokens, _md.options, {})
    return clean(html)


def clean(html: str) -> str:
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="noopener noreferrer nofollow",
                     set_tag_attribute_values={"a": {"target": "_blank"}}, strip_comments=True)
