"""The staff side's message catalogs, read as the catalog check and the untranslated-text walk need
them: the ids the templates, app/web and the console's JavaScript use, and the Chinese catalogs."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "app" / "locale"
JS_SOURCES = ROOT / "agent_ui" / "src"
JS_CATALOGS = ROOT / "agent_ui" / "locales"

_STRING = r'"((?:[^"\\\n]|\\.)*)"'
JS_T = re.compile(r"(?<![\w$.])t\(\s*" + _STRING + r"\s*[,)]")
JS_TC = re.compile(r"(?<![\w$.])tc\(\s*" + _STRING + r"\s*,\s*" + _STRING + r"\s*[,)]")
JS_TN = re.compile(r"(?<![\w$.])tn\(\s*" + _STRING + r"\s*,\s*" + _STRING + r"\s*,")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PY_FORMAT = re.compile(r"%\((\w+)\)s")


@cache
def template_ids() -> set[str]:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    # As the Makefile's `messages` target: Babel's defaults and MESSAGE_KEYWORDS.
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
                "ServiceError": (2,), "_refuse": (2,), "error": (2,), "endpoint": (2,), "refuse": (2,), "ScorecardError": (2,)}
    ids: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def po(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def code_lines(path: Path) -> str:
    """The file without its comment lines (the examples in comments are not uses)."""
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith(("//", "/*", "*")))


@cache
def js_uses() -> tuple[set[str], set[str]]:
    singles: set[str] = set()
    plurals: set[str] = set()
    for path in sorted(JS_SOURCES.rglob("*.js")):
        source = code_lines(path)
        other_quotes = re.findall(r"(?<![\w$.])t[nc]?\(\s*['`]", source)
        assert not other_quotes, f"{path.name}: t()/tn()/tc() ids are double-quoted literals (the check reads them)"
        singles |= {json.loads(f'"{m}"') for m in JS_T.findall(source)}
        singles |= {json.loads(f'"{context}|{m}"') for context, m in JS_TC.findall(source)}
        plurals |= {json.loads(f'"{one}"') for one, _ in JS_TN.findall(source)}
    return singles, plurals


@cache
def js_catalog(language: str) -> dict:
    merged: dict = {}
    for path in sorted((JS_CATALOGS / language).glob("*.json")):
        for key, value in json.loads(path.read_text(encoding="utf-8")).items():
            assert merged.get(key, value) == value, f"{path.name}: {key!r} is translated differently elsewhere"
            merged[key] = value
    return merged




@cache
def chinese() -> dict[str, str | tuple | dict]:
    """English id → its Chinese translation, templates' and console's together (plurals: the
    template's (singular, plural) id → its forms; the console's singular id → {category: text})."""
    found: dict = {}
    for m in po(LOCALE / "zh_CN" / "LC_MESSAGES" / "messages.po"):
        if m.id:
            if isinstance(m.id, str):
                found[m.id] = m.string
            else:
                found[m.id[0]] = m.string[0] if m.string else ""
                found[m.id[1]] = m.string[0] if m.string else ""
    for key, value in js_catalog("zh-CN").items():
        context, bar, english = key.partition("|")  # tc(): "context|English"
        if bar:
            found.setdefault(english, value)
        else:
            found[key] = value
    return found
