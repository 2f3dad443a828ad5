"""Calibration math (app/quality/calibration.py): the spread of evaluators' answers, the score
spread, and the evaluator-deviation report by week and month."""

from __future__ import annotations

from datetime import date

import pytest

from app.quality import calibration

SECTIONS = [{"title": "S", "criteria": [
    {"key": "c1", "label": "Greets", "scale": "yes_no", "weight": 1.0, "guidance": "", "critical": False,
     "auto": None, "auto_param": None},
    {"key": "c2", "label": "Solves", "scale": "five", "weight": 3.0, "guidance": "", "critical": False,
     "auto": None, "auto_param": None},
]}]


def test_yes_no_spread_is_the_share_agreeing_with_the_mode():
    s = calibration.spread("yes_no", ["yes", "yes", "no", "yes"])
    assert (s.count, s.mode, s.agreement, s.range) == (4, "yes", 0.75, None)
    tie = calibration.spread("yes_no", ["no", "yes"])  # a tie: the scale's first answer is the mode
    assert (tie.mode, tie.agreement) == ("yes", 0.5)
    assert calibration.spread("yes_no", []).agreement is None
    assert calibration.spread("yes_no", ["na", "na"]).agreement == 1.0


def test_five_point_spread_has_range_and_population_sd_without_na():
    s = calibration.spread("five", ["2", "4", "4", "na"])
    assert (s.mode, s.agreement) == ("4", 0.5)
    assert (s.low, s.high, s.range) == (2, 4, 2)
    # mean 10/3; deviations² (16/9 + 4/9 + 4/9) / 3 = 8/9 → sd 0.9428…
    assert s.stdev == 0.94
    same = calibration.spread("five", ["3", "3"])
    assert (same.range, same.stdev, same.agreement) == (0, 0.0, 1.0)


def test_score_spread_is_max_minus_min():
    assert calibration.score_spread([75.0, 50.0, None, 62.5]) == 25.0
    assert calibration.score_spread([None]) is None


def test_agreed_score_needs_every_criterion():
    assert calibration.agreed_score(SECTIONS, {"c1": "yes"}) is None
    assert calibration.agreed_score(SECTIONS, {"c1": "yes", "c2": "3"}) == 62.5  # (1 + 3 × 0.5) ÷ 4


def test_deviation_by_week_and_month():
    agreed = {"c1": "yes", "c2": "3"}
    rows = [
        # Monday 2 March and Thursday 5 March 2026: one week; 10 March the next.
        {"evaluator_id": 1, "day": date(2026, 3, 2), "answers": {"c1": "yes", "c2": "5"}, "score": 100.0,
         "agreed": agreed, "agreed_score": 62.5},
        {"evaluator_id": 1, "day": date(2026, 3, 5), "answers": {"c1": "yes", "c2": "3"}, "score": 62.5,
         "agreed": agreed, "agreed_score": 62.5},
        {"evaluator_id": 2, "day": date(2026, 3, 5), "answers": {"c1": "no", "c2": "3"}, "score": 37.5,
         "agreed": {"c1": "yes"}, "agreed_score": None},  # only c1 agreed: no score gap
        {"evaluator_id": 1, "day": date(2026, 3, 10), "answers": {"c1": "no", "c2": "1"}, "score": 0.0,
         "agreed": agreed, "agreed_score": 62.5},
    ]
    week = calibration.deviation(rows, "week")
    assert [(r.period, r.evaluator_id, r.answers, r.differing, r.share, r.mean_score_gap) for r in week] == [
        (date(2026, 3, 2), 1, 4, 1, 0.25, 18.8),  # |100 − 62.5| and 0 → 37.5 ÷ 2 = 18.75
        (date(2026, 3, 2), 2, 1, 1, 1.0, None),
        (date(2026, 3, 9), 1, 2, 2, 1.0, 62.5),
    ]
    month = calibration.deviation(rows, "month")
    assert [(r.period, r.evaluator_id, r.answers, r.differing, r.chats_scored) for r in month] == [
        (date(2026, 3, 1), 1, 6, 3, 3), (date(2026, 3, 1), 2, 1, 1, 0)]
    with pytest.raises(ValueError):
        calibration.deviation(rows, "year")
