"""Every benchmark runs once, small (`--quick`), so that none of them can rot unnoticed.

Each script runs as `make bench` would run it — a subprocess of the project's virtualenv, from
the repository root — and must exit 0 and print its figure: the ratio against the baseline it
measures in the same run. The sizes are small (seconds each), the code path is the real one end
to end. Under CI (CI=true) a missing PostgreSQL, Redis, Chromium or widget build is a failure,
never a skip.

The scripts keep out of the test suite's way (both checked below): in Redis they use a database
no test uses and never empty it — each run's keys live in a namespace of its own and go when it
ends (bench/common.py); their PostgreSQL databases have names of their own
(sb_bench_<kind>_<run id>_<random>) and are dropped when they finish — also, here, after a run
that failed or was killed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.common import REDIS_BENCH, RUN_ID_ENV
from tests.conftest import PG_ADMIN_URL, TEST_REDIS_URL, _reachable, unavailable

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
RUN_TIMEOUT = 600  # seconds one quick run may take (they take seconds; the machine may be busy)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NUMBER = r"\d+(?:\.\d+)?"

# The figure each script must print (a ratio against its in-run baseline).
FIGURES = {
    "message_roundtrip.py": [
        rf"\| ratio switchboard / relay \| {NUMBER}× \| {NUMBER}× \| {NUMBER}× \|",
        rf"\| ratio switchboard / floor \| {NUMBER}× \| {NUMBER}× \| {NUMBER}× \|",
    ],
    "kpi_history.py": [
        rf"\| one-day summary \| [\d,]+ conversations, [\d,]+ events \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        rf"\| 30-day summary report \(kept days, rows read from the database: a new worker\) \| .* \*\*{NUMBER}×\*\* the indexed read, \*\*{NUMBER}×\*\* the sequential scan",
        rf"\| 30-day summary report \(kept days, held by the worker after its first read\) \| .* \*\*{NUMBER}×\*\* the sequential scan",
    ],
    "live_list.py": [
        rf"\| server CPU time \| .* \| \*\*{NUMBER}×\*\* \|",
        rf"\| bytes to one console \| .* \| \*\*{NUMBER}×\*\* \|",
    ],
    "routing_decisions.py": [
        rf"\| [\d,]+ \| [\d,]+ \| \d+ \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        rf"\| one decision, [\d,]+ agents × [\d,]+ chats \| \d+ \| \*\*{NUMBER}×\*\* \|",
    ],
    "trail_ingest.py": [
        rf"\| SQLite \| trail \(batched, \d+ batches?\) \| [\d,]+ \| \*\*{NUMBER}×\*\* \|",
        rf"\| PostgreSQL \| trail \(batched, \d+ batches?\) \| [\d,]+ \| \*\*{NUMBER}×\*\* \|",
    ],
    "widget_weight.py": [
        rf"\| ratio widget ÷ baseline \| \| {NUMBER} \|",
    ],
    "workorder_list.py": [
        rf"\| default view \(open, most urgent first\) \| [\d,]+ \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        rf"\| team \+ in progress \+ overdue \| [\d,]+ \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
    ],
    "knowledge_search.py": [
        rf"\| SQLite \| search \| [\d,]+ \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \| \*\*{NUMBER}×\*\* \|",
        rf"\| SQLite \| suggestion \| [\d,]+ \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \| \*\*{NUMBER}×\*\* \|",
        rf"\| PostgreSQL \| search \| [\d,]+ \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \| \*\*{NUMBER}×\*\* \|",
        rf"\| PostgreSQL \| suggestion \| [\d,]+ \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \| \*\*{NUMBER}×\*\* \|",
    ],
    "staffing_plan.py": [
        rf"\| 8 weeks, Erlang C \(the page's defaults\) \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        rf"\| \d+ weeks, Erlang A .* \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
    ],
    "explorer_aggregates.py": [
        rf"\| landing_pages \| [\d,]+ \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        rf"\| paths \| [\d,]+ \| {NUMBER} \| {NUMBER} \| \*\*{NUMBER}×\*\* \|",
        r"Every aggregate gave the same numbers as the SQL written by hand\.",
    ],
    "chaos.py": [
        r"\| messages exchanged \| [\d,]+ \| lost 0 \| duplicated 0 \|",
        rf"\| reconnecting clients exchanging again, worst \| {NUMBER} \|",
    ],
}
NOT_SCRIPTS = {"__init__.py", "common.py", "relay_server.py"}  # helpers, not benchmarks


def needs_postgres() -> None:
    if not _reachable("127.0.0.1", 5432):
        unavailable("PostgreSQL on 127.0.0.1:5432")


def needs_redis() -> None:
    if not _reachable("127.0.0.1", 6379):
        unavailable("Redis on 127.0.0.1:6379")


def needs_browser() -> None:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium at {CHROMIUM}")
    if not (ROOT / "widget" / "dist" / "widget.js").exists():
        unavailable("the built widget (widget/dist/widget.js: `make build`)")
    if not (ROOT / "widget" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").exists():
        unavailable("widget/node_modules (`make build`)")


async def _leftover_databases(run_id: str, drop: bool) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        names = [r["datname"] for r in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"sb\\_bench\\_%\\_{run_id}\\_%")]
        if drop:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return names
    finally:
        await conn.close()


def run_bench(script: str, *args: str, figures: list[str] | None = None) -> str:
    """Runs bench/<script> --quick <args>; returns its output after checking it printed its figure
    (`figures`, by default the script's FIGURES)."""
    run_id = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env[RUN_ID_ENV] = run_id
    env.setdefault("BENCH_POSTGRES_URL", PG_ADMIN_URL)
    command = [PYTHON, str(Path("bench") / script), "--quick", *args]
    # A session of its own: on a timeout the whole group goes (servers, relay, browser driver).
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        leftovers = asyncio.run(_leftover_databases(run_id, drop=True)) if _reachable("127.0.0.1", 5432) else []
    shown = f"$ {' '.join(command)}\n--- stdout ---\n{out}\n--- stderr ---\n{err[-6000:]}"
    assert not timed_out, f"no result within {RUN_TIMEOUT} s\n{shown}"
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{shown}"
    for pattern in figures or FIGURES[script]:
        assert re.search(pattern, out), f"the figure ({pattern}) is missing from the output\n{shown}"
    assert not leftovers, f"the run left its scratch PostgreSQL databases behind: {leftovers}"
    return out


def test_every_benchmark_has_a_quick_test():
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")} - NOT_SCRIPTS
    assert scripts == set(FIGURES), "add the new script to FIGURES (and a test) in tests/bench/test_quick.py"


def test_benchmarks_keep_out_of_the_tests_redis():
    """The benchmarks' Redis database is not the test suite's (read from its sources), and neither
    a benchmark nor a test empties a database: each deletes only its own namespace or prefix
    (tests/support/redis_keys.py)."""
    used = {int(TEST_REDIS_URL.rsplit("/", 1)[1] or 0)}
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        used |= {int(n) for n in re.findall(r"\bREDIS_DB\s*=\s*(\d+)", text)}
        used |= {int(n) for n in re.findall(r"redis://(?:127\.0\.0\.1|localhost):\d+/(\d+)", text)}
    assert int(REDIS_BENCH.rsplit("/", 1)[1]) not in used, (REDIS_BENCH, sorted(used))
    for path in [*(ROOT / "bench").glob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        assert not re.search(r"\.(flushdb|flushall)\(", path.read_text()), f"{path.name} empties a Redis database"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(3 * RUN_TIMEOUT + 60)
def test_message_roundtrip():
    run_bench("message_roundtrip.py")
    assert "interleaved" in run_bench("message_roundtrip.py", "--interleave")
    needs_postgres()
    needs_redis()
    # Twice in a row on PostgreSQL + Redis: a run must not inherit the previous run's state.
    run_bench("message_roundtrip.py", "--postgres")
    out = run_bench("message_roundtrip.py", "--postgres")
    assert "PostgreSQL + Redis" in out


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_message_roundtrip_saturation():
    """The ceiling: several load-generator processes, full stack, floor and relay in one run."""
    run_bench("message_roundtrip.py", "--saturate", figures=[
        rf"\| ratio switchboard / relay at saturation \| {NUMBER}× \|",
        rf"\| ratio switchboard / floor at saturation \| {NUMBER}× \|",
    ])


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_kpi_history():
    needs_postgres()
    run_bench("kpi_history.py")


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_live_list():
    run_bench("live_list.py")


@pytest.mark.redis
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_routing_decisions():
    needs_redis()
    out = run_bench("routing_decisions.py")
    assert "Redis store: cost of a decision" in out


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_trail_ingest():
    needs_postgres()
    run_bench("trail_ingest.py")


@pytest.mark.browser
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_widget_weight():
    needs_browser()
    run_bench("widget_weight.py")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_chaos():
    needs_postgres()
    needs_redis()
    if not Path(shutil.which("nginx") or "/usr/sbin/nginx").exists():
        unavailable("nginx (Debian's package; `make services` installs it)")
    run_bench("chaos.py")


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_workorder_list():
    needs_postgres()
    run_bench("workorder_list.py")


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_staffing_plan():
    needs_postgres()
    out = run_bench("staffing_plan.py")
    assert "the plans from the cache equal the plans made afresh" in out


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_knowledge_search():
    needs_postgres()
    run_bench("knowledge_search.py")


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_explorer_aggregates():
    needs_postgres()
    run_bench("explorer_aggregates.py")
