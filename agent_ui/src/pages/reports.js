// The reports page: filters → /api/reports/<name> for each report → tiles, Chart.js charts and a
// table per report with its CSV download. Every value is text (textContent), never markup.
import "./reports.css";
import {
  Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend,
} from "chart.js";
import { el, clear, meta } from "../dom.js";
import { drawChart, fetchJson, formQuery, restoreFilters } from "../report_page.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend);

const TABLES = ["queues", "agents", "satisfaction", "missed", "states", "traffic", "invitations"];
// The "Work orders" section: per day (with its aging table), SLA, callbacks, contact categories.
const WORK = ["work_orders", "work_order_sla", "callbacks", "contact_categories"];
// The "Knowledge base" section: one request ("knowledge") carries the per-day table and the three
// lists, each with its own CSV (docs/kpis.md "Knowledge base").
const KNOWLEDGE_LISTS = [["knowledge_unanswered", "unanswered"], ["knowledge_articles", "articles"],
  ["knowledge_canned", "canned"]];
const LIST_ROWS = 100; // rows shown of a long list; the CSV has every one
const $ = (id) => document.getElementById(id);
const form = $("filters");
const status = $("rp-status");
const errorBox = $("rp-error");
const charts = {};

const today = meta("switchboard-today") || new Date().toISOString().slice(0, 10);
restoreFilters(new URLSearchParams(location.search), today, ["slice", "department", "variant"]);
const query = () => formQuery(form);

function format(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "percent") return (value * 100).toFixed(1) + " %";
  if (kind === "seconds") return Number(value).toFixed(1) + " s";
  if (kind === "duration") {
    const s = Math.round(Number(value));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? h + " h " + m + " min" : m + " min " + (s % 60) + " s";
  }
  if (kind === "time") return String(value).replace("T", " ").slice(0, 16);
  if (kind === "number") return Number(value).toFixed(2);
  return String(value);
}

const fetchReport = (name, q) => fetchJson("/api/reports/" + name + "?" + q.toString(), "The report", "/reports");

function renderTiles(summary) {
  const tiles = $("tiles");
  clear(tiles);
  for (const row of summary.rows) {
    let change = "";
    if (row.change !== null && row.change !== undefined && row.previous !== null) {
      const sign = row.change > 0 ? "+" : "";
      change = (row.kind === "percent" ? sign + (row.change * 100).toFixed(1) + " pts"
        : row.kind === "seconds" ? sign + Number(row.change).toFixed(1) + " s" : sign + row.change) + " vs previous";
    }
    tiles.appendChild(el("div", { class: "rp-tile", attrs: { role: "group", "aria-label": row.kpi } }, [
      el("div", { class: "rp-tile-label", text: row.kpi }),
      el("div", { class: "rp-tile-value", text: format(row.value, row.kind) }),
      el("div", { class: "rp-tile-change", text: change }),
    ]));
  }
}

const chart = (id, type, labels, datasets, options) => drawChart(Chart, charts, id, type, labels, datasets, options);

function renderCharts(traffic) {
  const labels = traffic.rows.map((r) => format(r.interval, "time"));
  chart("chart-volume", "bar", labels, [
    { label: "Answered", data: traffic.rows.map((r) => r.answered), backgroundColor: "#2563eb" },
    { label: "Abandoned", data: traffic.rows.map((r) => r.abandoned), backgroundColor: "#f59e0b" },
  ], { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  chart("chart-sl", "line", labels, [
    { label: "Service level %", data: traffic.rows.map((r) => (r.service_level === null ? null : r.service_level * 100)),
      borderColor: "#16a34a", spanGaps: true },
  ], { scales: { y: { min: 0, max: 100 } } });
  chart("chart-hours", "bar", traffic.hour_profile.map((h) => String(h.hour).padStart(2, "0") + ":00"), [
    { label: "Chats", data: traffic.hour_profile.map((h) => h.offered), backgroundColor: "#6366f1" },
  ]);
  chart("chart-days", "bar", traffic.weekday_profile.map((d) => d.weekday), [
    { label: "Chats", data: traffic.weekday_profile.map((d) => d.offered), backgroundColor: "#0ea5e9" },
  ]);
}

function renderTable(name, result, q, heading = "h2", limit = 0) {
  const id = "table-" + name;
  const csv = new URLSearchParams(q);
  csv.set("format", "csv");
  // The accessible name begins with the visible text ("Download CSV"), then says which table.
  const link = el("a", { class: "btn btn-small", text: "Download CSV",
    attrs: { href: "/api/reports/" + name + "?" + csv.toString(), download: "", "aria-label": "Download CSV: " + result.title } });
  const section = el("section", { class: "rp-section", attrs: { "aria-labelledby": id + "-h" } }, [
    el("div", { class: "rp-table-head" }, [el(heading, { text: result.title, attrs: { id: id + "-h" } }), link]),
  ]);
  if (!result.rows.length) {
    section.appendChild(el("p", { class: "rp-empty", text: "Nothing in this period." }));
    return section;
  }
  const head = el("tr", {}, result.columns.map((c) => el("th", { text: c.label, attrs: { scope: "col" } })));
  const shown = limit && result.rows.length > limit ? result.rows.slice(0, limit) : result.rows;
  if (shown.length < result.rows.length) {
    section.appendChild(el("p", { class: "rp-note",
      text: "Showing the first " + shown.length + " of " + result.rows.length + "; the CSV has them all." }));
  }
  const body = el("tbody", {}, shown.map((row) =>
    el("tr", {}, result.columns.map((c) => el("td", { text: format(row[c.key], c.kind) })))));
  // The table scrolls within its box: a keyboard user scrolls it once it has the focus (WCAG 2.1.1),
  // and a screen reader names the stop by the table's heading.
  section.appendChild(el("div", { class: "rp-table-wrap", attrs: { tabindex: "0", role: "region", "aria-labelledby": id + "-h" } }, [
    el("table", { class: "rp-table", attrs: { "aria-labelledby": id + "-h" } }, [el("thead", {}, [head]), body]),
  ]));
  return section;
}

/** The state log as a timeline per CSR: one bar across the period, a segment per state. */
function renderTimeline(states) {
  const start = Date.parse(states.window.start);
  const end = Date.parse(states.window.end);
  const span = Math.max(1, end - start);
  const byAgent = new Map();
  for (const row of states.rows) {
    if (!byAgent.has(row.agent)) byAgent.set(row.agent, []);
    byAgent.get(row.agent).push(row);
  }
  const section = el("section", { class: "rp-section", attrs: { "aria-labelledby": "timeline-h" } }, [
    el("h2", { text: "Agent timelines", attrs: { id: "timeline-h" } }),
    el("p", { class: "rp-legend", text: "Available · Away · Offline", attrs: { "aria-hidden": "true" } }),
  ]);
  if (!byAgent.size) {
    section.appendChild(el("p", { class: "rp-empty", text: "No state changes in this period." }));
    return section;
  }
  const list = el("ul", { class: "rp-timelines", attrs: { "aria-label": "Agent timelines" } });
  for (const [agent, rows] of byAgent) {
    const bar = el("div", { class: "rp-bar" });
    const parts = [];
    for (const row of rows) {
      const a = Date.parse(row.from);
      const b = Date.parse(row.to);
      const label = row.state + (row.reason ? " (" + row.reason + ")" : "") + ", " + format(row.seconds, "duration");
      parts.push(label);
      const seg = el("span", { class: "rp-seg rp-seg-" + String(row.state).replace(/[^a-z]/g, ""), attrs: { title: label } });
      seg.style.left = (((a - start) / span) * 100).toFixed(3) + "%";
      seg.style.width = Math.max(0.2, ((b - a) / span) * 100).toFixed(3) + "%";
      bar.appendChild(seg);
    }
    list.appendChild(el("li", { class: "rp-timeline", attrs: { "aria-label": agent + ": " + parts.join("; ") } }, [
      el("span", { class: "rp-timeline-name", text: agent }), bar,
    ]));
  }
  section.appendChild(list);
  return section;
}

/** Work orders created and resolved (bars) and open at the end of each day (line). */
function renderWorkChart(daily) {
  const days = daily.rows.filter((r) => r.day !== "Total");
  chart("chart-work", "bar", days.map((r) => r.day), [
    { label: "Created", data: days.map((r) => r.created), backgroundColor: "#2563eb" },
    { label: "Resolved", data: days.map((r) => r.resolved), backgroundColor: "#16a34a" },
    { type: "line", label: "Open at end of day", data: days.map((r) => r.backlog), borderColor: "#f59e0b",
      backgroundColor: "#f59e0b" },
  ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
}

function renderWork(byName, q) {
  renderWorkChart(byName.work_orders);
  const box = $("work-tables");
  clear(box);
  box.appendChild(renderTable("work_orders", byName.work_orders, q, "h3"));
  box.appendChild(renderTable("work_order_aging", byName.work_orders.aging, q, "h3"));
  for (const name of WORK.slice(1)) box.appendChild(renderTable(name, byName[name], q, "h3"));
}

const KNOWLEDGE_TILES = [
  ["searches", "Searches", "count"], ["searches_no_result", "Searches with no result", "count"],
  ["reads", "Articles read", "count"], ["sessions", "Self-service sessions", "count"],
  ["deflection_rate", "Deflection rate", "percent"], ["inserted", "Articles inserted by CSRs", "count"],
  ["chats_closed_after_insert", "Chats closed after an insert", "count"], ["canned_used", "Canned responses used", "count"],
];

/** The knowledge section: totals as tiles, a chart per day, the per-day table and the three lists. */
function renderKnowledge(result, q) {
  const totals = Object.assign({}, result.totals, { inserted: result.totals.inserted_link + result.totals.inserted_text });
  const tiles = $("kb-tiles");
  clear(tiles);
  for (const [key, label, kind] of KNOWLEDGE_TILES) {
    tiles.appendChild(el("div", { class: "rp-tile", attrs: { role: "group", "aria-label": label } }, [
      el("div", { class: "rp-tile-label", text: label }),
      el("div", { class: "rp-tile-value", text: format(totals[key], kind) }),
    ]));
  }
  const days = result.rows.filter((r) => r.day !== "Total");
  chart("chart-knowledge", "bar", days.map((r) => r.day), [
    { label: "Searches", data: days.map((r) => r.searches), backgroundColor: "#2563eb", yAxisID: "y" },
    { label: "Searches with no result", data: days.map((r) => r.searches_no_result), backgroundColor: "#f59e0b", yAxisID: "y" },
    { label: "Articles read", data: days.map((r) => r.reads), backgroundColor: "#16a34a", yAxisID: "y" },
    { type: "line", label: "Deflection rate %", yAxisID: "rate", borderColor: "#7c3aed", backgroundColor: "#7c3aed",
      spanGaps: true, data: days.map((r) => (r.deflection_rate === null ? null : r.deflection_rate * 100)) },
  ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } },
    rate: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } });
  const box = $("kb-tables");
  clear(box);
  box.appendChild(renderTable("knowledge", result, q, "h3"));
  for (const [name, key] of KNOWLEDGE_LISTS) box.appendChild(renderTable(name, result[key], q, "h3", LIST_ROWS));
}

let generation = 0;
async function load() {
  const mine = ++generation;
  const q = query();
  history.replaceState(null, "", "/reports?" + q.toString());
  status.textContent = "Loading…";
  errorBox.hidden = true;
  try {
    const names = [...TABLES, ...WORK, "knowledge"];
    const [summary, ...rest] = await Promise.all(["summary", ...names].map((name) => fetchReport(name, q)));
    if (mine !== generation) return;
    renderTiles(summary);
    const byName = Object.fromEntries(names.map((name, i) => [name, rest[i]]));
    renderCharts(byName.traffic);
    const tables = $("tables");
    clear(tables);
    tables.appendChild(renderTable("summary", summary, q));
    for (const name of TABLES) {
      if (name === "states") tables.appendChild(renderTimeline(byName.states));
      tables.appendChild(renderTable(name, byName[name], q));
    }
    renderWork(byName, q);
    renderKnowledge(byName.knowledge, q);
    status.textContent = summary.headline.offered
      ? "Showing " + summary.window.from + " to " + summary.window.to + "."
      : "No chats between " + summary.window.from + " and " + summary.window.to + ".";
  } catch (e) {
    if (mine !== generation) return;
    status.textContent = "";
    errorBox.textContent = e.message || "The reports could not be loaded.";
    errorBox.hidden = false;
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  load();
});
load();
