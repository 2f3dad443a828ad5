"""A real Switchboard server in a subprocess, on a free port, for integration and e2e tests."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.redis_keys import delete_keys

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict[str, str], *args: str) -> str:
    """`python -m app ARGS` in this environment; its stdout. The command runs in a process of its own,
    forked from one that has the app imported already (tests/support/cli_zygote.py)."""
    rc, stdout, stderr = _zygote().run(list(args), env)
    if rc != 0:
        raise RuntimeError(f"`python -m app {' '.join(args)}` failed ({rc}):\n{stdout}\n{stderr}")
    return stdout


class _Zygote:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None

    def run(self, args: list[str], env: dict[str, str], timeout: int = 120) -> tuple[int, str, str]:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "cli_zygote.py")],
                                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                atexit.register(self.proc.kill)
            request = {"args": args, "env": env, "cwd": str(ROOT), "timeout": timeout}
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the CLI runner died running `python -m app {' '.join(args)}`")
            reply = json.loads(line)
            return reply["rc"], reply["stdout"], reply["stderr"]


@functools.cache
def _zygote() -> _Zygote:
    return _Zygote()


@dataclass
class Server:
    """One server process. Several can share a database and Redis (`env`)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Server":
        env = dict(self.env, PORT=str(self.port), PUBLIC_URL=self.url)
        self.log_path = Path(tempfile.mkstemp(prefix="sb-server-", suffix=".log")[1])
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self.log_path.open("w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling for readiness, not synchronising with the code under test
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def command(self) -> list[str]:
        """How the server is started: `python -m app serve`."""
        return [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""


@dataclass
class Deployment:
    """A database (with a site and users) and the servers that share it."""

    env: dict[str, str]
    servers: list[Server]
    site_key: str
    origin: str
    users: dict[str, dict]
    password: str = "correct-horse-battery"

    @property
    def server(self) -> Server:
        return self.servers[0]

    @functools.cached_property
    def redis_prefix(self) -> str:
        """Where this deployment's Redis keys live: ``sb:<uid>:`` (app/runtime.py)."""
        return json.loads(cli(self.env, "deployment-id", "--json"))["redis_prefix"]

    def create_user(self, email: str, role: str = "agent", name: str | None = None,
                    max_chats: int | None = 3) -> dict:
        """A user; `max_chats=None` leaves their capacity to their departments' default."""
        user = _create_user(self.env, email, role, name, max_chats)
        self.users[email] = user
        return user

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.env.get("REDIS_URL"):  # the tests share one Redis database: leave nothing in it
            delete_keys(self.env["REDIS_URL"], self.redis_prefix)
        shutil.rmtree(self.env["DATA_DIR"], ignore_errors=True)


ORIGIN = "https://shop.example.com"
# The users every test deployment has: (email, role, name).
USERS = (("agent@example.com", "agent", "Alex Agent"), ("other@example.com", "agent", "Olive Other"),
         ("boss@example.com", "supervisor", "Sam Supervisor"), ("marketer@example.com", "marketer", "Mia Marketer"))


def deployment_env(*, database_url: str | None, redis_url: str | None,
                   extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a new deployment: a data directory of its own and a secret key."""
    data_dir = tempfile.mkdtemp(prefix="sb-data-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PUBLIC_URL"))}
    env.update(DATA_DIR=data_dir, SECRET_KEY="test-secret-" + os.urandom(8).hex(), LOG_LEVEL="warning",
               PYTHONPATH=str(ROOT))
    # Every test client connects from 127.0.0.1 and many share one site: new visitors are not
    # throttled here (tests/integration/test_identity.py sets the limits it checks).
    env.update(NEW_VISITORS_PER_ADDRESS="1000000/60", NEW_VISITORS_PER_SITE="1000000/60")
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra_env or {})
    return env


def deploy(*, database_url: str | None, redis_url: str | None, processes: int = 1,
           seed_demo: bool = False, extra_env: dict[str, str] | None = None) -> Deployment:
    env = deployment_env(database_url=database_url, redis_url=redis_url, extra_env=extra_env)
    servers = [Server(env) for _ in range(processes)]
    origin = ORIGIN
    users = _migrated_with_users(env)
    site = json.loads(cli(env, "create-site", "--name", "Test shop", "--origin", origin,
                          *sum((["--origin", s.url] for s in servers), []), "--json"))
    deployment = Deployment(env=env, servers=servers, site_key=site["key"], origin=origin, users=dict(users))
    if seed_demo:
        cli(env, "demo", "--password", deployment.password)
    for server in servers:
        server.start()
    return deployment


# Migrating a database and hashing the users' passwords take seconds a deployment. Each test
# process does it once per kind of database, into a template without a deployment identity, and
# every new deployment starts from a copy (`_migrated_with_users`): it then makes an identity, hence
# a Redis namespace, of its own (app/services/deployment.py) as `migrate` would have.
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
_templates: dict[str, tuple[str, dict[str, dict]]] = {}


def _migrated_with_users(env: dict[str, str]) -> dict[str, dict]:
    """Makes `env`'s database the template's copy (migrated, with USERS); returns the users by e-mail.
    A PostgreSQL database that already holds tables is migrated as it is and gets the users anew."""
    url = env.get("DATABASE_URL")
    if url and _psql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") != "0":
        cli(env, "migrate")
        return _usual_users(env)
    template, users = _template("postgres" if url else "sqlite")
    if url:
        name = url.rsplit("/", 1)[1]
        _psql(PG_ADMIN_URL, f'DROP DATABASE "{name}"')
        _psql(PG_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    else:
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(_sqlite_path(env))) as copy:
            source.backup(copy)
    return users


def _template(kind: str) -> tuple[str, dict[str, dict]]:
    if kind not in _templates:
        env = deployment_env(database_url=None, redis_url=None)
        if kind == "postgres":
            location = "sb_test_template_" + os.urandom(5).hex()  # a database name
            _psql(PG_ADMIN_URL, f'CREATE DATABASE "{location}"')
            atexit.register(_psql, PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{location}" WITH (FORCE)')
            env["DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{location}"
        else:
            location = str(_sqlite_path(env))  # a file
        atexit.register(shutil.rmtree, env["DATA_DIR"], True)
        cli(env, "migrate")
        users = _usual_users(env)
        delete = "DELETE FROM deployment_identity"
        if kind == "postgres":
            _psql(env["DATABASE_URL"], delete)
        else:
            with closing(sqlite3.connect(location)) as db:
                db.execute(delete)
                db.commit()
        _templates[kind] = (location, users)
    return _templates[kind]


def _usual_users(env: dict[str, str]) -> dict[str, dict]:
    return {email: _create_user(env, email, role, name) for email, role, name in USERS}


def _create_user(env: dict[str, str], email: str, role: str, name: str | None = None,
                 max_chats: int | None = 3) -> dict:
    args = ["create-user", "--email", email, "--password", Deployment.password, "--role", role, "--json"]
    if max_chats is not None:
        args += ["--max-chats", str(max_chats)]
    if name:
        args += ["--name", name]
    return json.loads(cli(env, *args))


def _sqlite_path(env: dict[str, str]) -> Path:
    return Path(env["DATA_DIR"]) / "switchboard.sqlite3"  # DATABASE_URL's default (app/config.py)


def _psql(url: str, sql: str) -> str:
    result = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {result.stderr}")
    return result.stdout.strip()


def migrated_database(request, tmp_path, name: str) -> str:
    """For a fixture parametrized over "sqlite" and "postgres": a new database of that kind (SQLite
    in `tmp_path`, PostgreSQL from `new_postgres_database`), migrated; its URL."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / f'{name}.sqlite3'}"
    else:
        url = request.getfixturevalue("new_postgres_database")()
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    cli(env, "migrate")
    return url
