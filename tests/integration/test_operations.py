"""Operations (issue 19): /readyz tells the truth about the database, its migrations, Redis and the
worker's loops; /metrics shows a scripted chat on two workers; logs are JSON lines with the call's
context however the server is started; `migrate` names what it applied and fails loudly; a worker
told to stop writes the trail it still holds."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import redis as redis_sync
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import unavailable
from tests.support import clients
from tests.support.clients import new_id
from tests.support.server import ROOT, Server, deploy, deployment_env, free_port

MIGRATIONS = sorted(p.stem for p in (ROOT / "migrations").glob("0*.py"))
LAST, BEFORE_LAST = MIGRATIONS[-1], MIGRATIONS[-2]
TOKEN = "metrics-" + os.urandom(6).hex()


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def wait_until(probe, timeout: float = 60.0, what: str = "condition"):
    """Poll `probe()` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.2)  # polling a condition, not synchronising with the code under test
    raise AssertionError(f"timed out waiting for {what}")


async def readyz(server: Server) -> tuple[int, dict]:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(server.url + "/readyz")
    return response.status_code, response.json()


class RedisProcess:
    """A Redis server of the test's own, to stop and start again."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            unavailable("redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sb-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisProcess":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if redis_sync.Redis(port=self.port, socket_timeout=1).ping():
                    return self
            except redis_sync.ConnectionError:
                time.sleep(0.05)  # polling for start-up
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self) -> redis_sync.Redis:
        return redis_sync.Redis(port=self.port, socket_timeout=5)


@pytest.fixture
def own_redis():
    server = RedisProcess().start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def fresh_postgres(new_postgres_database) -> str:
    """The URL of a PostgreSQL database of the test's own (made outside the test's event loop)."""
    return new_postgres_database()


# --- readiness ----------------------------------------------------------------------------------


async def test_readyz_is_green_on_a_healthy_deployment_and_metrics_are_off_without_a_token(deployment):
    for server in deployment.servers:
        status, body = await readyz(server)
        assert status == 200, body
        checks = body["checks"]
        assert body["ok"] and checks["database"] == {"ok": True, "applied": len(MIGRATIONS)}
        assert checks["redis"]["ok"] and checks["redis"].get("configured", True) == bool(deployment.env.get("REDIS_URL"))
        assert {"routing", "retention"} <= set(checks["loops"]["loops"]), checks["loops"]
        assert all(loop["ok"] for loop in checks["loops"]["loops"].values())
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.url + "/metrics", headers={"Authorization": "Bearer x"})).status_code == 404
            # Liveness stays what it was: the process answers.
            assert (await http.get(server.url + "/healthz")).json() == {"ok": True}


@pytest.mark.postgres
@pytest.mark.redis
async def test_readyz_fails_while_routing_is_stalled_and_while_redis_is_down(fresh_postgres, own_redis):
    d = deploy(database_url=fresh_postgres, redis_url=own_redis.url)
    try:
        server = d.server
        assert (await readyz(server))[0] == 200
        # Routing state in Redis that every pass trips over (a key of the wrong type): the routing
        # loop keeps running and logging, but no pass succeeds.
        key = d.redis_prefix + "rt:sticky_due"
        own_redis.client().set(key, "not a sorted set")

        async def stalled():
            status, body = await readyz(server)
            return body if status == 503 else None

        body = await wait_until(stalled, what="/readyz 503 with routing stalled")
        routing = body["checks"]["loops"]["loops"]["routing"]
        assert not routing["ok"] and routing["reason"].startswith("stalled: no successful pass")
        assert "WRONGTYPE" in routing["last_error"], routing
        assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]  # only the loop failed

        own_redis.client().delete(key)
        await wait_until(lambda: readyz_ok(server), what="/readyz 200 once routing passes again")

        own_redis.stop()
        status, body = await readyz(server)
        assert status == 503 and not body["ok"]
        assert not body["checks"]["redis"]["ok"] and body["checks"]["redis"]["reason"], body
        assert body["checks"]["database"]["ok"]

        own_redis.start()  # on the same port: the worker's client connects again
        await wait_until(lambda: readyz_ok(server), what="/readyz 200 once Redis is back")
    finally:
        d.stop()


async def readyz_ok(server: Server) -> bool:
    return (await readyz(server))[0] == 200


PARTIAL_MIGRATE = """
import asyncio, sys
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from app.config import load_settings
from app.db import tortoise_config

async def main():
    try:
        await migrate(config=tortoise_config(load_settings()), target="models." + sys.argv[1])
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


@pytest.mark.postgres
async def test_unmigrated_database_is_not_ready_and_migrate_names_what_it_applies(fresh_postgres):
    env = deployment_env(database_url=fresh_postgres, redis_url=None)
    server = Server(env)
    try:
        status = run_cli(env, "migrate", "--status")
        assert status.returncode == 0, status.stderr
        assert [line.split()[1] for line in status.stdout.splitlines() if line.startswith("pending")] == MIGRATIONS
        assert f"{len(MIGRATIONS)} pending: run migrate." in status.stdout

        # Everything but the last migration: a release whose `migrate` step was skipped.
        partial = subprocess.run([sys.executable, "-c", PARTIAL_MIGRATE, BEFORE_LAST], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert partial.returncode == 0, partial.stderr
        status = run_cli(env, "migrate", "--status")
        assert f"applied  {BEFORE_LAST}" in status.stdout and f"pending  {LAST}" in status.stdout
        assert "1 pending: run migrate." in status.stdout

        server.start()  # alive (/healthz) ...
        code, body = await readyz(server)
        assert code == 503 and not body["ok"]  # ... but not ready
        database = body["checks"]["database"]
        assert not database["ok"] and database["pending"] == [LAST] and LAST in database["reason"]

        applied = run_cli(env, "migrate")
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.splitlines() == [f"Applied {LAST}", "Applied 1 migration(s); the database is up to date."]
        await wait_until(lambda: readyz_ok(server), what="/readyz 200 after migrate")

        again = run_cli(env, "migrate")
        assert again.returncode == 0 and again.stdout.strip() == "Nothing to apply: the database is up to date."
        status = run_cli(env, "migrate", "--status")
        assert "pending" not in status.stdout
        assert f"Up to date: {len(MIGRATIONS)} migrations applied." in status.stdout
    finally:
        server.stop()
        shutil.rmtree(env["DATA_DIR"], ignore_errors=True)


async def test_a_migration_that_fails_exits_non_zero_and_names_itself():
    env = deployment_env(database_url=None, redis_url=None)
    try:
        first = run_cli(env, "migrate")
        assert first.returncode == 0, first.stderr
        assert [line for line in first.stdout.splitlines() if line.startswith("Applied ")][:-1] == \
            [f"Applied {name}" for name in MIGRATIONS]
        # The last migration's tables exist but its record is gone: what a migration that died half
        # way (or a hand-made change) leaves. Running it again must stop the release, loudly.
        with sqlite3.connect(Path(env["DATA_DIR"]) / "switchboard.sqlite3") as conn:
            conn.execute("DELETE FROM tortoise_migrations WHERE name = ?", (LAST,))
        failed = run_cli(env, "migrate")
        assert failed.returncode == 1, failed.stdout
        assert f"error: migration {LAST} failed:" in failed.stderr
        assert "already exists" in failed.stderr or "duplicate column" in failed.stderr, failed.stderr
        assert "it was rolled back; fix the cause and run `migrate` again" in failed.stderr
        assert "Traceback" not in failed.stderr and "up to date" not in failed.stdout
        assert f"pending  {LAST}" in run_cli(env, "migrate", "--status").stdout
    finally:
        shutil.rmtree(env["DATA_DIR"], ignore_errors=True)


# --- metrics ------------------------------------------------------------------------------------


def scrape(server: Server, token: str | None = TOKEN) -> list[tuple[str, dict, float]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(server.url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(response.text)
            for s in family.samples]


def value(samples, name: str, **labels) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when none)."""
    return sum(v for n, lbl, v in samples if n == name and all(lbl.get(k) == x for k, x in labels.items()))


@pytest.mark.postgres
@pytest.mark.redis
async def test_metrics_show_a_scripted_chat_on_two_workers(fresh_postgres, own_redis):
    d = deploy(database_url=fresh_postgres, redis_url=own_redis.url, processes=2,
               extra_env={"METRICS_TOKEN": TOKEN})
    first, second = d.servers
    try:
        for server in d.servers:
            async with httpx.AsyncClient() as http:
                assert (await http.get(server.url + "/metrics")).status_code == 401
                wrong = await http.get(server.url + "/metrics", headers={"Authorization": "Bearer wrong"})
                assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        from tests.support.server import cli
        cli(d.env, "create-department", "--site", d.site_key, "--name", "Sales", "--member", "agent@example.com")

        agent = await clients.agent(second.url, "agent@example.com", d.password)
        visitor = await clients.visitor(first.url, d.site_key, d.origin)
        try:
            assert (await agent.call("set_status", {"status": "available"}))["ok"]
            assert (await visitor.call("page_view", {"url": d.origin + "/pricing", "title": "Pricing"}))["ok"]
            ack = await visitor.call("message", {"client_id": new_id(), "body": "Hello there"})
            assert ack["ok"]
            conversation_id = ack["conversation_id"]
            await agent.rec.wait_for("conversation.assigned", lambda c: c["id"] == conversation_id)
            reply = await agent.call("message", {"conversation_id": conversation_id, "client_id": new_id(),
                                                 "body": "Hi! How can I help?"})
            assert reply["ok"]
            bad = await visitor.call("message", {"client_id": new_id(), "body": 42})
            assert bad["error"]["code"] == "bad_request"
            answers = [await visitor.call("history", {}) for _ in range(21)]
            assert answers[-1]["error"]["code"] == "rate_limited" and all(a["ok"] for a in answers[:-1])

            one = await wait_until(lambda: (s := scrape(first)) and value(s, "switchboard_trail_rows_total",
                                                                           kind="page_views") >= 1 and s,
                                   what="the page view written by the first worker's batch")
            two = scrape(second)
            workers = {lbl["worker"] for _, lbl, _ in one} | {lbl["worker"] for _, lbl, _ in two}
            assert len(workers) == 2  # each worker labels its own series
            assert value(one, "switchboard_connected_visitors") == 1 and value(one, "switchboard_connected_csrs") == 0
            assert value(two, "switchboard_connected_csrs") == 1 and value(two, "switchboard_connected_visitors") == 0
            assert value(one, "switchboard_connected_sockets", namespace="visitor") == 1
            both = one + two
            assert value(one, "switchboard_messages_total", sender="visitor") == 1
            assert value(two, "switchboard_messages_total", sender="agent") == 1
            assert value(both, "switchboard_messages_total", sender="system") >= 1  # "… joined the chat"
            acks = value(one, "switchboard_socket_ack_seconds_count", namespace="visitor", event="message")
            assert acks == 2 and 0 < value(one, "switchboard_socket_ack_seconds_sum", namespace="visitor",
                                           event="message") < 30
            assert value(two, "switchboard_socket_ack_seconds_count", namespace="agent", event="message") == 1
            assert value(one, "switchboard_socket_error_acks_total", event="message", code="bad_request") == 1
            assert value(one, "switchboard_socket_error_acks_total", event="history", code="rate_limited") == 1
            assert value(one, "switchboard_rate_limited_total", limit="hist") == 1
            assert value(both, "switchboard_routing_decisions_total", outcome="assign") == 1
            assert value(both, "switchboard_queue_wait_seconds_count") == 1
            assert 0 <= value(both, "switchboard_queue_wait_seconds_sum") < 60
            assert value(one, "switchboard_trail_flush_seconds_count") >= 1
            for samples in (one, two):  # the center's figures, as each worker reads them
                assert [v for n, lbl, v in samples if n == "switchboard_queue_length" and lbl["department"] == "Sales"] \
                    == [0]
                assert value(samples, "switchboard_service_level_today") == 1.0
                assert value(samples, "switchboard_chats_offered_today") == 1
        finally:
            await clients.sign_off(agent)
            await visitor.disconnect()
            await agent.disconnect()
        gone = await wait_until(lambda: (s := scrape(first)) and value(
            s, "switchboard_socket_disconnects_total", namespace="visitor") == 1 and s,
            what="the visitor's disconnect counted")
        assert [lbl["reason"] for n, lbl, v in gone if n == "switchboard_socket_disconnects_total" and v] \
            == ["transport close"]  # the client closed its websocket
        assert value(gone, "switchboard_connected_visitors") == 0
        # The Grafana dashboard asks for series the workers really expose.
        exposed = {n for n, _, _ in both + gone}
        dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
        wanted = {name for p in dashboard["panels"] for t in p.get("targets", ())
                  for name in re.findall(r"switchboard_[a-z_]+", t["expr"])}
        assert len(wanted) >= 10 and wanted <= exposed, wanted - exposed
    finally:
        d.stop()


# --- logs ---------------------------------------------------------------------------------------


class FactoryServer(Server):
    """Started as the Procfile starts a worker: uvicorn's command line with the app factory."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", "app.web.app:asgi_factory", "--host", "127.0.0.1",
                "--port", str(self.port)]

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]


async def test_logs_are_json_lines_with_the_calls_context_under_uvicorns_factory():
    d = deploy(database_url=None, redis_url=None, processes=0)
    debug = FactoryServer(dict(d.env, LOG_LEVEL="debug"))
    quiet = FactoryServer(dict(d.env, LOG_LEVEL="warning"))
    try:
        debug.start()
        async with httpx.AsyncClient() as http:
            response = await http.get(debug.url + "/readyz", headers={"X-Request-ID": "probe-42"})
        assert response.headers["x-request-id"] == "probe-42"
        visitor = await clients.visitor(debug.url, d.site_key, d.origin)
        try:
            visitor_id = visitor.rec.of("session")[0]["visitor_id"]
            bad = await visitor.call("message", {"client_id": new_id(), "body": {"nested": "not text"}})
            assert bad["error"]["code"] == "bad_request"

            def refusal():
                return next((line for line in debug.lines() if line.get("event") == "message"
                             and "bad_request" in line["message"]), None)

            line = await wait_until(refusal, what="the refusal's debug line")
        finally:
            await visitor.disconnect()
        # Every line is a JSON object (LOG_FORMAT unset and no terminal: json) with the base fields.
        lines = debug.lines()
        assert all({"time", "level", "logger", "worker", "message"} <= set(entry) for entry in lines)
        assert line["level"] == "debug" and line["logger"] == "app.realtime" and line["visitor_id"] == visitor_id
        assert line["sid"] and line["worker"] == str(debug.proc.pid)
        # LOG_LEVEL=debug reached uvicorn's loggers too, and its access lines carry the request id.
        access = [e for e in lines if e["logger"] == "uvicorn.access" and e.get("path") == "/readyz"]
        assert access and access[0]["request_id"] == "probe-42" and access[0]["status"] == 200
        # Bad input is an expected error: no traceback.
        assert "Traceback" not in debug.log() and not any("exc" in entry for entry in lines)

        quiet.start()
        httpx.get(quiet.url + "/readyz", timeout=30)
        # uvicorn's own command line logs "Application startup complete." at info; LOG_LEVEL says no.
        assert not [e for e in quiet.lines() if e["level"] in ("debug", "info")], quiet.log()[-2000:]
    finally:
        debug.stop()
        quiet.stop()
        d.stop()


async def test_a_stopping_worker_writes_the_trail_still_waiting_for_its_batch(monkeypatch):
    """A worker told to stop (SIGTERM: uvicorn's should_exit) ends its lifespan by writing the page
    views still buffered; here no batch would be written for an hour otherwise."""
    from app.models import PageView
    from app.services import tracking
    from tests.support.inprocess import database, prepare, serve

    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 3600.0)
    deployment = await prepare()
    visitor = None
    try:
        async with serve(deployment) as server:
            visitor = await clients.visitor(server.url, deployment.site_key, deployment.origin)
            ack = await visitor.call("page_view", {"url": "https://shop.example.com/tents", "title": "Tents"})
            assert ack["ok"], ack
            async with database(deployment):
                assert await PageView.all().count() == 0  # still in this worker's batch
        async with database(deployment):
            assert await PageView.all().values_list("url", flat=True) == ["https://shop.example.com/tents"]
    finally:
        if visitor is not None:
            await visitor.disconnect()
        deployment.stop()
