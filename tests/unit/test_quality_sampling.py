"""Sampling's pure parts: the stratified draw, spreading over evaluators, the p90, the triggers and the
QA-score-against-CSAT correlation (hand-computed cases)."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

from app.quality import sampling
from app.quality.sampling import Chat, Rule


def chats() -> list[Chat]:
    # CSR 1: 10 chats, CSR 2: 3 chats, CSR 3: 1 chat.
    return ([Chat(i, 1) for i in range(1, 11)] + [Chat(i, 2) for i in range(11, 14)] + [Chat(14, 3)])


def test_every_csr_covered_with_n_each_or_all_they_had():
    drawn = sampling.draw(chats(), per_agent=4, seed="2026-11-30:1")
    per = {a: [c.id for c in drawn if c.agent_id == a] for a in (1, 2, 3)}
    assert len(per[1]) == 4 and set(per[1]) <= set(range(1, 11))
    assert per[2] == [11, 12, 13] and per[3] == [14]
    assert len({c.id for c in drawn}) == len(drawn)  # no chat twice


def test_draw_is_deterministic_for_a_seed_and_varies_with_it():
    first = sampling.draw(chats(), per_agent=3, seed="s")
    assert first == sampling.draw(list(reversed(chats())), per_agent=3, seed="s")
    others = {tuple(c.id for c in sampling.draw(chats(), per_agent=3, seed=f"s{i}")) for i in range(20)}
    assert len(others) > 1


def test_never_an_excluded_chat_and_already_drawn_count():
    exclude = set(range(1, 9))  # evaluated or queued
    drawn = sampling.draw(chats(), per_agent=4, seed="x", exclude=exclude, already={2: 1, 3: 4})
    assert {c.id for c in drawn if c.agent_id == 1} == {9, 10}
    assert len([c for c in drawn if c.agent_id == 2]) == 3 and not [c for c in drawn if c.agent_id == 3]
    assert not {c.id for c in drawn} & exclude


def test_spread_least_loaded_first():
    assert sampling.spread(4, [7, 5], {5: 2, 7: 0}) == [7, 7, 5, 7]
    assert sampling.spread(2, []) == [None, None]


def test_percentile_nearest_rank():
    assert sampling.percentile([]) is None
    assert sampling.percentile(range(1, 11)) == 9  # ceil(0.9 × 10) = 9th value
    assert sampling.percentile([5, 1, 3]) == 5  # ceil(2.7) = 3rd


def test_triggers_on_close_and_rating():
    rule = Rule(on_transfer=True, complaint_categories=frozenset({40}))
    found = sampling.on_close(rule, transfers=1, category_id=41, category_parent_id=40, category_name="Refund",
                              handle_seconds=840, p90_seconds=540, history=20)
    assert [t.reason for t in found] == ["transfer", "complaint", "long_handle"]
    assert found[2].text() == "Handle time 14 min, above the department's 90th percentile of 9 min"
    assert found[1].text() == "Contact category Refund"
    # Too little history, not above, triggers off.
    assert sampling.on_close(Rule(), transfers=2, category_id=None, category_parent_id=None, category_name=None,
                             handle_seconds=840, p90_seconds=540, history=4) == []
    assert sampling.on_close(Rule(), transfers=0, category_id=3, category_parent_id=None, category_name="x",
                             handle_seconds=540, p90_seconds=540, history=9) == []
    assert [t.text() for t in sampling.on_rating(Rule(), "bad")] == ["Rated bad"]
    assert sampling.on_rating(Rule(), "neutral") == [] and sampling.on_rating(Rule(on_bad_rating=False), "bad") == []


def test_localize_reads_a_stored_detail_back():
    text = sampling.on_close(Rule(), transfers=0, category_id=None, category_parent_id=None, category_name=None,
                             handle_seconds=600, p90_seconds=300, history=9)[0].text()
    assert sampling.localize(text, lambda s: s.upper().replace("%(MINUTES)S", "%(minutes)s")
                             .replace("%(P90)S", "%(p90)s")) == \
        "HANDLE TIME 10 MIN, ABOVE THE DEPARTMENT'S 90TH PERCENTILE OF 5 MIN"
    assert sampling.localize("something else", str.upper) == "something else"


def test_week_of_in_the_center_time_zone():
    at = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)  # Sunday 20:00 UTC = Monday 04:00 Shanghai
    assert sampling.week_of(at, "UTC") == date(2026, 11, 23)
    assert sampling.week_of(at, "Asia/Shanghai") == date(2026, 11, 30)


def test_correlation_hand_computed():
    pairs = [(60.0, 0.0), (80.0, 50.0), (90.0, 100.0), (70.0, 100.0)]
    # mean x 75, mean y 62.5; dx = -15, 5, 15, -5; dy = -62.5, -12.5, 37.5, 37.5
    # sxy = 937.5 - 62.5 + 562.5 - 187.5 = 1250; sxx = 500; syy = 3906.25+156.25+1406.25+1406.25 = 6875
    assert math.isclose(sampling.pearson(pairs), 1250 / math.sqrt(500 * 6875))
    # ranks x: 1, 3, 4, 2; y: 1, 2, 3.5, 3.5 → Pearson of the ranks
    assert math.isclose(sampling.spearman(pairs), sampling.pearson([(1, 1), (3, 2), (4, 3.5), (2, 3.5)]))
    # dx = -1.5, .5, 1.5, -.5; dy = -1.5, -.5, 1, 1: sxy = 3, sxx = 5, syy = 4.5
    assert math.isclose(sampling.spearman(pairs), 3 / math.sqrt(22.5))
    assert sampling.pearson(pairs[:2]) is None and sampling.spearman(pairs[:2]) is None  # too few
    assert sampling.pearson([(1, 5), (2, 5), (3, 5)]) is None  # no spread
