"""The untranslated-text walk: what a staff page shows in Chinese that is still English.

`assert_translated(page, where)` reads every visible text node of the page (and what a screen reader
or a hover shows: aria-label, placeholder, title, alt, option and optgroup labels, the document
title) and fails on:

- a text that is an English catalog message (a template's or the console's) whose Chinese differs —
  a string that is marked but was shown without its translation;
- English words left in a text: a string nobody marked. Proper names and data are not words to
  translate: acronyms (CSV, SLA, CSAT…), the product's name, e-mail addresses, URLs, paths, domain
  names, and what a test passes in `allow` (patterns of its own data). Content inside
  `translate="no"` (the HTML attribute for data such as names, page titles and visitors' messages)
  is skipped; and the data a page marks so is data too where an attribute, an option's label or the
  document title repeats it ("Edit Claims" on the button of the department Claims).

`exclude`: CSS selectors of parts of the page that are not the staff's to translate (the visitor
widget in the admin's preview follows its own language); they are not read.
"""

from __future__ import annotations

import re
from functools import cache

from tests.support.catalogs import chinese

# Names and words that stay as they are in a Chinese page.
PROPER_NAMES = ("Switchboard", "English", "Erlang", "Markdown", "Chromium", "Chrome", "Firefox", "Safari", "Edge",
                "Windows", "Linux", "macOS", "Android", "iOS", "Google", "Bing", "Baidu", "WeChat", "Intl", "Enter",
                "Esc", "Tab", "Shift", "Ctrl", "Alt", "Cmd", "Poisson", "Holt", "Winters", "statsmodels",
                "Pearson", "Spearman")
DATA = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),        # e-mail addresses
    re.compile(r"\bhttps?://\S+"),                      # URLs
    re.compile(r"(?<![\w])/[\w\-./?=&#%:]*"),           # paths
    re.compile(r"\b[\w-]+(\.[\w-]+)*\.[a-z]{2,}\b"),   # domain names, file names
    re.compile(r"\b[A-Z][a-z]+/[A-Z][\w/+-]+"),        # time zones (Asia/Shanghai)
    re.compile(r"\{[\w.]+\}"),                          # template variables shown as such ({visitor.name})
    re.compile(r"\b(?:" + "|".join(PROPER_NAMES) + r")\b"),
    re.compile(r"\b[A-Z0-9]{2,6}s?\b"),                 # acronyms and codes: CSV, SLA, CSAT, AHT, P1, CSRs
    re.compile(r"\b[A-Za-z]\b"),                        # a single letter: units (s, h), list markers
]
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")

_COLLECT = """
([within, exclude]) => {
  const found = [];
  // `within`: a CSS selector; only that element (the first match) is read, and not the document title.
  const root = within ? document.querySelector(within) : document.body;
  if (!root) return null;
  const excluded = (exclude || []).join(", ");
  // What the page marks as data (translate="no"; an input's value), longest first: taken out of
  // attributes, option labels and the title.
  const data = [...new Set([...document.querySelectorAll("[translate=no]")]
    .map((el) => ((el.tagName === "INPUT" ? el.value : el.textContent) || "").replace(/\\s+/g, " ").trim())
    .filter((text) => text.length > 1))]
    .sort((a, b) => b.length - a.length);
  const withoutData = (text) => data.reduce((rest, item) => rest.split(item).join(" "), text || "");
  const add = (text, where) => {
    text = (text || "").replace(/\\s+/g, " ").trim();
    if (text) found.push([text, where]);
  };
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.classList.length) s += "." + [...el.classList].slice(0, 2).join(".");
    return s;
  };
  const skipped = (el) => !!el.closest("script, style, noscript, template, [translate=no]") ||
    (!!excluded && !!el.closest(excluded));
  const shown = (el) => {
    if (el.tagName === "OPTION" || el.tagName === "OPTGROUP") {
      const select = el.closest("select, datalist");
      return !!select && (select.tagName === "DATALIST" || select.checkVisibility({ visibilityProperty: true }));
    }
    return el.checkVisibility({ visibilityProperty: true, opacityProperty: false });
  };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || skipped(el) || !shown(el)) continue;
    const label = el.tagName === "OPTION" || el.tagName === "OPTGROUP";  // a choice's label, like an attribute
    add(label ? withoutData(walker.currentNode.textContent) : walker.currentNode.textContent, describe(el));
  }
  const labelled = "[aria-label], [placeholder], [title], img[alt], optgroup[label], input[type=submit], input[type=button]";
  const own = within && root.matches(labelled) ? [root] : [];
  for (const el of [...own, ...root.querySelectorAll(labelled)]) {
    if (skipped(el) || !shown(el)) continue;
    for (const name of ["aria-label", "placeholder", "title", "alt", "label"]) {
      if (el.hasAttribute(name)) add(withoutData(el.getAttribute(name)), describe(el) + "@" + name);
    }
    if (el.tagName === "INPUT" && (el.type === "submit" || el.type === "button")) add(el.value, describe(el) + "@value");
  }
  if (!within) add(withoutData(document.title), "title");
  return found;
}
"""


@cache
def _english_messages() -> list[re.Pattern]:
    """Each English message whose Chinese differs, as a whole-text pattern ({x} / %(x)s: anything)."""
    patterns = []
    for english, translated in chinese().items():
        if not english.strip() or translated == english or (isinstance(translated, dict) and english in translated.values()):
            continue
        parts = re.split(r"\{\w+\}|%\(\w+\)[sd]", english)
        if not any(re.search(r"[A-Za-z]{2,}", p) for p in parts):
            continue
        patterns.append(re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$"))
    return patterns


def english_left(text: str, allow: tuple[re.Pattern | str, ...] = ()) -> list[str]:
    """The English words in `text` once data, proper names and `allow` are taken out."""
    for pattern in (*allow, *DATA):
        text = re.sub(pattern, " ", text) if isinstance(pattern, str) else pattern.sub(" ", text)
    return WORD.findall(text)


async def untranslated(page, allow: tuple[re.Pattern | str, ...] = (), exclude: tuple[str, ...] = (),
                       within: str | None = None) -> list[str]:
    """What `page` shows that is still English: 'text  (where: why)' lines, not inside `exclude`
    (CSS selectors) and, when `within` (a CSS selector) is given, only inside its first match."""
    problems = []
    found = await page.evaluate(_COLLECT, [within, list(exclude)])
    assert found is not None, f"nothing on the page matches {within!r}"
    for text, where in found:
        if any(p.match(text) for p in _english_messages()):
            problems.append(f"{text!r}  ({where}: an English catalog message)")
            continue
        words = english_left(text, allow)
        if words:
            problems.append(f"{text!r}  ({where}: English words {words[:6]})")
    return sorted(set(problems))


async def assert_translated(page, where: str, allow: tuple[re.Pattern | str, ...] = (),
                            exclude: tuple[str, ...] = (), within: str | None = None) -> None:
    """Fails with the list of what `page` (signed in as a user whose Language is 简体中文) still
    shows in English, leaving out the parts `exclude` selects (only inside `within` when given)."""
    assert await page.evaluate("document.documentElement.lang") == "zh-CN", f"{where} is not served in Chinese"
    problems = await untranslated(page, allow, exclude, within)
    assert not problems, f"{where} still shows English:\n" + "\n".join(problems)
