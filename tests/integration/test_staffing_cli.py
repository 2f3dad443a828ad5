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


@pytest.mark.parametrize("args, message", [
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
