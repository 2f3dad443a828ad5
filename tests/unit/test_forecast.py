"""Volume forecasts: the two seasonal baselines, statsmodels' Holt-Winters smoothing, the
rolling-origin backtest (WAPE) and the rule that smoothing is used only when it beats both."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from app.kpi import forecast
from app.kpi.forecast import (
    HOLT_WINTERS, SEASONAL_MEAN, SEASONAL_NAIVE, backtest, choose_forecast, holt_winters, seasonal_mean,
    seasonal_naive, wape,
)

M = 24  # a short season keeps the statsmodels fits quick; the weekly one is m = 336


def seasonal(weeks: int, *, m: int = M, trend: float = 0.0, noise: float = 0.0, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    profile = [5 + 4 * math.sin(2 * math.pi * i / m) for i in range(m)]
    return [max(0.0, profile[t % m] + trend * t + rng.gauss(0, noise)) for t in range(weeks * m)]


# --- error measure and baselines -------------------------------------------------------


def test_wape():
    assert wape([10, 0, 30], [12, 1, 27]) == pytest.approx((2 + 1 + 3) / 40)
    assert wape([0, 0], [1, 2]) is None
    with pytest.raises(ValueError):
        wape([1, 2], [1])
    with pytest.raises(ValueError):
        wape([], [])


def test_seasonal_naive_repeats_last_week():
    history = list(range(10))  # season 4: the last season is 6, 7, 8, 9
    assert seasonal_naive(history, 6, season=4) == [6, 7, 8, 9, 6, 7]
    with pytest.raises(ValueError, match="at least 4 slots"):
        seasonal_naive([1, 2, 3], 1, season=4)


def test_seasonal_mean_averages_the_same_slot():
    history = [1, 2, 3, 5, 6, 7]  # seasons of 3: (1,2,3) and (5,6,7)
    assert seasonal_mean(history, 4, weeks=2, season=3) == [3, 4, 5, 3]
    assert seasonal_mean(history, 2, weeks=1, season=3) == [5, 6]
    assert seasonal_mean(history, 2, weeks=9, season=3) == [3, 4]  # k = min(weeks, n // m)


@pytest.mark.parametrize("bad", [[1, -1, 2], [1, float("nan")], ["3"], [True]])
def test_volumes_must_be_non_negative_numbers(bad):
    with pytest.raises(ValueError):
        seasonal_naive(bad * 4, 1, season=2)


# --- Holt-Winters from statsmodels -----------------------------------------------------


def test_holt_winters_is_statsmodels_exponential_smoothing():
    history = seasonal(4, noise=0.5)
    ours = holt_winters(history, 10, season=M, trend=False)
    fit = ExponentialSmoothing(np.asarray(history), trend=None, seasonal="add", seasonal_periods=M,
                               initialization_method="heuristic").fit(optimized=True)
    assert ours == pytest.approx([max(0.0, v) for v in fit.forecast(10)])


def test_holt_winters_learns_a_clean_season():
    history = seasonal(4)
    predicted = holt_winters(history, 2 * M, season=M)
    assert predicted == pytest.approx(seasonal(6)[4 * M:], abs=0.05)


def test_holt_winters_follows_a_trend_the_baselines_lag_behind():
    history = seasonal(8, trend=0.05, noise=0.2)
    actual = seasonal(9, trend=0.05, noise=0.0)[8 * M:]
    smooth = wape(actual, holt_winters(history, M, season=M, trend=True))
    naive = wape(actual, seasonal_naive(history, M, season=M))
    assert smooth < naive / 2


def test_holt_winters_never_forecasts_negative_volume_and_needs_two_seasons():
    falling = [max(0.0, 20 - 0.2 * t + (3 if t % 4 == 0 else 0)) for t in range(4 * 8)]
    assert all(v >= 0 for v in holt_winters(falling, 16, season=8, trend=True))
    assert holt_winters([0.0] * 16, 5, season=8) == [0.0] * 5
    with pytest.raises(ValueError, match="at least 48 slots"):
        holt_winters([1.0] * 47, 1, season=24)


# --- backtest and the choice -----------------------------------------------------------


def test_backtest_pools_errors_over_rolling_origins():
    history = [1.0] * 6 + [2.0, 4.0]
    seen = []

    def last_value(train, h):
        seen.append(len(train))
        return [train[-1]] * h

    # origins 6 and 7: forecasts [1] for actual [2], then [2] for actual [4] → (1 + 2) / (2 + 4)
    assert backtest(history, last_value, horizon=1, folds=2) == pytest.approx(0.5)
    assert seen == [6, 7]
    with pytest.raises(ValueError, match="more than 8 slots"):
        backtest(history, last_value, horizon=4, folds=2)


def _oracle(full):
    return lambda train, h, season=M: list(full[len(train):len(train) + h]) or [0.0] * h


def test_smoothing_is_used_only_when_it_beats_both_baselines(monkeypatch):
    full = seasonal(8, noise=1.0) + seasonal(1, noise=1.0, seed=99)
    history = full[: 8 * M]

    # A perfect smoother (it sees the actuals) wins...
    monkeypatch.setattr(forecast, "holt_winters", lambda train, h, season: _oracle(full)(train, h))
    choice = choose_forecast(history, M, season=M, folds=3)
    assert choice.chosen == HOLT_WINTERS and choice.wape[HOLT_WINTERS] == 0.0 and choice.folds == 3

    # ...one that only ties with the better baseline does not...
    monkeypatch.setattr(forecast, "holt_winters", lambda train, h, season: seasonal_naive(train, h, season))
    choice = choose_forecast(history, M, season=M, folds=3)
    assert choice.wape[HOLT_WINTERS] == choice.wape[SEASONAL_NAIVE]
    assert choice.chosen in (SEASONAL_NAIVE, SEASONAL_MEAN) and choice.chosen != HOLT_WINTERS

    # ...and a poor one never does.
    monkeypatch.setattr(forecast, "holt_winters", lambda train, h, season: [0.0] * h)
    choice = choose_forecast(history, M, season=M, folds=3)
    assert choice.wape[HOLT_WINTERS] == pytest.approx(1.0)
    best = min((SEASONAL_NAIVE, SEASONAL_MEAN), key=lambda k: (choice.wape[k], k != SEASONAL_NAIVE))
    assert choice.chosen == best
    assert choice.forecast == (seasonal_naive(history, M, M) if best == SEASONAL_NAIVE
                               else seasonal_mean(history, M, 4, M))


def test_with_real_smoothing_on_a_trend_it_wins_and_forecasts():
    history = seasonal(8, trend=0.05, noise=0.2)
    choice = choose_forecast(history, M, season=M, folds=3)
    assert choice.chosen == HOLT_WINTERS
    assert choice.wape[HOLT_WINTERS] < min(choice.wape[SEASONAL_NAIVE], choice.wape[SEASONAL_MEAN])
    assert choice.forecast == pytest.approx(holt_winters(history, M, season=M))


def test_short_history_scores_only_the_baselines():
    history = seasonal(2, noise=0.5)  # two seasons: origins have one season, too few for smoothing
    choice = choose_forecast(history, M, season=M, folds=4)
    assert choice.folds == 1 and choice.wape[HOLT_WINTERS] is None
    assert choice.chosen in (SEASONAL_NAIVE, SEASONAL_MEAN)
    with pytest.raises(ValueError, match="at least 24 slots"):
        choose_forecast([1.0] * 23, 4, season=M)
