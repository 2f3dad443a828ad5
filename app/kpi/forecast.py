"""Forecast contact volume per 30-minute slot, and check the forecast against baselines.

``history`` is the chronological list of volumes, one per 30-minute slot, with no gaps
(a slot with no chats is 0). The weekly season is ``m = 336`` slots (48 a day x 7).

Methods (each returns ``horizon`` non-negative values for the slots right after ``history``):

* seasonal naive: ``f(n + h) = y(n - m + (h mod m))`` -- the same slot in the last week.
* seasonal mean: ``f(n + h) = mean_{i=1..k} y(n - i*m + (h mod m))`` with ``k = min(weeks, n // m)``.
* Holt-Winters additive (level ``l``, optional trend ``b``, seasonal ``s``), see :func:`holt_winters`.

Error measure: ``WAPE = sum |actual - forecast| / sum |actual|`` (None when the actuals are
all zero). The backtest is rolling-origin: origins ``n - k*horizon`` for ``k = folds..1``,
each fold forecasting the next ``horizon`` slots from everything before its origin, and the
absolute errors and actuals are pooled over all folds before dividing.
:func:`choose_forecast` only picks Holt-Winters when its backtest WAPE is strictly below both
baselines'; otherwise it picks the better baseline (seasonal naive on a tie).
"""

from __future__ import annotations

import math
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

#: Parameter grid searched by :func:`holt_winters` when parameters are not given.
#: ``beta=None`` means no trend component.
_ALPHAS = (0.05, 0.2, 0.5)
_BETAS: tuple[float | None, ...] = (None, 0.01, 0.05)
_GAMMAS = (0.05, 0.2, 0.5)

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


def _smoothing(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


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


@dataclass(frozen=True)
class _HoltWintersFit:
    sse: float
    level: float
    trend: float
    seasonal: tuple[float, ...]
    alpha: float
    beta: float | None
    gamma: float


def _holt_winters_fit(
    values: list[float], season: int, alpha: float, beta: float | None, gamma: float
) -> _HoltWintersFit:
    m = season
    first = math.fsum(values[:m]) / m
    if beta is None:
        trend = 0.0
    else:
        second = math.fsum(values[m : 2 * m]) / m
        trend = (second - first) / m
    # The first season's mean sits at its middle, (m - 1) / 2; move the level to slot m - 1.
    level = first + trend * (m - 1) / 2.0
    seasonal = [values[i] - (first + trend * (i - (m - 1) / 2.0)) for i in range(m)]
    sse = 0.0
    for t in range(m, len(values)):
        y = values[t]
        slot = t % m
        predicted = level + trend + seasonal[slot]
        sse += (y - predicted) ** 2
        previous_level = level
        level = alpha * (y - seasonal[slot]) + (1.0 - alpha) * (level + trend)
        if beta is not None:
            trend = beta * (level - previous_level) + (1.0 - beta) * trend
        seasonal[slot] = gamma * (y - level) + (1.0 - gamma) * seasonal[slot]
    return _HoltWintersFit(sse, level, trend, tuple(seasonal), alpha, beta, gamma)


def holt_winters(
    history: Sequence[float],
    horizon: int,
    season: int = SEASON,
    alpha: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    trend: bool | None = None,
) -> list[float]:
    """Additive Holt-Winters smoothing (standard library only); needs two full seasons.

    Start: ``l = mean(first season) + b*(m-1)/2``, ``b = (mean(2nd season) - mean(1st)) / m``
    (0 without trend), ``s_i = y_i - (mean(1st) + b*(i - (m-1)/2))`` for ``i < m``. Then for
    each later slot ``t`` (``s`` = seasonal of slot ``t mod m``)::

        l' = alpha*(y_t - s) + (1 - alpha)*(l + b)
        b' = beta*(l' - l) + (1 - beta)*b            (skipped without trend)
        s' = gamma*(y_t - l') + (1 - gamma)*s

    Forecast ``f(n + h) = max(0, l + (h + 1)*b + s_{(n + h) mod m})``. Parameters not given
    are chosen from a small grid (alpha, gamma in {0.05, 0.2, 0.5}; no trend or beta in
    {0.01, 0.05}) by the smallest in-sample one-step squared error. ``trend=False`` forces no
    trend, ``trend=True`` forces one.
    """
    values = _series(history)
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    _need(values, 2 * season, "Holt-Winters")
    alphas = _ALPHAS if alpha is None else (_smoothing("alpha", alpha),)
    gammas = _GAMMAS if gamma is None else (_smoothing("gamma", gamma),)
    if trend is False:
        if beta is not None:
            raise ValueError("beta makes no sense with trend=False")
        betas: tuple[float | None, ...] = (None,)
    elif beta is not None:
        betas = (_smoothing("beta", beta),)
    elif trend is True:
        betas = tuple(b for b in _BETAS if b is not None)
    else:
        betas = _BETAS
    best: _HoltWintersFit | None = None
    for a in alphas:
        for b in betas:
            for g in gammas:
                fit = _holt_winters_fit(values, season, a, b, g)
                if best is None or fit.sse < best.sse:
                    best = fit
    assert best is not None
    n = len(values)
    return [
        max(0.0, best.level + (h + 1) * best.trend + best.seasonal[(n + h) % season])
        for h in range(horizon)
    ]


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
