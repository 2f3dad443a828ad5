"""Forecast contact volume per 30-minute slot, and check the forecast against baselines.

``history`` is the chronological list of volumes, one per 30-minute slot, with no gaps
(a slot with no chats is 0). The weekly season is ``m = 336`` slots (48 a day x 7).

Methods (each returns ``horizon`` non-negative values for the slots right after ``history``):

* seasonal naive: ``f(n + h) = y(n - m + (h mod m))`` -- the same slot in the last week.
* seasonal mean: ``f(n + h) = mean_{i=1..k} y(n - i*m + (h mod m))`` with ``k = min(weeks, n // m)``.
* Holt-Winters additive smoothing (level, optional damped trend, season) from statsmodels'
  ``ExponentialSmoothing``, see :func:`holt_winters`.

Error measure: ``WAPE = sum |actual - forecast| / sum |actual|`` (None when the actuals are
all zero). The backtest is rolling-origin: origins ``n - k*horizon`` for ``k = folds..1``,
each fold forecasting the next ``horizon`` slots from everything before its origin, and the
absolute errors and actuals are pooled over all folds before dividing.
:func:`choose_forecast` only picks Holt-Winters when its backtest WAPE is strictly below both
baselines'; otherwise it picks the better baseline (seasonal naive on a tie).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

__all__ = [
    "HOLT_WINTERS",
    "METHODS",
    "SEASON",
    "SEASONAL_MEAN",
    "SEASONAL_NAIVE",
    "ForecastChoice",
    "backtest",
    "choose_forecast",
    "holt_winters",
    "seasonal_mean",
    "seasonal_naive",
    "wape",
]

#: Slots in a week of 30-minute intervals.
SEASON = 336

SEASONAL_NAIVE = "seasonal_naive"
SEASONAL_MEAN = "seasonal_mean"
HOLT_WINTERS = "holt_winters"
METHODS: tuple[str, ...] = (SEASONAL_NAIVE, SEASONAL_MEAN, HOLT_WINTERS)

Method = Callable[[Sequence[float], int], list[float]]


# --------------------------------------------------------------------------- validation


def _series(history: Sequence[float], name: str = "history") -> list[float]:
    values: list[float] = []
    for value in history:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"{name} must hold numbers, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"{name} must hold finite non-negative volumes, got {value!r}")
        values.append(number)
    return values


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _need(values: list[float], slots: int, what: str) -> None:
    if len(values) < slots:
        raise ValueError(f"{what} needs at least {slots} slots of history, got {len(values)}")


# --------------------------------------------------------------------------- error measure


def wape(actual: Sequence[float], forecast: Sequence[float]) -> float | None:
    """Weighted absolute percentage error ``sum |a - f| / sum |a|``; None if ``sum |a| == 0``."""
    if len(actual) != len(forecast):
        raise ValueError(f"actual and forecast differ in length ({len(actual)} != {len(forecast)})")
    if not actual:
        raise ValueError("WAPE needs at least one value")
    error = math.fsum(abs(float(a) - float(f)) for a, f in zip(actual, forecast))
    scale = math.fsum(abs(float(a)) for a in actual)
    return None if scale == 0 else error / scale


# --------------------------------------------------------------------------- baselines


def seasonal_naive(history: Sequence[float], horizon: int, season: int = SEASON) -> list[float]:
    """Seasonal naive: ``f(n + h) = y(n - m + (h mod m))`` for ``h = 0..horizon-1``."""
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    _need(values, season, "seasonal naive")
    n = len(values)
    return [values[n - season + h % season] for h in range(horizon)]


def seasonal_mean(
    history: Sequence[float], horizon: int, weeks: int = 4, season: int = SEASON
) -> list[float]:
    """Mean of the same slot over the last ``k = min(weeks, n // m)`` seasons.

    ``f(n + h) = (1/k) * sum_{i=1..k} y(n - i*m + (h mod m))``.
    """
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    weeks = _positive_int("weeks", weeks)
    season = _positive_int("season", season)
    _need(values, season, "seasonal mean")
    n = len(values)
    k = min(weeks, n // season)
    return [
        math.fsum(values[n - i * season + h % season] for i in range(1, k + 1)) / k
        for h in range(horizon)
    ]


# --------------------------------------------------------------------------- Holt-Winters


def holt_winters(
    history: Sequence[float],
    horizon: int,
    season: int = SEASON,
    trend: bool | None = None,
) -> list[float]:
    """Additive Holt-Winters exponential smoothing (statsmodels' ``ExponentialSmoothing``).

    Level ``l``, optional additive damped trend ``b`` (damping ``phi``) and additive season
    ``s`` of ``m`` slots::

        l' = alpha*(y_t - s) + (1 - alpha)*(l + phi*b)
        b' = beta*(l' - l) + (1 - beta)*phi*b
        s' = gamma*(y_t - l') + (1 - gamma)*s
        f(n + h) = max(0, l + (phi + ... + phi^(h+1))*b + s_{(n + h) mod m})

    The start values come from statsmodels' heuristic initialisation (a decomposition of the
    first seasons), so it needs two full seasons; alpha, beta, gamma and phi are fitted by
    maximum likelihood. ``trend=None`` fits both with and without a trend and keeps the model
    with the smaller AICc; ``True`` / ``False`` force one.
    """
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    _need(values, 2 * season, "Holt-Winters")
    if season < 2:
        raise ValueError("Holt-Winters needs a season of at least 2 slots")
    # Imported here: the baselines and the backtest stay usable without the scientific stack.
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    data = np.asarray(values, dtype=float)
    if not data.any():
        return [0.0] * horizon  # nothing ever arrived: nothing to smooth
    options = (False, True) if trend is None else (bool(trend),)
    best = None
    for with_trend in options:
        model = ExponentialSmoothing(
            data,
            trend="add" if with_trend else None,
            damped_trend=with_trend,
            seasonal="add",
            seasonal_periods=season,
            initialization_method="heuristic",
        )
        with warnings.catch_warnings():
            # The optimiser reports slow convergence on flat or sparse series; the fit is still usable.
            warnings.simplefilter("ignore")
            fit = model.fit(optimized=True)
        score = fit.aicc if math.isfinite(fit.aicc) else math.inf
        if best is None or score < best[0]:
            best = (score, fit)
    assert best is not None
    forecast = best[1].forecast(horizon)
    return [max(0.0, float(v)) if math.isfinite(float(v)) else 0.0 for v in forecast]


# --------------------------------------------------------------------------- backtest


def backtest(
    history: Sequence[float], method: Method, horizon: int, folds: int
) -> float | None:
    """Rolling-origin WAPE of ``method(train, horizon)`` over ``folds`` folds.

    Fold ``k`` (``k = folds..1``) trains on ``history[:n - k*horizon]`` and is scored on the
    next ``horizon`` slots; ``WAPE = sum over folds of sum |a - f| / sum over folds of sum |a|``.
    """
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    folds = _positive_int("folds", folds)
    n = len(values)
    if folds * horizon >= n:
        raise ValueError(f"{folds} folds of {horizon} slots need more than {n} slots of history")
    actual: list[float] = []
    predicted: list[float] = []
    for k in range(folds, 0, -1):
        origin = n - k * horizon
        actual.extend(values[origin : origin + horizon])
        predicted.extend(method(values[:origin], horizon))
    return wape(actual, predicted)


@dataclass(frozen=True)
class ForecastChoice:
    """The chosen forecast, every method's backtest WAPE (None = not scored) and the choice."""

    forecast: list[float]
    chosen: str
    wape: dict[str, float | None] = field(default_factory=dict)
    folds: int = 0
    horizon: int = 0


def choose_forecast(
    history: Sequence[float],
    horizon: int,
    season: int = SEASON,
    weeks: int = 4,
    folds: int = 4,
) -> ForecastChoice:
    """Backtest all methods on the same rolling origins and forecast with the winner.

    Folds used: ``min(folds, (n - m) // horizon)`` so every origin has a full season for the
    baselines; Holt-Winters is scored only when the earliest origin has two seasons. The
    better baseline wins (seasonal naive on a tie, or when nothing could be scored);
    Holt-Winters is chosen only when its WAPE is strictly below both baselines' WAPE.
    Needs at least one full season of history.
    """
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    weeks = _positive_int("weeks", weeks)
    folds = _positive_int("folds", folds)
    _need(values, season, "forecasting")
    n = len(values)

    methods: dict[str, Method] = {
        SEASONAL_NAIVE: lambda train, h: seasonal_naive(train, h, season),
        SEASONAL_MEAN: lambda train, h: seasonal_mean(train, h, weeks, season),
        HOLT_WINTERS: lambda train, h: holt_winters(train, h, season),
    }
    used = min(folds, (n - season) // horizon)
    scores: dict[str, float | None] = {name: None for name in METHODS}
    if used >= 1:
        earliest = n - used * horizon
        for name in (SEASONAL_NAIVE, SEASONAL_MEAN):
            scores[name] = backtest(values, methods[name], horizon, used)
        if earliest >= 2 * season:
            scores[HOLT_WINTERS] = backtest(values, methods[HOLT_WINTERS], horizon, used)

    naive, mean_ = scores[SEASONAL_NAIVE], scores[SEASONAL_MEAN]
    chosen = SEASONAL_MEAN if naive is not None and mean_ is not None and mean_ < naive else SEASONAL_NAIVE
    smooth = scores[HOLT_WINTERS]
    if (
        smooth is not None
        and naive is not None
        and mean_ is not None
        and smooth < naive
        and smooth < mean_
    ):
        chosen = HOLT_WINTERS
    return ForecastChoice(
        forecast=methods[chosen](values, horizon),
        chosen=chosen,
        wape=scores,
        folds=used,
        horizon=horizon,
    )
