"""`python -m app staffing` as a subprocess, against the public vectors of /work/shared/KPIS.md."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.server import ROOT

BASE = ["--volume", "100", "--interval-minutes", "30", "--aht-seconds", "180", "--target-sl", "0.8",
        "--threshold-seconds", "20"]


def staffing(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "staffing", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def figures(out: str) -> dict[str, str]:
    return dict(re.findall(r"^([^:\n]+): (.+)$", out, flags=re.M))


def percent(text: str) -> float:
    return float(text.removesuffix(" %")) / 100


def test_erlang_c_finds_14_agents_for_100_chats_in_30_minutes():
    result = staffing(*BASE)
    assert result.returncode == 0, result.stderr
    f = figures(result.stdout)
    assert f["Model"] == "Erlang C"
    assert f["Offered load"] == "10.0000 erlangs"
    assert f["Agents needed"] == "14"
    assert percent(f["Service level (20 s)"]) == pytest.approx(0.8884, abs=1e-4)
    assert f["ASA"] == "7.84 s"
    assert percent(f["Occupancy"]) == pytest.approx(0.7143, abs=1e-4)
    assert percent(f["Probability of waiting"]) == pytest.approx(0.1741, abs=1e-4)


def test_shrinkage_turns_14_agents_into_20_staff():
    f = figures(staffing(*BASE, "--shrinkage", "0.3").stdout)
    assert (f["Agents needed"], f["Staff after 30 % shrinkage"]) == ("14", "20")


def test_13_agents_miss_the_target():
    result = staffing(*BASE, "--agents", "13")
    f = figures(result.stdout)
    assert percent(f["Service level (20 s)"]) == pytest.approx(0.7956, abs=1e-4)
    assert f["Targets met"] == "no"


def test_erlang_a_with_patience_evaluates_14_agents():
    result = staffing(*BASE, "--patience-seconds", "300", "--agents", "14")
    assert result.returncode == 0, result.stderr
    f = figures(result.stdout)
    assert f["Model"].startswith("Erlang A")
    assert f["Agents"] == "14"
    assert percent(f["Service level (20 s)"]) == pytest.approx(0.9168, abs=1e-4)
    assert percent(f["Abandonment"]) == pytest.approx(0.0140, abs=1e-4)
    assert percent(f["Probability of waiting"]) == pytest.approx(0.1453, abs=1e-4)
    assert percent(f["Occupancy"]) == pytest.approx(0.7043, abs=1e-4)
    assert f["Targets met"] == "yes"


def test_overloaded_erlang_a_is_staffed_above_the_load_within_5_percent_abandonment():
    # A = 20,000 × 300 / 1,800 = 3,333.3 erlangs: the plan used to be 2,679 agents, 19.6 % abandoning.
    result = staffing("--volume", "20000", "--aht-seconds", "300", "--patience-seconds", "60")
    assert result.returncode == 0, result.stderr
    f = figures(result.stdout)
    assert f["Model"].startswith("Erlang A")
    assert f["Offered load"] == "3333.3333 erlangs"
    assert int(f["Agents needed"]) >= 3334
    assert percent(f["Abandonment"]) <= 0.05
    assert percent(f["Occupancy"]) < 1
    assert f["Maximum abandonment"] == "5 %"


def test_max_abandon_and_model_choice():
    # A = 10, patience 60 s: 13 agents keep abandonment under 5 %, 16 under 1 %.
    base = [*BASE, "--model", "erlang-a", "--patience-seconds", "60"]
    assert figures(staffing(*base).stdout)["Agents needed"] == "13"
    strict = figures(staffing(*base, "--max-abandon", "1").stdout)
    assert strict["Agents needed"] == "16" and percent(strict["Abandonment"]) <= 0.01
    assert figures(staffing(*BASE, "--model", "erlang-c").stdout)["Model"] == "Erlang C"
    over = figures(staffing(*base, "--agents", "12").stdout)
    assert over["Targets met"] == "no"  # 7.6 % abandon


@pytest.mark.parametrize("args, message", [
    ([*BASE, "--patience-seconds", "60", "--max-abandon", "0"], "--max-abandon must be a percentage"),
    ([*BASE, "--patience-seconds", "60", "--max-abandon", "100"], "--max-abandon must be a percentage"),
    ([*BASE, "--patience-seconds", "60", "--max-abandon", "five"], "invalid float value"),
    ([*BASE, "--model", "erlang-a"], "Erlang A needs --patience-seconds"),
    ([*BASE, "--model", "erlang-c", "--patience-seconds", "60"], "Erlang C has no abandonment"),
    ([*BASE, "--model", "erlang-b"], "invalid choice"),
    (["--volume", "-5", "--aht-seconds", "180"], "volume must be positive"),
    ([*BASE[:5], "0", *BASE[6:]], "aht"),
    ([*BASE, "--shrinkage", "1.2"], "shrinkage"),
    ([*BASE, "--agents", "14", "--target-sl", "1.5"], "target_sl"),
    (["--volume", "lots", "--aht-seconds", "180"], "invalid float value"),
    (["--aht-seconds", "180"], "--volume"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    result = staffing(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "staffing: error:" in result.stderr and message in result.stderr, result.stderr
