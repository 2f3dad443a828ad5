"""The staff side's message catalogs are whole: every message the templates, the web handlers and the
console's JavaScript use has a Chinese translation, and no catalog keeps a message nobody uses.

- Templates and app/web: ids extracted as `make messages` does (babel.cfg, keyword N_); the
  English catalog is the template `app/locale/messages.pot`, the Chinese one
  `app/locale/zh_CN/LC_MESSAGES/messages.po`.
- JavaScript: `t("…")` and `tn("…", "…", n)` in agent_ui/src; the catalog is every
  agent_ui/locales/zh-CN/*.json merged (as agent_ui/build.mjs merges it).
"""

from __future__ import annotations

import json

from tests.support.catalogs import (
    JS_T, JS_TC, JS_TN, LOCALE, PLACEHOLDER, PY_FORMAT, js_catalog, js_uses, po, template_ids,
)


def test_the_english_template_holds_exactly_the_ids_the_pages_use():
    used = template_ids()
    english = {m.id if isinstance(m.id, str) else m.id[0] for m in po(LOCALE / "messages.pot") if m.id}
    assert used - english == set(), "run `make messages`: ids used but not in messages.pot"
    assert english - used == set(), "run `make messages`: ids in messages.pot that nothing uses"


def test_every_template_message_has_a_chinese_translation_and_no_unused_ones():
    used = template_ids()
    catalog = po(LOCALE / "zh_CN" / "LC_MESSAGES" / "messages.po")
    ids = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert used - set(ids) == set(), "ids without a Chinese entry (run `make messages`, then translate)"
    assert set(ids) - used == set(), "Chinese entries nothing uses any more"
    untranslated = sorted(key for key, m in ids.items()
                          if "fuzzy" in m.flags or not (m.string if isinstance(m.string, str) else all(m.string)))
    assert untranslated == [], "untranslated (or fuzzy) entries"
    wrong = []
    for key, m in ids.items():
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        sources = [m.id] if isinstance(m.id, str) else list(m.id)
        wanted = set().union(*(set(PY_FORMAT.findall(s)) for s in sources))
        for text in strings:
            if set(PY_FORMAT.findall(text)) - wanted or (len(sources) == 1 and set(PY_FORMAT.findall(text)) != wanted):
                wrong.append(key)
    assert wrong == [], "translations whose %(name)s placeholders differ from the English"


def test_every_console_message_has_a_chinese_translation_and_no_unused_ones():
    singles, plurals = js_uses()
    catalog = js_catalog("zh-CN")
    used = singles | plurals
    assert sorted(used - set(catalog)) == [], "t()/tn() ids without a zh-CN entry in agent_ui/locales/zh-CN/"
    assert sorted(set(catalog) - used) == [], "zh-CN entries no t()/tn() uses"
    wrong_shape = sorted(k for k in singles if not isinstance(catalog[k], str) or not catalog[k].strip())
    wrong_shape += sorted(k for k in plurals if not (isinstance(catalog[k], dict) and catalog[k].get("other")))
    assert wrong_shape == [], "t() needs a non-empty string, tn() an object with at least `other`"
    placeholders = []
    for key in used:
        texts = list(catalog[key].values()) if isinstance(catalog[key], dict) else [catalog[key]]
        wanted = set(PLACEHOLDER.findall(key)) | ({"n"} if key in plurals else set())
        placeholders += [key for text in texts if not set(PLACEHOLDER.findall(text)) <= wanted]
    assert placeholders == [], "translations with {placeholders} the English does not have"


def test_the_extractor_sees_the_ways_the_console_calls_t():
    source = 't("Close chat") + tn("{n} chat", "{n} chats", count) + at("x") + x.t("y") + t("A \\"quoted\\" word", {a: 1})'
    assert {json.loads(f'"{m}"') for m in JS_T.findall(source)} == {"Close chat", 'A "quoted" word'}
    assert [one for one, _ in JS_TN.findall(source)] == ["{n} chat"]
    assert JS_TC.findall('tc("traffic source", "Internal") + etc("a", "b")') == [("traffic source", "Internal")]
