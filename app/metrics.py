"""Prometheus metrics of one worker (`/metrics`, docs/operations.md "Metrics").

Every worker keeps its own series in a registry of its own, on its runtime (two servers in one
process — the in-process tests — never mix), and labels each series with its `worker` name
(WORKER_NAME, else the process id). Prometheus scrapes every worker: the Procfile and
deploy/cluster.py start one process per port, so each is a target of its own, and sums across
workers are the dashboard's job (deploy/grafana-dashboard.json). No multiprocess mode: it
needs a shared directory of mmap files and a forking parent, and our workers share neither.

Counters and histograms are recorded where things happen (`count_*`, `observe_*`); figures of
the whole center (queue lengths, today's service level) and this worker's connections are set
when scraped (`set_*`), so they are exact at that moment.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from app import runtime
from app.logs import worker_name

disable_created_metrics()  # no `*_created` series beside every counter and histogram: noise here

# Seconds: a socket ack is a few milliseconds on a healthy worker; waits are seconds to minutes.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600)
FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One worker's series (made on first use: `current()`)."""

    def __init__(self, worker: str | None = None) -> None:
        self.worker = worker or worker_name()
        self.registry = reg = CollectorRegistry(auto_describe=True)
        w = ("worker",)
        self.connected_visitors = Gauge(
            "switchboard_connected_visitors", "Visitors with at least one tab connected to this worker", w, registry=reg)
        self.connected_csrs = Gauge(
            "switchboard_connected_csrs", "Staff users (CSRs, supervisors) with a console connected to this worker",
            w, registry=reg)
        self.connected_sockets = Gauge(
            "switchboard_connected_sockets", "Socket.io connections to this worker", w + ("namespace",), registry=reg)
        self.messages = Counter(
            "switchboard_messages", "Chat messages stored by this worker, by sender kind "
            "(visitor, agent, system, internal)", w + ("sender",), registry=reg)
        self.ack_seconds = Histogram(
            "switchboard_socket_ack_seconds", "Time from a socket event's arrival to its ack, per event",
            w + ("namespace", "event"), buckets=ACK_BUCKETS, registry=reg)
        self.error_acks = Counter(
            "switchboard_socket_error_acks", "Error acks sent, by error code",
            w + ("namespace", "event", "code"), registry=reg)
        self.rate_limited = Counter(
            "switchboard_rate_limited", "Socket events refused by a rate limit, by limit", w + ("limit",),
            registry=reg)
        self.disconnects = Counter(
            "switchboard_socket_disconnects", "Socket disconnections, by reason", w + ("namespace", "reason"),
            registry=reg)
        self.routing_decisions = Counter(
            "switchboard_routing_decisions", "Routing decisions this worker applied (offer or assign)",
            w + ("outcome",), registry=reg)
        self.wait_seconds = Histogram(
            "switchboard_queue_wait_seconds", "Time from a chat's request to its assignment to a CSR",
            w, buckets=WAIT_BUCKETS, registry=reg)
        self.trail_rows = Counter(
            "switchboard_trail_rows", "Trail rows written by this worker's batch writer, by kind "
            "(page_views, events, visits)", w + ("kind",), registry=reg)
        self.trail_flush_seconds = Histogram(
            "switchboard_trail_flush_seconds", "Time to write one batch of the trail", w, buckets=FLUSH_BUCKETS,
            registry=reg)
        self.queue_length = Gauge(
            "switchboard_queue_length", "Chats waiting now, per department (the whole center, as this worker "
            "reads it from the database)", w + ("department_id", "department"), registry=reg)
        self.service_level = Gauge(
            "switchboard_service_level_today", "Today's service level (0..1): chats answered within the "
            "threshold among those offered (the wallboard's figure; NaN before the first chat)", w, registry=reg)
        self.offered_today = Gauge(
            "switchboard_chats_offered_today", "Chats offered to the center today (the wallboard's figure)", w,
            registry=reg)

    # --- recorded where things happen ---------------------------------------------------------

    def count_message(self, sender: str) -> None:
        self.messages.labels(self.worker, sender).inc()

    def observe_ack(self, namespace: str, event: str, seconds: float, answer: Any) -> None:
        self.ack_seconds.labels(self.worker, namespace, event).observe(seconds)
        if isinstance(answer, dict) and answer.get("ok") is False:
            code = (answer.get("error") or {}).get("code")
            self.error_acks.labels(self.worker, namespace, event, str(code)[:32]).inc()

    def count_rate_limited(self, limit: str) -> None:
        self.rate_limited.labels(self.worker, limit).inc()

    def count_disconnect(self, namespace: str, reason: Any) -> None:
        self.disconnects.labels(self.worker, namespace, str(reason or "unknown")[:32]).inc()

    def count_routing_decision(self, outcome: str) -> None:
        self.routing_decisions.labels(self.worker, outcome).inc()

    def observe_wait(self, seconds: float) -> None:
        self.wait_seconds.labels(self.worker).observe(max(0.0, seconds))

    def observe_trail_flush(self, seconds: float, rows: dict[str, int]) -> None:
        self.trail_flush_seconds.labels(self.worker).observe(seconds)
        for kind, n in rows.items():
            if n:
                self.trail_rows.labels(self.worker, kind).inc(n)

    # --- set when scraped ---------------------------------------------------------------------

    def set_connections(self, rooms: dict) -> None:
        """From the socket.io manager's rooms (namespace → room → members) of this worker."""
        def occupied(namespace: str, prefix: str) -> int:
            return sum(1 for room, members in rooms.get(namespace, {}).items()
                       if isinstance(room, str) and room.startswith(prefix) and members)

        self.connected_visitors.labels(self.worker).set(occupied("/visitor", "visitor:"))
        self.connected_csrs.labels(self.worker).set(occupied("/agent", "agent:"))
        for namespace in ("/visitor", "/agent", "/notices"):
            sockets = len(rooms.get(namespace, {}).get(None, {}))
            self.connected_sockets.labels(self.worker, namespace.strip("/")).set(sockets)

    def set_queues(self, lengths: list[tuple[int | None, str, int]]) -> None:
        """(department id, name, chats waiting) for every department; departments gone are dropped."""
        self.queue_length.clear()
        for department_id, name, waiting in lengths:
            self.queue_length.labels(self.worker, str(department_id or "none"), name).set(waiting)

    def set_today(self, service_level: float | None, offered: int) -> None:
        self.service_level.labels(self.worker).set(float("nan") if service_level is None else service_level)
        self.offered_today.labels(self.worker).set(offered)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


_DETACHED = Metrics("detached")  # where no server runs (a CLI command): recorded, never scraped


def current() -> Metrics:
    """This server's metrics (on its runtime)."""
    rt = runtime.installed()
    return rt.state(Metrics) if rt is not None else _DETACHED
