"""Quality reports (docs/kpis.md "Quality reports"), from the quality event log and the evaluations:
submitted evaluations outside calibration whose `submitted` falls in [start, end), within what the reader
may read (app/services/scope.py `evaluation_reach`: a supervisor their staff's, qa and admins everyone's),
optionally one department's. Every figure is computed over every row — no sample, no cap.

Tables (each {columns, rows} for the page and its CSV): by CSR, by team (department), by criterion, by
week; critical failures; disputes and their outcomes; evaluations done vs planned per evaluator; QA score
against CSAT (pairs and the correlation)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from app import runtime
from app.i18n import N_
from app.models import (
    Department, Dispute, Evaluation, EvaluationAnswer, SampleItem, Scorecard, ScorecardVersion, User,
)
from app.quality import sampling, scoring
from app.services import csat, scope

TABLES = ("agents", "teams", "criteria", "weeks", "disputes", "evaluators", "csat")


def _col(key: str, label: str) -> dict[str, str]:
    return {"key": key, "label": label}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


SCORE_COLUMNS = [_col("evaluations", N_("Evaluations")), _col("qa_score", N_("QA score")),
                 _col("critical_failures", N_("Critical failures")),
                 _col("critical_failure_rate", N_("Critical failure rate (percent)"))]


def _score_row(rows: list[dict]) -> dict[str, Any]:
    scores = [r["score"] for r in rows if r["score"] is not None]
    critical = sum(1 for r in rows if r["critical_failed"])
    return {"evaluations": len(rows), "qa_score": _mean(scores), "critical_failures": critical,
            "critical_failure_rate": _rate(critical, len(rows))}


async def compute(user: User, start: datetime, end: datetime, department_id: int | None = None) -> dict[str, Any]:
    everyone, staff = await scope.evaluation_reach(user)
    query = Evaluation.filter(status="submitted", calibration_id=None, submitted_at__gte=start, submitted_at__lt=end)
    if not everyone:
        query = query.filter(id__in=[])
    elif staff is not None:
        query = query.filter(agent_id__in=list(staff))
    if department_id is not None:
        query = query.filter(department_id=department_id)
    rows = await query.order_by("submitted_at", "id").values(
        "id", "agent_id", "evaluator_id", "department_id", "score", "critical_failed", "submitted_at",
        "conversation_id", "scorecard_version_id")
    zone = runtime.current().settings.center_time_zone
    people = dict(await User.all().values_list("id", "display_name"))
    departments = dict(await Department.all().values_list("id", "name"))
    overall = _score_row(rows)

    # By CSR, by team, by week.
    by_agent: dict[Any, list] = defaultdict(list)
    by_team: dict[Any, list] = defaultdict(list)
    by_week: dict[date, list] = defaultdict(list)
    for r in rows:
        by_agent[r["agent_id"]].append(r)
        by_team[r["department_id"]].append(r)
        by_week[sampling.week_of(r["submitted_at"], zone)].append(r)
    agents = sorted(({"agent_id": a, "agent": people.get(a, "—"), **_score_row(rs)} for a, rs in by_agent.items()),
                    key=lambda x: (str(x["agent"]).lower(), x["agent_id"] or 0))
    teams = sorted(({"department_id": d, "team": departments.get(d) if d is not None else None, **_score_row(rs)}
                    for d, rs in by_team.items()), key=lambda x: (x["team"] or "", x["department_id"] or 0))
    weeks = [{"week": w.isoformat(), **_score_row(by_week[w])} for w in sorted(by_week)]

    # By criterion: the mean fraction (× 100) of the answers other than not applicable, and the "no"s.
    ids = [r["id"] for r in rows]
    version_of = {r["id"]: r["scorecard_version_id"] for r in rows}
    versions = {v["id"]: v for v in await ScorecardVersion.filter(id__in=set(version_of.values()))
                .values("id", "scorecard_id", "sections")}
    cards = dict(await Scorecard.filter(id__in={v["scorecard_id"] for v in versions.values()}).values_list("id", "name"))
    criterion_of: dict[tuple[int, int], dict] = {}
    for v in versions.values():
        for c in scoring.criteria(v["sections"] if isinstance(v["sections"], list) else []):
            criterion_of[(v["id"], c["key"])] = c
    stats: dict[tuple[int, str], dict[str, Any]] = {}
    answers = await EvaluationAnswer.filter(evaluation_id__in=ids).values("evaluation_id", "criterion", "value") \
        if ids else []
    for a in answers:
        version_id = version_of[a["evaluation_id"]]
        c = criterion_of.get((version_id, a["criterion"]))
        if c is None:
            continue
        key = (versions[version_id]["scorecard_id"], a["criterion"])
        s = stats.setdefault(key, {"label": c["label"], "critical": bool(c.get("critical")), "fractions": [],
                                   "answers": 0, "na": 0, "no": 0, "version": 0})
        if version_id >= s["version"]:  # the latest version's label
            s["label"], s["version"] = c["label"], version_id
        s["answers"] += 1
        fraction = scoring.fraction(c["scale"], a["value"])
        if fraction is None:
            s["na"] += 1
        else:
            s["fractions"].append(fraction)
        if a["value"] == "no":
            s["no"] += 1
    criteria = [{"scorecard": cards.get(sc, ""), "criterion": s["label"], "key": key,
                 "critical": s["critical"], "answers": s["answers"], "not_applicable": s["na"],
                 "score": _mean([100 * f for f in s["fractions"]]), "no_answers": s["no"]}
                for (sc, key), s in sorted(stats.items(), key=lambda kv: (cards.get(kv[0][0], ""), kv[0][1]))]

    # Disputes of these evaluations.
    disputes = await Dispute.filter(evaluation_id__in=ids).values("evaluation_id", "outcome") if ids else []
    disputed = len({d["evaluation_id"] for d in disputes})
    outcomes = {"open": 0, "upheld": 0, "changed": 0}
    for d in disputes:
        outcomes[d["outcome"] if d["outcome"] in ("upheld", "changed") else "open"] += 1
    dispute_rows = [{"evaluations": len(rows), "disputed_evaluations": disputed,
                     "dispute_rate": _rate(disputed, len(rows)), "disputes": len(disputes), **outcomes}]

    # Done vs planned per evaluator: planned = items given to them in the window (of chats they may read).
    items = SampleItem.filter(created_at__gte=start, created_at__lt=end, evaluator_id__not_isnull=True)
    if not everyone:
        items = items.filter(id__in=[])
    elif staff is not None:
        items = items.filter(agent_id__in=list(staff))
    if department_id is not None:
        items = items.filter(department_id=department_id)
    planned: dict[int, set[int]] = defaultdict(set)
    for item in await items.values("evaluator_id", "conversation_id"):
        planned[item["evaluator_id"]].add(item["conversation_id"])
    done: dict[int, int] = defaultdict(int)
    for r in rows:
        if r["evaluator_id"] is not None:
            done[r["evaluator_id"]] += 1
    evaluators = sorted(({"evaluator_id": e, "evaluator": people.get(e, "—"), "planned": len(planned.get(e, ())),
                          "done": done.get(e, 0), "done_rate": _rate(done.get(e, 0), len(planned.get(e, ())))}
                         for e in set(planned) | set(done)), key=lambda x: str(x["evaluator"]).lower())

    # QA score against CSAT for the same chats.
    ratings = await csat.ratings_of([r["conversation_id"] for r in rows])
    pairs_rows = [{"conversation_id": r["conversation_id"], "agent": people.get(r["agent_id"], "—"),
                   "qa_score": r["score"], "rating": ratings[r["conversation_id"]]["rating"],
                   "csat": sampling.CSAT_VALUES[ratings[r["conversation_id"]]["rating"]]}
                  for r in rows if r["score"] is not None and r["conversation_id"] in ratings]
    pairs = [(p["qa_score"], p["csat"]) for p in pairs_rows]
    pearson, spearman = sampling.pearson(pairs), sampling.spearman(pairs)
    by_rating = []
    for rating in ("good", "neutral", "bad"):
        scores = [p["qa_score"] for p in pairs_rows if p["rating"] == rating]
        by_rating.append({"rating": rating, "chats": len(scores), "qa_score": _mean(scores)})

    return {
        "overall": overall,
        "correlation": {"n": len(pairs), "pearson": None if pearson is None else round(pearson, 3),
                        "spearman": None if spearman is None else round(spearman, 3),
                        "too_few": len(pairs) < sampling.MIN_PAIRS, "by_rating": by_rating},
        "tables": {
            "agents": {"title": N_("QA score by CSR"), "columns": [_col("agent", N_("CSR")), *SCORE_COLUMNS],
                       "rows": agents},
            "teams": {"title": N_("QA score by team"), "columns": [_col("team", N_("Team")), *SCORE_COLUMNS],
                      "rows": teams},
            "criteria": {"title": N_("QA score by criterion"), "columns": [
                _col("scorecard", N_("Scorecard")), _col("criterion", N_("Criterion")), _col("critical", N_("Critical")),
                _col("answers", N_("Answers")), _col("not_applicable", N_("Not applicable")),
                _col("no_answers", N_("No answers")), _col("score", N_("Score"))], "rows": criteria},
            "weeks": {"title": N_("QA score by week"), "columns": [_col("week", N_("Week")), *SCORE_COLUMNS],
                      "rows": weeks},
            "disputes": {"title": N_("Disputes"), "columns": [
                _col("evaluations", N_("Evaluations")), _col("disputed_evaluations", N_("Disputed evaluations")),
                _col("dispute_rate", N_("Dispute rate (percent)")), _col("disputes", N_("Disputed criteria")),
                _col("open", N_("Open")), _col("upheld", N_("Upheld")), _col("changed", N_("Changed"))],
                "rows": dispute_rows},
            "evaluators": {"title": N_("Evaluations done vs planned"), "columns": [
                _col("evaluator", N_("Evaluator")), _col("planned", N_("Planned")), _col("done", N_("Done")),
                _col("done_rate", N_("Done (percent of planned)"))], "rows": evaluators},
            "csat": {"title": N_("QA score against CSAT"), "columns": [
                _col("conversation_id", N_("Chat")), _col("agent", N_("CSR")), _col("qa_score", N_("QA score")),
                _col("rating", N_("Rating")), _col("csat", N_("CSAT (bad 0, neutral 50, good 100)"))],
                "rows": pairs_rows},
        },
    }
