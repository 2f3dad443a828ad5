"""A Switchboard cluster on this machine: PostgreSQL + Redis, migrations, N workers behind nginx.

    make cluster                      # 3 workers behind http://127.0.0.1:8080, Ctrl+C stops all
    .venv/bin/python deploy/cluster.py --workers 2 --port 9090

It runs nginx with deploy/nginx.conf, rewriting only its `listen` line and the upstream's `server`
lines. PostgreSQL and Redis must be running (`make services` starts or installs them); the
database (default `switchboard_cluster`) is created when missing, migrated, and seeded with the
demo site and users on the first run. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_nginx(listen_port: int, worker_ports: list[int]) -> str:
    """deploy/nginx.conf with its `listen` line and upstream `server` lines set to these ports."""
    text = NGINX_CONF.read_text()
    text, listens = re.subn(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen_port};", text)
    servers = re.findall(r"^( +)server 127\.0\.0\.1:\d+( [^;]*)?;\n", text, flags=re.M)
    if listens != 1 or not servers:
        raise SystemExit("deploy/nginx.conf: expected one `listen 127.0.0.1:PORT;` and upstream `server` lines")
    indent, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{p}{options};\n" for p in worker_ports)
    text = re.sub(r"(^ +server 127\.0\.0\.1:\d+( [^;]*)?;\n)+", lambda _m: lines, text, count=1, flags=re.M)
    return text


def ensure_database(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server of `admin_url`, created when missing."""
    base = admin_url.rsplit("/", 1)[0]
    exists = subprocess.run(["psql", admin_url, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                            capture_output=True, text=True, check=True).stdout.strip()
    if exists != "1":
        subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    return f"{base}/{name}"


def wait_http(url: str, timeout: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"a process exited early ({proc.args[:4]}…, code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)  # polling for readiness
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self.prefix = Path(tempfile.mkdtemp(prefix="sb-nginx-"))
        self.url = f"http://127.0.0.1:{args.port}"
        self.env = dict(os.environ)

    def prepare(self) -> None:
        a = self.args
        database_url = a.database_url or ensure_database(a.postgres_admin_url, a.database)
        self.env.update(
            DATABASE_URL=database_url, REDIS_URL=a.redis_url, PUBLIC_URL=self.url,
            FORWARDED_ALLOW_IPS="127.0.0.1", DATA_DIR=str(Path(a.data_dir).resolve()),
            PYTHONPATH=str(ROOT),
        )
        Path(a.data_dir).mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=self.env, check=True)
        if a.demo:
            subprocess.run([sys.executable, "-m", "app", "demo"], cwd=ROOT, env=self.env, check=True)

    def start(self) -> None:
        a = self.args
        ports = a.worker_ports or [free_port() for _ in range(a.workers)]
        for sub in ("logs", "temp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        for i, port in enumerate(ports, start=1):
            self.workers.append(self._spawn(i, port))
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz", 60, self.procs)
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_nginx(a.port, ports))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-t", "-q", "-p", str(self.prefix), "-c", str(conf)], check=True)
        self.nginx = subprocess.Popen([nginx, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"])
        self.procs.append(self.nginx)
        wait_http(self.url + "/healthz", 30, self.procs)
        self.ports = ports

    def _spawn(self, number: int, port: int) -> subprocess.Popen:
        log = (self.prefix / "logs" / f"worker-{number}.log").open("a")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def restart_worker(self, index: int, timeout: float = 60) -> subprocess.Popen:
        """Starts worker `index` (0-based) again on its port, once its process has exited (bench/chaos.py
        kills one); returns when it answers /healthz."""
        old = self.workers[index]
        if old.poll() is None:
            raise RuntimeError(f"worker {index + 1} is still running")
        self.procs.remove(old)
        self.workers[index] = self._spawn(index + 1, self.ports[index])
        wait_http(f"http://127.0.0.1:{self.ports[index]}/healthz", timeout, self.procs)
        return self.workers[index]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if proc is not self.nginx else signal.SIGQUIT)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--worker-ports", type=lambda s: [int(p) for p in s.split(",")], default=None,
                        help="comma-separated ports for the workers (default: free ports)")
    parser.add_argument("--port", type=int, default=8080, help="where nginx listens on 127.0.0.1 (default 8080)")
    parser.add_argument("--database-url", default=os.environ.get("CLUSTER_DATABASE_URL"),
                        help="PostgreSQL URL (default: database --database on the local server, created)")
    parser.add_argument("--database", default="switchboard_cluster")
    parser.add_argument("--postgres-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--data-dir", default=str(ROOT / "data" / "cluster"))
    parser.add_argument("--no-demo", dest="demo", action="store_false", help="do not seed the demo site")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    cluster = Cluster(args)
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.prepare()
        cluster.start()
        print(f"Switchboard cluster: {len(cluster.ports)} workers behind nginx at {cluster.url}"
              f" (workers on {', '.join(map(str, cluster.ports))}; logs in {cluster.prefix / 'logs'})."
              " Ctrl+C stops it.", flush=True)
        while not stopping:
            if any(p.poll() is not None for p in cluster.procs):
                print("a process of the cluster exited; stopping", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
