"""Scorecards and the QA score: pure rules, no database (docs/kpis.md "Quality score").

A scorecard version is a list of sections, each a list of criteria:

    {"key": "c3", "label": "Greets the visitor", "scale": "yes_no" | "five", "weight": 2,
     "guidance": "…", "critical": False, "auto": None | "first_response" | …, "auto_param": …,
     "phrases": […]}  # greeting / closing checks only: their own phrases ([] → the defaults)

`parse_sections` checks what an admin form or an API call sends and returns the normalised list
(keys filled in, weights as numbers); it raises `ScorecardError(field, message)` for the first
problem. `score` computes an evaluation's score from the answers:

- each answered criterion gives a fraction: yes = 1, no = 0; on the five-point scale 1 → 0,
  2 → 0.25, 3 → 0.5, 4 → 0.75, 5 → 1; "na" (not applicable) leaves the criterion out entirely
  (its weight too);
- score = 100 × Σ(weight × fraction) ÷ Σ(weight) over the criteria that are not N/A, rounded to
  one decimal; no applicable criterion → no score (None);
- a **critical** criterion (yes / no scale only) answered "no" fails the whole evaluation: the score
  is 0 and `critical_failed` is set, whatever the other answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCALES = ("yes_no", "five")
ANSWERS = {"yes_no": ("yes", "no", "na"), "five": ("1", "2", "3", "4", "5", "na")}
# Criteria the evaluation page pre-fills from the event log (app/quality/checks.py).
AUTO_CHECKS = ("first_response", "reply_gap", "category", "transfer_note", "greeting", "closing")
MAX_SECTIONS = 20
MAX_CRITERIA = 60  # in all sections together
MAX_TITLE = 100
MAX_LABEL = 200
MAX_GUIDANCE = 1000
MAX_WEIGHT = 100.0
MAX_KEY = 32
MAX_PHRASES = 30
MAX_PHRASE = 100
PHRASE_CHECKS = ("greeting", "closing")  # the checks that take a list of phrases


class ScorecardError(ValueError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.field = field
        self.message = message
        self.values = values


@dataclass(frozen=True)
class Result:
    score: float | None
    critical_failed: bool
    weight_counted: float


def _text(value: object, field: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ScorecardError(field, "Must be text.")
    value = value.strip()
    if required and not value:
        raise ScorecardError(field, "Cannot be empty.")
    if len(value) > limit:
        raise ScorecardError(field, "At most %(limit)s characters.", limit=limit)
    return value


def parse_sections(raw: object) -> list[dict]:
    """The normalised sections of a scorecard version, or ScorecardError for the first problem."""
    if not isinstance(raw, list) or not raw:
        raise ScorecardError("sections", "A scorecard needs at least one section.")
    if len(raw) > MAX_SECTIONS:
        raise ScorecardError("sections", "At most %(limit)s sections.", limit=MAX_SECTIONS)
    sections: list[dict] = []
    keys: set[str] = set()
    count = 0
    for i, section in enumerate(raw):
        where = f"sections.{i}"
        if not isinstance(section, dict):
            raise ScorecardError(where, "A section must be an object.")
        title = _text(section.get("title"), f"{where}.title", MAX_TITLE, True)
        criteria = section.get("criteria")
        if not isinstance(criteria, list) or not criteria:
            raise ScorecardError(f"{where}.criteria", "A section needs at least one criterion.")
        parsed: list[dict] = []
        for j, item in enumerate(criteria):
            count += 1
            if count > MAX_CRITERIA:
                raise ScorecardError("sections", "At most %(limit)s criteria.", limit=MAX_CRITERIA)
            parsed.append(_criterion(item, f"{where}.criteria.{j}", keys))
        sections.append({"title": title, "criteria": parsed})
    # Criteria without a key get the next free "c<n>" (keys stay stable across versions when sent back).
    n = 1
    for section in sections:
        for criterion in section["criteria"]:
            if not criterion["key"]:
                while f"c{n}" in keys:
                    n += 1
                criterion["key"] = f"c{n}"
                keys.add(criterion["key"])
    return sections


def _criterion(item: object, where: str, keys: set[str]) -> dict:
    if not isinstance(item, dict):
        raise ScorecardError(where, "A criterion must be an object.")
    key = item.get("key") or ""
    if not isinstance(key, str) or len(key) > MAX_KEY or (key and not key.replace("_", "").isalnum()):
        raise ScorecardError(f"{where}.key", "A key is up to %(limit)s letters, digits or underscores.", limit=MAX_KEY)
    if key and key in keys:
        raise ScorecardError(f"{where}.key", "Two criteria have the same key.")
    if key:
        keys.add(key)
    label = _text(item.get("label"), f"{where}.label", MAX_LABEL, True)
    scale = item.get("scale", "yes_no")
    if scale not in SCALES:
        raise ScorecardError(f"{where}.scale", "Choose a scale: yes / no / not applicable, or 1–5.")
    weight = item.get("weight", 1)
    if isinstance(weight, str):
        try:
            weight = float(weight.strip())
        except ValueError:
            raise ScorecardError(f"{where}.weight", "A weight is a number.") from None
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ScorecardError(f"{where}.weight", "A weight is a number.")
    if not 0 < weight <= MAX_WEIGHT:
        raise ScorecardError(f"{where}.weight", "A weight is above 0 and at most %(limit)s.", limit=int(MAX_WEIGHT))
    guidance = _text(item.get("guidance"), f"{where}.guidance", MAX_GUIDANCE, False)
    critical = item.get("critical", False)
    if not isinstance(critical, bool):
        raise ScorecardError(f"{where}.critical", "Critical is yes or no.")
    if critical and scale != "yes_no":
        raise ScorecardError(f"{where}.critical", "Only a yes / no criterion can be critical.")
    auto = item.get("auto") or None
    if auto is not None and auto not in AUTO_CHECKS:
        raise ScorecardError(f"{where}.auto", "Unknown automatic check.")
    if auto is not None and scale != "yes_no":
        raise ScorecardError(f"{where}.auto", "Automatic checks answer yes / no: use the yes / no scale.")
    auto_param = item.get("auto_param")
    if auto_param is not None:
        if isinstance(auto_param, bool) or not isinstance(auto_param, (int, float)) or not math.isfinite(auto_param) \
                or not 0 < auto_param <= 86400:
            raise ScorecardError(f"{where}.auto_param", "A number of seconds from 1 to 86400.")
    out = {"key": key, "label": label, "scale": scale, "weight": float(weight), "guidance": guidance,
           "critical": critical, "auto": auto, "auto_param": auto_param}
    phrases = _phrases(item.get("phrases"), f"{where}.phrases")
    if phrases and auto not in PHRASE_CHECKS:
        raise ScorecardError(f"{where}.phrases", "Phrases are for the greeting and closing checks only.")
    if auto in PHRASE_CHECKS:
        out["phrases"] = phrases  # [] → the default lists of every language (app/quality/checks.py)
    return out


def _phrases(raw: object, field: str) -> list[str]:
    """A greeting / closing check's own phrases: a list of text, or one phrase a line."""
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ScorecardError(field, "Phrases are a list of text.")
    phrases: list[str] = []
    for p in raw:
        p = p.strip()
        if not p or p in phrases:
            continue
        if len(p) > MAX_PHRASE:
            raise ScorecardError(field, "A phrase is at most %(limit)s characters.", limit=MAX_PHRASE)
        phrases.append(p)
    if len(phrases) > MAX_PHRASES:
        raise ScorecardError(field, "At most %(limit)s phrases.", limit=MAX_PHRASES)
    return phrases


def criteria(sections: list[dict]) -> list[dict]:
    """Every criterion of a version, in order."""
    return [c for s in sections for c in s["criteria"]]


def fraction(scale: str, value: str) -> float | None:
    """What one answer counts for (None: not applicable)."""
    if value == "na":
        return None
    if scale == "yes_no":
        return 1.0 if value == "yes" else 0.0
    return (int(value) - 1) / 4


def check_answer(criterion: dict, value: object) -> str:
    """An answer valid for the criterion's scale, or ScorecardError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value not in ANSWERS[criterion["scale"]]:
        raise ScorecardError(criterion["key"], "Choose one of: %(choices)s.",
                             choices=", ".join(ANSWERS[criterion["scale"]]))
    return value


def score(sections: list[dict], answers: dict[str, str]) -> Result:
    """The evaluation's score. Every criterion must be answered (ScorecardError names the first
    one that is not, or whose answer does not fit its scale)."""
    total = 0.0
    weight = 0.0
    failed = False
    for criterion in criteria(sections):
        if criterion["key"] not in answers:
            raise ScorecardError(criterion["key"], "Answer every criterion (not applicable counts as an answer).")
        value = check_answer(criterion, answers[criterion["key"]])
        part = fraction(criterion["scale"], value)
        if part is None:
            continue
        if criterion["critical"] and value == "no":
            failed = True
        total += criterion["weight"] * part
        weight += criterion["weight"]
    if failed:
        return Result(0.0, True, weight)
    if weight == 0:
        return Result(None, False, 0.0)
    return Result(round(100 * total / weight, 1), False, weight)
