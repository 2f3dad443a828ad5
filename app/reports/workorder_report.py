"""Work-order reports: the `work_order_event` log and the order rows for a window, counted in SQL.

- `work_orders`: per local day, orders created, reopened and resolved, and the backlog (orders open)
  at the end of the day; the window's totals; `aging` (also its own report `work_order_aging`):
  the orders open at the end of the window by age.
- `work_order_sla`: for the orders created in the window, per team, handler and category
  (`group`): first-response and resolution SLA compliance, average and 90th-percentile resolution
  time, reopen rate, urges per order, escalations.
- `callbacks`: the callbacks due in the window per assignee: done, not yet due, overdue, outcomes.
- `contact_categories`: chats classified per category per day (the `classified` conversation
  events), and the work orders created per category in the same window.

Every count is a SQL aggregate over every matching row (never a sample); the rules are those of the
pure `app.workorders.metrics` (docs/kpis.md "Work orders"), which also computes what needs the
values themselves (the 90th percentile, the backlog walk). Statements are written for both back
ends: PostgreSQL (`$n`) and SQLite (`?n`, where a moment is UTC text that sorts in time order, as
tortoise stores it). A local day is bucketed by comparing with its UTC start (a binary CASE), so
days of 23 or 25 hours are exact, on either back end.

Scope: admins count every order; a supervisor the orders of the sites they serve (`Reach.sites`,
None: all), and the classified chats of the queues they cover (`Query.covers`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from app import db, runtime
from app.clock import iso, utcnow
from app.kpi.intervals import as_utc, local_date_start
from app.models import Team, User, WorkCategory
from app.models.workorders import CALLBACK_OUTCOMES
from app.reports.kpi_report import Query, ReportError, window_names
from app.workorders import metrics

REPORTS = ("work_orders", "work_order_aging", "work_order_sla", "callbacks", "contact_categories")
SLA_GROUPS = ("team", "handler", "category")
P90 = 90
OUTCOME_LABELS = {"reached": "Reached", "not_reached": "Not reached", "satisfied": "Satisfied",
                  "not_satisfied": "Not satisfied"}


# --------------------------------------------------------------------------------------------
# SQL for both back ends


class _Sql:
    """Arguments of one statement, numbered for the connection's dialect (`$n` / `?n`)."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgres"
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = as_utc(value)
            if not self.pg:  # as tortoise writes a moment on SQLite: UTC text, in time order
                value = value.isoformat(" ")
        self.args.append(value)
        return f"${len(self.args)}" if self.pg else f"?{len(self.args)}"

    def utc(self, column: str) -> str:
        """A moment column whose SQLite text may carry another offset (a callback's due time is
        stored as the browser sent it), as UTC text to the millisecond; PostgreSQL: itself."""
        return column if self.pg else f"strftime('%Y-%m-%d %H:%M:%f', {column})"

    def utc_arg(self, value: datetime) -> str:
        """The argument to compare with `utc(column)`."""
        if self.pg:
            return self.arg(value)
        at = as_utc(value)
        self.args.append(at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}")
        return f"?{len(self.args)}"

    def json_text(self, column: str, key: str) -> str:
        return f"({column} ->> '{key}')" if self.pg else f"json_extract({column}, '$.{key}')"

    def within(self, column: str, lo: datetime, hi: datetime) -> str:
        return f"{column} >= {self.arg(lo)} AND {column} < {self.arg(hi)}"

    def among(self, column: str, values: Iterable[int]) -> str:
        values = sorted(values)
        if not values:
            return "1 = 0"
        return f"{column} IN ({', '.join(self.arg(v) for v in values)})"

    def day_index(self, column: str, edges: list[datetime]) -> str:
        """The index i of the day [edges[i], edges[i+1]) holding `column` (rows already within
        [edges[0], edges[-1])): a balanced CASE, so each row is compared about log2(days) times."""
        def part(a: int, b: int) -> str:
            if b - a == 1:
                return str(a)
            mid = (a + b) // 2
            return f"CASE WHEN {column} < {self.arg(edges[mid])} THEN {part(a, mid)} ELSE {part(mid, b)} END"

        return part(0, len(edges) - 1)


async def _rows(sql: _Sql, text: str) -> list[dict[str, Any]]:
    connection = db.current_connection(runtime.current().settings)
    return await connection.execute_query_dict(text, sql.args)


def _dialect() -> str:
    return db.current_connection(runtime.current().settings).capabilities.dialect


def _moment(value: Any) -> datetime | None:
    """A moment as a raw statement returns it (SQLite: text), as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def _n(value: Any) -> int:
    return int(value or 0)


# --------------------------------------------------------------------------------------------
# Scope, days, names


def _order_sites(query: Query) -> frozenset[int] | None:
    """The sites whose orders are counted (None: every site's)."""
    return None if query.reach is None else query.reach.sites


def _order_scope(sql: _Sql, query: Query, column: str = "o.site_id") -> str:
    sites = _order_sites(query)
    return "1 = 1" if sites is None else sql.among(column, sites)


def _queue_scope(sql: _Sql, query: Query, site: str, department: str) -> str:
    """Query.covers in SQL: a department of the supervisor's, or a general queue of a site they serve."""
    reach = query.reach
    if reach is None or reach.departments is None:
        return "1 = 1"
    if not reach.messages:
        return "1 = 0"
    general = f"{department} IS NULL" + ("" if reach.sites is None else f" AND {sql.among(site, reach.sites)}")
    if not reach.departments:
        return f"({general})"
    return f"({sql.among(department, reach.departments)} OR ({general}))"


def _days(query: Query) -> tuple[list[date], list[datetime]]:
    """The window's local days and their UTC starts, the end of the last one appended."""
    days = [query.start + timedelta(days=i) for i in range((query.end - query.start).days + 1)]
    lo, hi = query.window  # a window by the hour: the first and last days are cut to it
    edges = [lo] + [local_date_start(d, query.time_zone) for d in days[1:]] + [hi]
    return days, edges


def _window(query: Query) -> dict[str, Any]:
    lo, hi = query.window
    return {**window_names(query), "start": iso(lo), "end": iso(hi),
            "time_zone": query.time_zone}


def _columns(*spec: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"key": k, "label": label, "kind": kind} for k, label, kind in spec]


async def _category_paths() -> dict[int, str]:
    """Every category's path ("Complaint › Delivery"), deactivated ones included."""
    rows = await WorkCategory.all().values("id", "name", "parent_id")
    names = {r["id"]: r["name"] for r in rows}
    return {r["id"]: f"{names[r['parent_id']]} › {r['name']}" if r["parent_id"] in names else r["name"]
            for r in rows}


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# Open at a moment (metrics.is_open_at): created before it, and no more resolutions than reopenings
# before it. `net` is reopenings − resolutions of each order with either before the moment.
def _open_at(sql: _Sql, query: Query, moment: datetime, select: str, group: str = "") -> str:
    status = sql.json_text("e.data", "status")
    net = (f"SELECT e.work_order_id AS oid, SUM(CASE WHEN e.kind = 'reopened' THEN 1 ELSE -1 END) AS net "
           f"FROM work_order_event e WHERE e.at < {sql.arg(moment)} "
           f"AND (e.kind = 'reopened' OR (e.kind = 'status' AND {status} = 'resolved')) GROUP BY e.work_order_id")
    return (f"SELECT {select} FROM work_order o LEFT JOIN ({net}) f ON f.oid = o.id "
            f"WHERE o.created_at < {sql.arg(moment)} AND COALESCE(f.net, 0) >= 0 AND {_order_scope(sql, query)}"
            f"{group}")


# --------------------------------------------------------------------------------------------
# work_orders, work_order_aging


async def _aging(query: Query, dialect: str) -> dict[str, Any]:
    _, hi = query.window
    as_of = min(hi, utcnow())  # the window's end; now, for a window that has not ended
    sql = _Sql(dialect)
    # Younger than each edge: created after (moment − edge). The buckets of metrics.aging_bucket.
    cases = " ".join(f"WHEN o.created_at > {sql.arg(as_of - edge)} THEN {i}"
                     for i, edge in enumerate(metrics.AGING_EDGES))
    bucket = f"CASE {cases} ELSE {len(metrics.AGING_EDGES)} END"
    counts = [0] * len(metrics.AGING_BUCKETS)
    for row in await _rows(sql, _open_at(sql, query, as_of, f"{bucket} AS b, COUNT(*) AS n", " GROUP BY 1")):
        counts[int(row["b"])] += _n(row["n"])
    rows = [{"age": label, "orders": n} for (_, label, _, _), n in zip(metrics.AGING_BUCKETS, counts)]
    rows.append({"age": "Total", "orders": sum(counts)})
    return {"title": "Open work orders by age", "window": _window(query), "as_of": iso(as_of),
            "columns": _columns(("age", "Age", "text"), ("orders", "Open orders", "count")),
            "rows": rows, "buckets": {key: n for (key, _, _, _), n in zip(metrics.AGING_BUCKETS, counts)}}


async def work_order_aging(query: Query) -> dict[str, Any]:
    return await _aging(query, _dialect())


async def work_orders(query: Query) -> dict[str, Any]:
    dialect = _dialect()
    lo, hi = query.window
    days, edges = _days(query)
    flows = [{"created": 0, "reopened": 0, "resolved": 0} for _ in days]

    sql = _Sql(dialect)
    where = f"{sql.within('o.created_at', lo, hi)} AND {_order_scope(sql, query)}"
    text = f"SELECT {sql.day_index('o.created_at', edges)} AS d, COUNT(*) AS n FROM work_order o WHERE {where} GROUP BY 1"
    for row in await _rows(sql, text):
        flows[int(row["d"])]["created"] += _n(row["n"])

    sql = _Sql(dialect)
    status = sql.json_text("e.data", "status")
    where = (f"{sql.within('e.at', lo, hi)} AND (e.kind = 'reopened' OR (e.kind = 'status' AND {status} = 'resolved')) "
             f"AND {_order_scope(sql, query)}")
    text = (f"SELECT {sql.day_index('e.at', edges)} AS d, e.kind AS kind, COUNT(*) AS n FROM work_order_event e "
            f"JOIN work_order o ON o.id = e.work_order_id WHERE {where} GROUP BY 1, 2")
    for row in await _rows(sql, text):
        flows[int(row["d"])]["reopened" if row["kind"] == "reopened" else "resolved"] += _n(row["n"])

    sql = _Sql(dialect)
    opening = _n((await _rows(sql, _open_at(sql, query, lo, "COUNT(*) AS n")))[0]["n"])
    walk = metrics.backlog_walk(opening, [metrics.DayFlow(**f) for f in flows])
    rows = [{"day": d.isoformat(), **f, "backlog": b} for d, f, b in zip(days, flows, walk)]
    totals = {key: sum(f[key] for f in flows) for key in ("created", "reopened", "resolved")}
    rows.append({"day": "Total", **totals, "backlog": walk[-1] if walk else opening})
    return {"title": "Work orders per day", "window": _window(query), "opening_backlog": opening,
            "totals": {**totals, "backlog": rows[-1]["backlog"]},
            "columns": _columns(("day", "Day", "text"), ("created", "Created", "count"),
                                ("reopened", "Reopened", "count"), ("resolved", "Resolved", "count"),
                                ("backlog", "Open at end of day", "count")),
            "rows": rows, "aging": await _aging(query, dialect)}


# --------------------------------------------------------------------------------------------
# work_order_sla


def _order_facts(sql: _Sql, query: Query) -> str:
    """Per order created in the window (in scope): its first public reply, first resolution,
    reopenings, urges and escalations, from the event log."""
    lo, hi = query.window
    status = sql.json_text("e.data", "status")
    return (
        "SELECT e.work_order_id AS oid, "
        "MIN(CASE WHEN e.kind = 'replied' THEN e.at END) AS first_reply, "
        f"MIN(CASE WHEN e.kind = 'status' AND {status} = 'resolved' THEN e.at END) AS first_resolved, "
        "SUM(CASE WHEN e.kind = 'reopened' THEN 1 ELSE 0 END) AS reopens, "
        "SUM(CASE WHEN e.kind = 'urged' THEN 1 ELSE 0 END) AS urges, "
        "SUM(CASE WHEN e.kind = 'escalated' THEN 1 ELSE 0 END) AS escalations "
        "FROM work_order_event e JOIN work_order o ON o.id = e.work_order_id "
        f"WHERE {sql.within('o.created_at', lo, hi)} AND {_order_scope(sql, query)} "
        "AND e.kind IN ('replied', 'status', 'reopened', 'urged', 'escalated') GROUP BY e.work_order_id"
    )


_COUNTS = ("orders", "first_response_in_time", "first_response_counted", "resolution_in_time", "resolution_counted",
           "resolved", "reopened", "urges", "escalations")


async def work_order_sla(query: Query) -> dict[str, Any]:
    if query.group not in ("none", *SLA_GROUPS):
        raise ReportError("'group' of the work-order SLA report is none, team, handler or category.")
    dialect = _dialect()
    lo, hi = query.window
    now = utcnow()
    sql = _Sql(dialect)
    facts = _order_facts(sql, query)
    # metrics.sla_outcome in SQL: counted = met or missed (done, or due passed); met = done ≤ due.
    text = (
        "SELECT o.team_id AS team, o.handler_id AS handler, o.category_id AS category, COUNT(*) AS orders, "
        "SUM(CASE WHEN o.first_response_due_at IS NOT NULL AND f.first_reply IS NOT NULL "
        "AND f.first_reply <= o.first_response_due_at THEN 1 ELSE 0 END) AS first_response_in_time, "
        "SUM(CASE WHEN o.first_response_due_at IS NOT NULL AND (f.first_reply IS NOT NULL "
        f"OR o.first_response_due_at <= {sql.arg(now)}) THEN 1 ELSE 0 END) AS first_response_counted, "
        "SUM(CASE WHEN o.due_at IS NOT NULL AND o.resolved_at IS NOT NULL AND o.resolved_at <= o.due_at "
        "THEN 1 ELSE 0 END) AS resolution_in_time, "
        "SUM(CASE WHEN o.due_at IS NOT NULL AND (o.resolved_at IS NOT NULL "
        f"OR o.due_at <= {sql.arg(now)}) THEN 1 ELSE 0 END) AS resolution_counted, "
        "SUM(CASE WHEN f.first_resolved IS NOT NULL THEN 1 ELSE 0 END) AS resolved, "
        "SUM(CASE WHEN f.reopens > 0 THEN 1 ELSE 0 END) AS reopened, "
        "SUM(COALESCE(f.urges, 0)) AS urges, SUM(COALESCE(f.escalations, 0)) AS escalations "
        f"FROM work_order o LEFT JOIN ({facts}) f ON f.oid = o.id "
        f"WHERE {sql.within('o.created_at', lo, hi)} AND {_order_scope(sql, query)} "
        "GROUP BY o.team_id, o.handler_id, o.category_id"
    )
    combos = await _rows(sql, text)
    # Resolution times need the values themselves (the percentile): one row per resolved order.
    sql = _Sql(dialect)
    facts = _order_facts(sql, query)
    text = (f"SELECT o.team_id AS team, o.handler_id AS handler, o.category_id AS category, o.created_at AS created, "
            f"f.first_resolved AS first_resolved FROM work_order o JOIN ({facts}) f ON f.oid = o.id "
            f"WHERE f.first_resolved IS NOT NULL")
    durations = [(r["team"], r["handler"], r["category"],
                  metrics.resolution_seconds(_moment(r["created"]), _moment(r["first_resolved"])))
                 for r in await _rows(sql, text)]

    groups = SLA_GROUPS if query.group == "none" else (query.group,)
    names = {
        "team": {t["id"]: t["name"] for t in await Team.all().values("id", "name")},
        "handler": {u["id"]: u["display_name"] for u in await User.all().values("id", "display_name")},
        "category": await _category_paths(),
    }
    nobody = {"team": "No team", "handler": "Nobody", "category": "No category"}
    rows: list[dict[str, Any]] = []
    if combos:
        rows.append(_sla_row("All", "All orders", combos, [d[3] for d in durations]))
    for group in groups:
        index = SLA_GROUPS.index(group)
        keys = {c[group] for c in combos}
        named = sorted(keys, key=lambda k: (k is None, (names[group].get(k) or f"#{k}").lower() if k else ""))
        for key in named:
            label = nobody[group] if key is None else names[group].get(key, f"#{key}")
            rows.append(_sla_row(group.capitalize(), label, [c for c in combos if c[group] == key],
                                 [d[3] for d in durations if d[index] == key]))
    return {"title": "Work-order SLA", "window": _window(query), "group": query.group, "as_of": iso(now),
            "columns": _columns(
                ("by", "By", "text"), ("name", "Name", "text"), ("orders", "Orders", "count"),
                ("first_response_in_time", "First responses in time", "count"),
                ("first_response_counted", "First responses counted", "count"),
                ("first_response_sla", "First-response SLA", "percent"),
                ("resolution_in_time", "Resolutions in time", "count"),
                ("resolution_counted", "Resolutions counted", "count"),
                ("resolution_sla", "Resolution SLA", "percent"), ("resolved", "Resolved", "count"),
                ("avg_resolution_seconds", "Average resolution time", "duration"),
                ("p90_resolution_seconds", "90th percentile resolution time", "duration"),
                ("reopen_rate", "Reopen rate", "percent"), ("urges_per_order", "Urges per order", "number"),
                ("escalations", "Escalations", "count")),
            "rows": rows}


def _sla_row(by: str, name: str, combos: list[dict[str, Any]], seconds: list[float]) -> dict[str, Any]:
    c = {key: sum(_n(row[key]) for row in combos) for key in _COUNTS}
    return {
        "by": by, "name": name, "orders": c["orders"],
        "first_response_in_time": c["first_response_in_time"], "first_response_counted": c["first_response_counted"],
        "first_response_sla": _r(metrics.ratio(c["first_response_in_time"], c["first_response_counted"])),
        "resolution_in_time": c["resolution_in_time"], "resolution_counted": c["resolution_counted"],
        "resolution_sla": _r(metrics.ratio(c["resolution_in_time"], c["resolution_counted"])),
        "resolved": c["resolved"],
        "avg_resolution_seconds": _r(metrics.mean(seconds), 1),
        "p90_resolution_seconds": _r(metrics.nearest_rank(seconds, P90), 1),
        "reopen_rate": _r(metrics.ratio(c["reopened"], c["resolved"])),
        "urges_per_order": _r(metrics.ratio(c["urges"], c["orders"])),
        "escalations": c["escalations"],
    }


# --------------------------------------------------------------------------------------------
# callbacks


async def callbacks(query: Query) -> dict[str, Any]:
    lo, hi = query.window
    now = utcnow()
    sql = _Sql(_dialect())
    due = sql.utc("c.due_at")
    outcomes = ", ".join(f"SUM(CASE WHEN c.outcome = '{o}' THEN 1 ELSE 0 END) AS {o}" for o in CALLBACK_OUTCOMES)
    text = (
        "SELECT c.assignee_id AS assignee, COUNT(*) AS due, "
        "SUM(CASE WHEN c.done_at IS NOT NULL THEN 1 ELSE 0 END) AS done, "
        f"SUM(CASE WHEN c.done_at IS NULL AND {due} > {sql.utc_arg(now)} THEN 1 ELSE 0 END) AS pending, "
        f"SUM(CASE WHEN c.done_at IS NULL AND {due} <= {sql.utc_arg(now)} THEN 1 ELSE 0 END) AS overdue, "
        f"{outcomes} "
        "FROM work_order_callback c JOIN work_order o ON o.id = c.work_order_id "
        f"WHERE {due} >= {sql.utc_arg(lo)} AND {due} < {sql.utc_arg(hi)} AND {_order_scope(sql, query)} "
        "GROUP BY c.assignee_id"
    )
    found = await _rows(sql, text)
    names = {u["id"]: u["display_name"] for u in await User.all().values("id", "display_name")}
    keys = ("due", "done", "pending", "overdue", *CALLBACK_OUTCOMES)
    rows = [{"assignee": names.get(r["assignee"], f"#{r['assignee']}") if r["assignee"] is not None else "Nobody",
             **{k: _n(r[k]) for k in keys}} for r in found]
    rows.sort(key=lambda r: (r["assignee"] == "Nobody", r["assignee"].lower()))
    if rows:
        rows.append({"assignee": "Total", **{k: sum(r[k] for r in rows) for k in keys}})
    return {"title": "Callbacks", "window": _window(query), "as_of": iso(now),
            "columns": _columns(("assignee", "Assignee", "text"), ("due", "Due", "count"), ("done", "Done", "count"),
                                ("pending", "Not yet due", "count"), ("overdue", "Overdue", "count"),
                                *[(o, OUTCOME_LABELS[o], "count") for o in CALLBACK_OUTCOMES]),
            "rows": rows}


# --------------------------------------------------------------------------------------------
# contact_categories


async def contact_categories(query: Query) -> dict[str, Any]:
    dialect = _dialect()
    lo, hi = query.window
    days, edges = _days(query)
    sql = _Sql(dialect)
    category = sql.json_text("e.data", "category_id")
    where = f"e.kind = 'classified' AND {sql.within('e.at', lo, hi)} AND {_queue_scope(sql, query, 'e.site_id', 'e.department_id')}"
    if query.department_id is not None:
        where += f" AND e.department_id = {sql.arg(query.department_id)}"
    text = (f"SELECT {sql.day_index('e.at', edges)} AS d, {category} AS c, COUNT(*) AS n FROM conversation_event e "
            f"WHERE {where} GROUP BY 1, 2")
    chats: dict[int | None, list[int]] = {}
    for row in await _rows(sql, text):
        key = int(row["c"]) if row["c"] is not None else None
        chats.setdefault(key, [0] * len(days))[int(row["d"])] += _n(row["n"])
    sql = _Sql(dialect)
    text = (f"SELECT o.category_id AS c, COUNT(*) AS n FROM work_order o "
            f"WHERE {sql.within('o.created_at', lo, hi)} AND {_order_scope(sql, query)} GROUP BY o.category_id")
    orders = {row["c"]: _n(row["n"]) for row in await _rows(sql, text)}

    paths = await _category_paths()
    day_keys = [d.isoformat() for d in days]

    def label(key: int | None) -> str:
        return "No category" if key is None else paths.get(key, f"#{key} (deleted)")

    rows = []
    for key in sorted(set(chats) | set(orders), key=lambda k: (k is None, label(k).lower())):
        per_day = chats.get(key, [0] * len(days))
        rows.append({"category": label(key), **dict(zip(day_keys, per_day)), "chats": sum(per_day),
                     "work_orders": orders.get(key, 0)})
    if rows:
        rows.append({"category": "Total", **{k: sum(r[k] for r in rows) for k in day_keys},
                     "chats": sum(r["chats"] for r in rows), "work_orders": sum(r["work_orders"] for r in rows)})
    return {"title": "Contact categories", "window": _window(query),
            "columns": _columns(("category", "Category", "text"), *[(k, k, "count") for k in day_keys],
                                ("chats", "Classified chats", "count"), ("work_orders", "Work orders created", "count")),
            "rows": rows}


async def run(name: str, query: Query) -> dict[str, Any]:
    return await {"work_orders": work_orders, "work_order_aging": work_order_aging, "work_order_sla": work_order_sla,
                  "callbacks": callbacks, "contact_categories": contact_categories}[name](query)
