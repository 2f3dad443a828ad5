// The reports page: filters → /api/reports/<name> for each report → tiles, Chart.js charts and a
// table per report with its CSV download. Every value is text (textContent), never markup.
import "./reports.css";
import {
  Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend,
} from "chart.js";
import { el, clear, meta } from "../dom.js";
import { t, formatNumber, formatPercent, formatDuration, formatDate, lang } from "../i18n.js";
import { addDays, drawChart, fetchJson, formQuery, restoreFilters } from "../report_page.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend);

const TABLES = ["queues", "agents", "satisfaction", "csat_comments", "missed", "states", "traffic", "invitations"];
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
// A window by the hour (from=2026-11-23T09:00): the date goes in the date field, the hour in its own.
const HOUR = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):00(?::00)?$/;
const startParams = new URLSearchParams(location.search);
for (const name of ["from", "to"]) {
  const found = HOUR.exec(startParams.get(name) || "");
  if (found) {
    startParams.set(name, found[1]);
    const hour = $("f-" + name + "-hour");
    hour.value = found[2];
    if (hour.value !== found[2]) hour.value = ""; // 00:00: the day's start (from) or the previous day's end (to)
    if (name === "to" && found[2] === "00") startParams.set(name, addDays(found[1], -1));
  }
}
restoreFilters(startParams, today, ["slice", "department", "variant"]);
function query() {
  const q = formQuery(form);
  for (const name of ["from", "to"]) {
    const hour = $("f-" + name + "-hour").value;
    if (hour && q.get(name)) q.set(name, q.get(name) + "T" + hour + ":00");
  }
  return q;
}
// The name of the page's language, in itself (the CSV's optional row of column names is in it).
const LANGUAGE_NAME = lang === "zh-CN" ? "简体中文" : "English";
const DIGITS = (n) => ({ minimumFractionDigits: n, maximumFractionDigits: n });
const isDay = (value) => /^\d{4}-\d{2}-\d{2}$/.test(String(value)); // a per-day row (not the Total row)
// A window's end: a date (through that day) or a date-time to the hour (see `query`).
const day = (iso) => (String(iso).includes("T")
  ? formatDate(iso, { dateStyle: "medium", timeStyle: "short" }) : formatDate(iso + "T00:00:00"));

function format(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "percent") return formatPercent(Number(value));
  if (kind === "seconds") return t("{s} s", { s: formatNumber(Number(value), DIGITS(1)) });
  if (kind === "duration") return formatDuration(Number(value));
  // The center's wall clock as the server gives it (the page says which time zone).
  if (kind === "time") return String(value).replace("T", " ").slice(0, 16);
  if (kind === "number") return formatNumber(Number(value), DIGITS(2));
  if (kind === "count" && typeof value === "number") return formatNumber(value);
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
      change = row.kind === "percent"
        ? t("{change} pts vs previous", { change: sign + formatNumber(row.change * 100, DIGITS(1)) })
        : t("{change} vs previous", { change: sign + (row.kind === "seconds" ? format(row.change, "seconds") : formatNumber(row.change)) });
    }
    tiles.appendChild(el("div", { class: "rp-tile", attrs: { role: "group", "aria-label": row.kpi } }, [
      el("div", { class: "rp-tile-label", text: row.kpi }),
      el("div", { class: "rp-tile-value", text: format(row.value, row.kind) }),
      el("div", { class: "rp-tile-change", text: change }),
    ]));
  }
}

// Chart.js formats the ticks' and tooltips' numbers in the page's language (`locale`).
const chart = (id, type, labels, datasets, options = {}) =>
  drawChart(Chart, charts, id, type, labels, datasets, Object.assign({ locale: lang }, options));
// Monday … Sunday in the page's language (1 January 2024 was a Monday).
const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6].map((i) => formatDate(Date.UTC(2024, 0, 1 + i), { weekday: "short", timeZone: "UTC" }));

function renderCharts(traffic) {
  const labels = traffic.rows.map((r) => format(r.interval, "time"));
  chart("chart-volume", "bar", labels, [
    { label: t("Answered"), data: traffic.rows.map((r) => r.answered), backgroundColor: "#2563eb" },
    { label: t("Abandoned"), data: traffic.rows.map((r) => r.abandoned), backgroundColor: "#f59e0b" },
  ], { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } });
  chart("chart-sl", "line", labels, [
    { label: t("Service level %"), data: traffic.rows.map((r) => (r.service_level === null ? null : r.service_level * 100)),
      borderColor: "#16a34a", spanGaps: true },
  ], { scales: { y: { min: 0, max: 100 } } });
  chart("chart-hours", "bar", traffic.hour_profile.map((h) => String(h.hour).padStart(2, "0") + ":00"), [
    { label: t("Chats"), data: traffic.hour_profile.map((h) => h.offered), backgroundColor: "#6366f1" },
  ]);
  chart("chart-days", "bar", traffic.weekday_profile.map((d, i) => WEEKDAYS[i] || d.weekday), [
    { label: t("Chats"), data: traffic.weekday_profile.map((d) => d.offered), backgroundColor: "#0ea5e9" },
  ]);
}

/** The two CSV links of a report's data: plain, and with a first row of the columns' names in the
 * page's language (docs/kpis.md); `title` says in their accessible names which table it is. */
function csvLinks(name, title, q) {
  const csv = new URLSearchParams(q);
  csv.set("format", "csv");
  // The accessible name begins with the visible text ("Download CSV"), then says which table.
  const link = el("a", { class: "btn btn-small", text: t("Download CSV"),
    attrs: { href: "/api/reports/" + name + "?" + csv.toString(), download: "",
      "aria-label": t("Download CSV: {table}", { table: title }) } });
  csv.set("labels", "1");
  const named = el("a", { class: "btn btn-small", text: t("CSV with column names in {language}", { language: LANGUAGE_NAME }),
    attrs: { href: "/api/reports/" + name + "?" + csv.toString(), download: "",
      "aria-label": t("CSV with column names in {language}: {table}", { language: LANGUAGE_NAME, table: title }) } });
  return [link, named];
}

// Each chart's data as CSV: the report that holds it (docs/kpis.md, "Reports API").
const CHART_DATA = [["chart-volume", "traffic"], ["chart-sl", "traffic"], ["chart-hours", "traffic_hours"],
  ["chart-days", "traffic_weekdays"], ["chart-work", "work_orders"], ["chart-knowledge", "knowledge"]];

function renderChartLinks(q) {
  for (const [id, name] of CHART_DATA) {
    const figure = $(id).closest("figure");
    const old = figure.querySelector(".rp-chart-csv");
    if (old) old.remove();
    const caption = figure.querySelector("figcaption").textContent.trim();
    figure.appendChild(el("div", { class: "rp-chart-csv" }, csvLinks(name, caption, q)));
  }
}

function renderTable(name, result, q, heading = "h2", limit = 0) {
  const id = "table-" + name;
  const [link, named] = csvLinks(name, result.title, q);
  const section = el("section", { class: "rp-section", attrs: { "aria-labelledby": id + "-h" } }, [
    el("div", { class: "rp-table-head" }, [el(heading, { text: result.title, attrs: { id: id + "-h" } }), link, named]),
  ]);
  if (!result.rows.length) {
    section.appendChild(el("p", { class: "rp-empty", text: t("Nothing in this period.") }));
    return section;
  }
  const head = el("tr", {}, result.columns.map((c) => el("th", { text: c.label, attrs: { scope: "col" } })));
  const shown = limit && result.rows.length > limit ? result.rows.slice(0, limit) : result.rows;
  if (shown.length < result.rows.length) {
    section.appendChild(el("p", { class: "rp-note",
      text: t("Showing the first {shown} of {total}; the CSV has them all.",
        { shown: formatNumber(shown.length), total: formatNumber(result.rows.length) }) }));
  }
  const body = el("tbody", {}, shown.map((row) =>
    el("tr", {}, result.columns.map((c) => c.kind === "chat" && row.chat_url
      // A chat's id opens it in the console.
      ? el("td", {}, [el("a", { text: t("Chat {id}", { id: String(row[c.key]) }), attrs: { href: row.chat_url } })])
      : el("td", { text: format(row[c.key], c.kind === "value" ? row.kind : c.kind),
        // Names, titles, searches and visitors' comments are data: shown as they are, as text (the
        // summary's values take their row's kind).
        attrs: { translate: c.data ? "no" : null } })))));
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
    el("h2", { text: t("Agent timelines"), attrs: { id: "timeline-h" } }),
    el("p", { class: "rp-legend", text: t("Available · Away · Offline"), attrs: { "aria-hidden": "true" } }),
  ]);
  if (!byAgent.size) {
    section.appendChild(el("p", { class: "rp-empty", text: t("No state changes in this period.") }));
    return section;
  }
  const list = el("ul", { class: "rp-timelines", attrs: { "aria-label": t("Agent timelines") } });
  for (const [agent, rows] of byAgent) {
    const bar = el("div", { class: "rp-bar" });
    const parts = [];
    for (const row of rows) {
      const a = Date.parse(row.from);
      const b = Date.parse(row.to);
      const label = row.state + (row.reason ? " (" + row.reason + ")" : "") + ", " + format(row.seconds, "duration");
      parts.push(label);
      const seg = el("span", { class: "rp-seg rp-seg-" + String(row.state_key || row.state).replace(/[^a-z]/g, ""), attrs: { title: label } });
      seg.style.left = (((a - start) / span) * 100).toFixed(3) + "%";
      seg.style.width = Math.max(0.2, ((b - a) / span) * 100).toFixed(3) + "%";
      bar.appendChild(seg);
    }
    // A CSR's name and their away reasons are data (the states are in the page's language already).
    list.appendChild(el("li", { class: "rp-timeline", attrs: { translate: "no", "aria-label": agent + ": " + parts.join("; ") } }, [
      el("span", { class: "rp-timeline-name", text: agent }), bar,
    ]));
  }
  section.appendChild(list);
  return section;
}

/** Work orders created and resolved (bars) and open at the end of each day (line). */
function renderWorkChart(daily) {
  const days = daily.rows.filter((r) => isDay(r.day));
  chart("chart-work", "bar", days.map((r) => day(r.day)), [
    { label: t("Created"), data: days.map((r) => r.created), backgroundColor: "#2563eb" },
    { label: t("Resolved"), data: days.map((r) => r.resolved), backgroundColor: "#16a34a" },
    { type: "line", label: t("Open at end of day"), data: days.map((r) => r.backlog), borderColor: "#f59e0b",
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
  ["searches", t("Searches"), "count"], ["searches_no_result", t("Searches with no result"), "count"],
  ["reads", t("Articles read"), "count"], ["sessions", t("Self-service sessions"), "count"],
  ["deflection_rate", t("Deflection rate"), "percent"], ["inserted", t("Articles inserted by CSRs"), "count"],
  ["chats_closed_after_insert", t("Chats closed after an insert"), "count"],
  ["canned_used", t("Canned responses used"), "count"],
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
  const days = result.rows.filter((r) => isDay(r.day));
  chart("chart-knowledge", "bar", days.map((r) => day(r.day)), [
    { label: t("Searches"), data: days.map((r) => r.searches), backgroundColor: "#2563eb", yAxisID: "y" },
    { label: t("Searches with no result"), data: days.map((r) => r.searches_no_result), backgroundColor: "#f59e0b", yAxisID: "y" },
    { label: t("Articles read"), data: days.map((r) => r.reads), backgroundColor: "#16a34a", yAxisID: "y" },
    { type: "line", label: t("Deflection rate %"), yAxisID: "rate", borderColor: "#7c3aed", backgroundColor: "#7c3aed",
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
  status.textContent = t("Loading…");
  errorBox.hidden = true;
  try {
    const names = [...TABLES, ...WORK, "knowledge"];
    const [summary, ...rest] = await Promise.all(["summary", ...names].map((name) => fetchReport(name, q)));
    if (mine !== generation) return;
    renderTiles(summary);
    const byName = Object.fromEntries(names.map((name, i) => [name, rest[i]]));
    renderCharts(byName.traffic);
    renderChartLinks(q);
    const tables = $("tables");
    clear(tables);
    tables.appendChild(renderTable("summary", summary, q));
    for (const name of TABLES) {
      if (name === "states") tables.appendChild(renderTimeline(byName.states));
      tables.appendChild(renderTable(name, byName[name], q));
    }
    renderWork(byName, q);
    renderKnowledge(byName.knowledge, q);
    const period = { from: day(summary.window.from), to: day(summary.window.to) };
    status.textContent = summary.headline.offered
      ? t("Showing {from} to {to}.", period)
      : t("No chats between {from} and {to}.", period);
  } catch (e) {
    if (mine !== generation) return;
    status.textContent = "";
    errorBox.textContent = e.message || t("The reports could not be loaded.");
    errorBox.hidden = false;
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  load();
});
load();
