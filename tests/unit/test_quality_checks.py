"""The automatic checks (app/quality/checks.py) and the scorecard's phrases for them."""

from datetime import datetime, timedelta, timezone

import pytest

from app.quality import checks
from app.quality.scoring import ScorecardError, parse_sections

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def facts(messages=(), **kw):
    base = dict(waiting_since=T0, assigned_at=at(5), first_response_at=at(15), closed_at=at(600), category_id=None,
                threshold_seconds=20, messages=[checks.Msg(k, b, at(s)) for k, b, s in messages], transfers=[])
    base.update(kw)
    return checks.Facts(**base)


def test_first_response_within_the_threshold():
    assert checks.first_response(facts()) == "yes"  # 15 s ≤ 20 s
    assert checks.first_response(facts(first_response_at=at(20))) == "yes"
    assert checks.first_response(facts(first_response_at=at(21))) == "no"
    assert checks.first_response(facts(first_response_at=at(21)), 30) == "yes"  # the criterion's own threshold
    assert checks.first_response(facts(first_response_at=None)) == "no"


def test_a_gap_while_the_visitor_waited():
    chat = [("visitor", "hi", 1), ("agent", "Hello", 15), ("visitor", "my order?", 30), ("agent", "Let me see", 100)]
    assert checks.reply_gap(facts(chat)) == "yes"  # 70 s
    assert checks.reply_gap(facts(chat), 60) == "no"
    slow = chat + [("visitor", "still there?", 200), ("agent", "yes", 330)]  # 130 s > 120
    assert checks.reply_gap(facts(slow)) == "no"
    # A message before the assignment waits from the assignment; the queue is not the CSR's gap.
    assert checks.reply_gap(facts([("visitor", "hi", 0), ("agent", "Hello", 100)], assigned_at=at(90))) == "yes"
    # Left unanswered until the close.
    assert checks.reply_gap(facts(chat + [("visitor", "hello?", 300)], closed_at=at(500))) == "no"
    assert checks.reply_gap(facts(chat + [("visitor", "thanks", 300)], closed_at=at(310))) == "yes"
    # Internal notes and system messages are no reply.
    assert checks.reply_gap(facts([("visitor", "a", 10), ("internal", "note", 20), ("agent", "b", 200)])) == "no"
    assert checks.reply_gap(facts([("agent", "Hello", 10)])) == "na"
    assert checks.reply_gap(facts([("visitor", "a", 10)], assigned_at=None)) == "na"


def test_category_and_transfer_notes():
    assert checks.category(facts()) == "no"
    assert checks.category(facts(category_id=3)) == "yes"
    assert checks.transfer_note(facts()) == "na"
    assert checks.transfer_note(facts(transfers=[True])) == "yes"
    assert checks.transfer_note(facts(transfers=[True, False])) == "no"


def test_greeting_and_closing_phrases_in_both_languages():
    english = [("visitor", "hi", 1), ("agent", "Hello, how can I help?", 15), ("agent", "One moment", 20),
               ("agent", "Done. Anything else?", 90)]
    assert checks.greeting(facts(english)) == "yes"
    assert checks.closing(facts(english)) == "yes"
    chinese = [("agent", "您好，请问有什么可以帮您？", 15), ("agent", "好的，祝您生活愉快", 90)]
    assert checks.greeting(facts(chinese)) == "yes"
    assert checks.closing(facts(chinese)) == "yes"
    rude = [("agent", "What do you want", 15), ("agent", "This is it", 90)]  # "hi" inside "This" is no greeting
    assert checks.greeting(facts(rude)) == "no"
    assert checks.closing(facts(rude)) == "no"
    assert checks.greeting(facts([("visitor", "hello", 1)])) == "no"  # the visitor's greeting does not count
    # A greeting late in the chat is not the opening.
    assert checks.greeting(facts([("agent", "ok", 1), ("agent", "ok", 2), ("agent", "hello", 3)])) == "no"
    assert checks.greeting(facts([("agent", "Howdy partner", 1)]), phrases=["howdy"]) == "yes"
    assert checks.greeting(facts([("agent", "Hello", 1)]), phrases=["howdy"]) == "no"  # own phrases replace


def test_run_all_answers_the_criteria_with_a_check():
    sections = parse_sections([{"title": "A", "criteria": [
        {"label": "Greets", "auto": "greeting", "phrases": "Howdy\n\n howdy \nG'day"},
        {"label": "Fast", "auto": "first_response", "auto_param": 10},
        {"label": "Solves", "scale": "five"},
        {"label": "Notes", "auto": "transfer_note"}]}])
    assert sections[0]["criteria"][0]["phrases"] == ["Howdy", "howdy", "G'day"]
    assert "phrases" not in sections[0]["criteria"][1]
    answers = checks.run_all(sections, facts([("agent", "Howdy!", 15)]))
    assert answers == {"c1": "yes", "c2": "no", "c4": "na"}


@pytest.mark.parametrize("criterion, field", [
    ({"label": "a", "auto": "category", "phrases": ["x"]}, "phrases"),
    ({"label": "a", "auto": "greeting", "phrases": [1]}, "phrases"),
    ({"label": "a", "auto": "greeting", "phrases": {"en": "x"}}, "phrases"),
    ({"label": "a", "auto": "closing", "phrases": ["x" * 101]}, "phrases"),
    ({"label": "a", "auto": "closing", "phrases": [str(i) for i in range(31)]}, "phrases"),
    ({"label": "a", "auto": "nonsense"}, "auto"),
    ({"label": "a", "auto": "reply_gap", "auto_param": "120"}, "auto_param"),
])
def test_bad_phrases_and_checks_are_refused(criterion, field):
    with pytest.raises(ScorecardError) as error:
        parse_sections([{"title": "A", "criteria": [criterion]}])
    assert error.value.field == f"sections.0.criteria.0.{field}"
