"""The reports layer: KPI figures read from the event log.

Each module here reads the rows it needs from the database (`app.models`) and hands them, as
plain values, to the pure formulas of `app.kpi`; the transport layer (`app/web/`,
`app/realtime/`) calls these and shapes the reply.

- `kpi_report` — the reports page and its CSV exports (`/reports`, `/api/reports/<name>`).
- `live` — today's figures so far, for the wallboard.
- `planning` — the staffing plan for next week, from the history in the log.
"""
