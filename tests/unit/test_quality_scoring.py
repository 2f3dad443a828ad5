"""The QA score (docs/kpis.md "Quality score"): weights, not applicable, critical criteria, validation."""

import pytest

from app.quality import scoring
from app.quality.scoring import ScorecardError, parse_sections, score


def card(*criteria):
    return parse_sections([{"title": "Conversation", "criteria": list(criteria)}])


def test_weights_and_the_five_point_scale():
    sections = card({"label": "Greets", "weight": 1},
                    {"label": "Solves", "scale": "five", "weight": 3},
                    {"label": "Closes", "weight": 2})
    keys = [c["key"] for c in scoring.criteria(sections)]
    assert keys == ["c1", "c2", "c3"]
    # 100 × (1×1 + 3×0.75 + 2×0) ÷ 6 = 54.166… → 54.2
    result = score(sections, {"c1": "yes", "c2": "4", "c3": "no"})
    assert result == scoring.Result(54.2, False, 6.0)


def test_not_applicable_leaves_the_criterion_and_its_weight_out():
    sections = card({"label": "Greets", "weight": 1}, {"label": "Transfers well", "weight": 5})
    assert score(sections, {"c1": "yes", "c2": "na"}).score == 100.0
    assert score(sections, {"c1": "no", "c2": "na"}).score == 0.0
    assert score(sections, {"c1": "na", "c2": "na"}) == scoring.Result(None, False, 0.0)


def test_a_critical_no_fails_the_whole_evaluation():
    sections = card({"label": "Greets", "weight": 10}, {"label": "Verifies identity", "critical": True, "weight": 1})
    assert score(sections, {"c1": "yes", "c2": "no"}) == scoring.Result(0.0, True, 11.0)
    assert score(sections, {"c1": "yes", "c2": "yes"}).score == 100.0
    assert score(sections, {"c1": "yes", "c2": "na"}) == scoring.Result(100.0, False, 10.0)


def test_every_criterion_must_be_answered_with_a_value_of_its_scale():
    sections = card({"label": "Greets"}, {"label": "Solves", "scale": "five"})
    with pytest.raises(ScorecardError) as missing:
        score(sections, {"c1": "yes"})
    assert missing.value.field == "c2"
    with pytest.raises(ScorecardError):
        score(sections, {"c1": "yes", "c2": "6"})
    with pytest.raises(ScorecardError):
        score(sections, {"c1": "3", "c2": "3"})
    assert score(sections, {"c1": "yes", "c2": 5}).score == 100.0


def test_keys_sent_back_stay_and_new_criteria_get_free_ones():
    sections = parse_sections([{"title": "A", "criteria": [{"key": "c2", "label": "Old"}, {"label": "New"}]}])
    assert [c["key"] for c in scoring.criteria(sections)] == ["c2", "c1"]


@pytest.mark.parametrize("raw, field", [
    ([], "sections"),
    ("x", "sections"),
    ([{"title": "", "criteria": [{"label": "a"}]}], "sections.0.title"),
    ([{"title": "A", "criteria": []}], "sections.0.criteria"),
    ([{"title": "A", "criteria": [{"label": "a", "weight": 0}]}], "sections.0.criteria.0.weight"),
    ([{"title": "A", "criteria": [{"label": "a", "weight": float("nan")}]}], "sections.0.criteria.0.weight"),
    ([{"title": "A", "criteria": [{"label": "a", "weight": True}]}], "sections.0.criteria.0.weight"),
    ([{"title": "A", "criteria": [{"label": "a", "scale": "ten"}]}], "sections.0.criteria.0.scale"),
    ([{"title": "A", "criteria": [{"label": "a", "scale": "five", "critical": True}]}], "sections.0.criteria.0.critical"),
    ([{"title": "A", "criteria": [{"label": "a", "auto": "mind_reading"}]}], "sections.0.criteria.0.auto"),
    ([{"title": "A", "criteria": [{"label": "x" * 201}]}], "sections.0.criteria.0.label"),
    ([{"title": "A", "criteria": [{"key": "k", "label": "a"}, {"key": "k", "label": "b"}]}], "sections.0.criteria.1.key"),
    ([{"title": "A", "criteria": [{"label": "a"}] * 61}], "sections"),
])
def test_bad_scorecards_are_refused_with_the_field(raw, field):
    with pytest.raises(ScorecardError) as refused:
        parse_sections(raw)
    assert refused.value.field == field
