"""``staffing`` command: agents needed for an interval (Erlang C, or Erlang A with patience).

Usage (``argv`` excludes the word "staffing")::

    staffing --volume V --interval-minutes M --aht-seconds H --target-sl 0.8
             --threshold-seconds T [--max-occupancy O] [--shrinkage S]
             [--model erlang-c|erlang-a] [--patience-seconds P] [--max-abandon PERCENT]
             [--target-asa-seconds X] [--concurrency C] [--agents N]

Without ``--agents`` it finds the fewest agents meeting the targets; with ``--agents N`` it
evaluates that staffing. For chat, ``--concurrency C`` divides the handle time:
effective AHT = AHT / C (see :func:`app.kpi.erlang.effective_aht`).

The model is Erlang C, or Erlang A (visitors abandon with exponential patience) with
``--model erlang-a`` or when ``--patience-seconds`` is given. Erlang A staffing also keeps the
abandonment rate at most ``--max-abandon`` percent (default 5). Neither model ever staffs
fewer agents than the offered load (``ceil(A)``). Exit status: 0 on
success, 2 on bad input (with a message on stderr).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn, TextIO

from app.kpi import erlang

__all__ = ["build_parser", "main"]


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so ``main`` can return 2."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``staffing`` command."""
    parser = _Parser(
        prog="staffing",
        description="Agents needed for one interval (Erlang C; Erlang A when --patience-seconds is given).",
    )
    parser.add_argument(
        "--model", choices=("erlang-c", "erlang-a"), default=None,
        help="queueing model (default: erlang-a when --patience-seconds is given, else erlang-c)",
    )
    parser.add_argument("--volume", type=float, required=True, help="contacts offered in the interval")
    parser.add_argument("--interval-minutes", type=float, default=30.0, help="interval length (default 30)")
    parser.add_argument("--aht-seconds", type=float, required=True, help="average handle time in seconds")
    parser.add_argument("--target-sl", type=float, default=0.8, help="service-level target in (0, 1) (default 0.8)")
    parser.add_argument(
        "--threshold-seconds", type=float, default=20.0, help="service-level threshold T in seconds (default 20)"
    )
    parser.add_argument("--max-occupancy", type=float, default=None, help="occupancy cap in (0, 1]")
    parser.add_argument("--shrinkage", type=float, default=0.0, help="shrinkage in [0, 1) (default 0)")
    parser.add_argument(
        "--patience-seconds", type=float, default=None, help="mean visitor patience: switches to Erlang A"
    )
    parser.add_argument(
        "--max-abandon", type=float, default=erlang.DEFAULT_MAX_ABANDON * 100,
        help="Erlang A: most visitors who may abandon, in percent, above 0 and below 100 (default 5)",
    )
    parser.add_argument("--target-asa-seconds", type=float, default=None, help="ASA target in seconds")
    parser.add_argument(
        "--concurrency", type=float, default=1.0, help="chats per agent at once: effective AHT = AHT / concurrency"
    )
    parser.add_argument("--agents", type=int, default=None, help="evaluate this many agents instead of solving")
    return parser


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def _seconds(value: float) -> str:
    return "unbounded (queue unstable)" if math.isinf(value) else f"{value:.2f} s"


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(parser.format_usage().rstrip(), file=err)
        print(f"staffing: error: {exc}", file=err)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)

    try:
        model = args.model or ("erlang-a" if args.patience_seconds is not None else "erlang-c")
        if model == "erlang-a" and args.patience_seconds is None:
            raise ValueError("Erlang A needs --patience-seconds (the visitors' mean patience)")
        if model == "erlang-c" and args.patience_seconds is not None:
            raise ValueError("--patience-seconds is for Erlang A (--model erlang-a); Erlang C has no abandonment")
        if not (math.isfinite(args.max_abandon) and 0.0 < args.max_abandon < 100.0):
            raise ValueError(f"--max-abandon must be a percentage above 0 and below 100, got {args.max_abandon:g}")
        max_abandon = args.max_abandon / 100.0
        aht = erlang.effective_aht(args.aht_seconds, args.concurrency)
        interval = args.interval_minutes * 60.0
        load = erlang.offered_load(args.volume, interval, aht)
        if args.agents is None:
            result = erlang.required_agents(
                args.volume, interval, aht, args.target_sl, args.threshold_seconds,
                max_occupancy=args.max_occupancy, shrinkage=args.shrinkage,
                patience=args.patience_seconds, target_asa=args.target_asa_seconds, max_abandon=max_abandon,
            )
        else:
            _check_targets(args)  # unused for solving, but still reported against: validate
            result = erlang.evaluate(
                args.volume, interval, aht, args.agents, args.threshold_seconds,
                patience=args.patience_seconds, shrinkage=args.shrinkage,
            )
    except ValueError as exc:
        print(f"staffing: error: {exc}", file=err)
        return 2

    model = "Erlang A (abandonment, exponential patience)" if result.model == erlang.MODEL_ERLANG_A else "Erlang C"
    lines = [f"Model: {model}"]
    if args.concurrency != 1.0:
        lines.append(
            f"Chat concurrency: {args.concurrency:g} -> effective AHT {aht:.2f} s "
            f"(AHT {args.aht_seconds:g} s / {args.concurrency:g})"
        )
    lines.append(f"Offered load: {load:.4f} erlangs")
    if args.agents is None:
        lines.append(f"Agents needed: {result.agents}")
    else:
        lines.append(f"Agents: {result.agents}")
    lines.append(f"Staff after {args.shrinkage * 100:g} % shrinkage: {result.staff}")
    lines.append(f"Service level ({args.threshold_seconds:g} s): {_percent(result.service_level)}")
    lines.append(f"ASA: {_seconds(result.asa)}")
    lines.append(f"Occupancy: {_percent(result.occupancy)}")
    lines.append(f"Probability of waiting: {_percent(result.prob_wait)}")
    if result.prob_abandon is not None:
        lines.append(f"Abandonment: {_percent(result.prob_abandon)}")
        lines.append(f"Maximum abandonment: {args.max_abandon:g} %")
    if args.agents is not None:
        met = result.service_level >= args.target_sl - 1e-12
        if args.max_occupancy is not None:
            met = met and result.occupancy <= args.max_occupancy + 1e-12
        if args.target_asa_seconds is not None:
            met = met and result.asa <= args.target_asa_seconds + 1e-12
        if result.prob_abandon is not None:
            met = met and result.prob_abandon <= max_abandon + 1e-12
        lines.append(f"Targets met: {'yes' if met else 'no'}")
    print("\n".join(lines), file=out)
    return 0


def _check_targets(args: argparse.Namespace) -> None:
    if not 0.0 < args.target_sl < 1.0 or not math.isfinite(args.target_sl):
        raise ValueError(f"target_sl must be strictly between 0 and 1, got {args.target_sl!r}")
    if args.max_occupancy is not None and not 0.0 < args.max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {args.max_occupancy!r}")
    if args.target_asa_seconds is not None and not (
        math.isfinite(args.target_asa_seconds) and args.target_asa_seconds > 0
    ):
        raise ValueError(f"target_asa must be positive, got {args.target_asa_seconds!r}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
