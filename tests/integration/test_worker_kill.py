"""The worker-kill scenario of bench/chaos.py, small: deploy/cluster.py's three workers behind nginx
on a PostgreSQL database and Redis namespace of this test's own; CSRs and visitors (python-socketio
clients through nginx, recovering as docs/protocol.md "Recovery, end to end" says) writing to each
other continuously; one worker SIGKILLed in the middle and restarted on its port, some of its
clients never coming back. Every invariant the scenario checks must hold: acked = stored exactly
once, every message at the other side by seq, no CSR over capacity, the gone CSR's chats with
colleagues and none waiting beside room, the closed tabs offline within the presence bound, every
reconnecting client exchanging messages again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import chaos
from bench.common import sizes
from tests.conftest import unavailable

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def database_url(new_postgres_database):
    return new_postgres_database()  # made outside the test's event loop


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(900)  # about a minute; a busy 2-core machine may take several
async def test_a_worker_killed_mid_chat_loses_nothing_and_its_absent_clients_go_offline(
        database_url, redis_url):
    if not Path(NGINX).exists():
        unavailable("nginx (Debian's package; `make services` installs it)")
    options = sizes(chaos.parser().parse_args(["--quick", "--messages", "400"]), chaos.FULL, chaos.QUICK)
    chaos.check_sizes(options)

    scenario = await chaos.run(options, database_url, redis_url)

    report = scenario.report()
    assert not scenario.violations, report + "\n\n" + "\n".join(scenario.violations)
    figures = scenario.figures
    assert figures["messages"] >= 400 and figures["lost"] == 0 and figures["duplicated"] == 0, report
    # The kill hit clients that came back (a CSR and visitors) and a chat of the CSR who did not.
    assert {p.kind for p in scenario.reconnecting} == {"csr", "visitor"}, report
    assert len(figures["recovery"]) == len(scenario.reconnecting), report
    assert figures["taken over"], report
    # A visitor arriving after the restart reached the restarted worker and was served.
    assert figures["late visitor"], report
