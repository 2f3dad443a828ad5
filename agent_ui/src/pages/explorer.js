// The marketers' trail explorer: filters → /api/explorer/<table> for each table → the visits list,
// Chart.js charts (visits and chats per day, the invitation funnel per rule), aggregate tables with
// their CSV downloads, and one visitor's trail (/api/explorer/visitors/<id>) in a dialog.
// URLs, titles, referrers, keywords and names come from visitors: every value is text
// (textContent through `el`), never markup.
import "./explorer.css";
import {
  Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend,
} from "chart.js";
import { el, clear, meta, parseTime, countryName, focusFirst } from "../dom.js";
import { drawChart, fetchJson, formQuery, restoreFilters } from "../report_page.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend);

// The aggregate tables, in the order they are shown under the charts.
const AGGREGATES = ["landing_pages", "exit_pages", "referrers", "keywords", "paths", "daily", "funnel"];
const TABLES = ["visits", ...AGGREGATES];
const FIELDS = ["site", "referrer_type", "referrer_domain", "keyword", "landing", "country", "device", "visitor",
  "chat", "converted"];
const $ = (id) => document.getElementById(id);
const form = $("filters");
const status = $("ex-status");
const errorBox = $("ex-error");
const trailDialog = $("trail");
const charts = {};

// ---- filters ----------------------------------------------------------------

const today = meta("switchboard-today") || new Date().toISOString().slice(0, 10);
restoreFilters(new URLSearchParams(location.search), today, FIELDS);
const query = () => formQuery(form);

function csvHref(name, q) {
  const csv = new URLSearchParams(q);
  csv.set("format", "csv");
  return "/api/explorer/" + name + "?" + csv.toString();
}

// ---- formatting ---------------------------------------------------------------

const timeZone = meta("switchboard-time-zone") || undefined;
function makeFormat(zone) {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });
}
let timeFormat;
try {
  timeFormat = makeFormat(timeZone);
} catch (e) {
  timeFormat = makeFormat(undefined); // an unknown zone name: the browser's own
}

/** "2026-11-23 14:05" in the center's time zone. */
function formatTime(value) {
  const d = parseTime(value);
  if (!d) return "—";
  const p = {};
  for (const part of timeFormat.formatToParts(d)) p[part.type] = part.value;
  return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
}

/** "45 s", "3 min 5 s", "1 h 2 min". */
function formatSeconds(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? h + " h " + m + " min" : m + " min " + (s % 60) + " s";
}

function format(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "percent") return (value * 100).toFixed(1) + " %";
  if (kind === "time") return formatTime(value);
  return String(value);
}

// ---- data -----------------------------------------------------------------------

const fetchTable = (name, q) => fetchJson("/api/explorer/" + name + "?" + q.toString(), "The explorer", "/explorer");

// ---- tables ---------------------------------------------------------------------

function csvLink(name, title, q) {
  return el("a", { class: "btn btn-small", text: "Download CSV",
    attrs: { href: csvHref(name, q), download: "", "aria-label": "Download CSV: " + title } });
}

function cell(value, column) {
  const text = format(value, column.kind);
  const td = el("td", { class: "ex-" + column.kind, text });
  if (column.kind === "time" && value) td.setAttribute("title", String(value));
  else if (column.key === "country" && value) td.setAttribute("title", countryName(String(value)));
  else if (column.kind === "text" && text.length > 40) td.setAttribute("title", text);
  return td;
}

function tableOf(id, result, rowFor) {
  const head = el("tr", {}, result.columns.map((c) => el("th", { class: "ex-" + c.kind, text: c.label, attrs: { scope: "col" } })));
  const body = el("tbody", {}, result.rows.map(rowFor));
  // The table scrolls within its box: a keyboard user scrolls it once it has the focus (WCAG 2.1.1),
  // and a screen reader names the stop by the table's heading.
  return el("div", { class: "ex-table-wrap", attrs: { tabindex: "0", role: "region", "aria-labelledby": id } }, [
    el("table", { class: "ex-table", attrs: { "aria-labelledby": id } }, [el("thead", {}, [head]), body]),
  ]);
}

function renderTable(name, result, q) {
  const id = "table-" + name + "-h";
  const section = el("section", { class: "ex-section ex-aggregate", attrs: { "aria-labelledby": id } }, [
    el("div", { class: "ex-table-head" }, [el("h2", { text: result.title, attrs: { id } }), csvLink(name, result.title, q)]),
  ]);
  if (name === "funnel") {
    section.appendChild(el("p", { class: "ex-note",
      text: "Invitations are counted by period and site; the other filters do not apply to them." }));
  }
  if (!result.rows.length) {
    section.appendChild(el("p", { class: "ex-empty",
      text: name === "funnel" ? "No invitations in this period." : "Nothing for these filters." }));
    return section;
  }
  section.appendChild(tableOf(id, result, (row) => el("tr", {}, result.columns.map((c) => cell(row[c.key], c)))));
  return section;
}

function renderVisits(result, q) {
  const slot = $("visits-csv");
  clear(slot);
  slot.appendChild(csvLink("visits", result.title || "Visits", q));
  const body = $("visits-body");
  clear(body);
  if (!result.rows.length) {
    body.appendChild(el("p", { class: "ex-empty", text: "No visits match these filters." }));
    return;
  }
  if (result.total > result.rows.length) {
    body.appendChild(el("p", { class: "ex-note",
      text: "Showing the newest " + result.rows.length + " of " + result.total + " visits (the CSV has the same rows)." }));
  }
  body.appendChild(tableOf("visits-h", result, (row) => {
    const tr = el("tr", { class: "ex-visit", attrs: { tabindex: "0", "data-visit": row.id,
      "aria-describedby": "visits-hint" } }, result.columns.map((c) => cell(row[c.key], c)));
    const open = () => openTrail(row.visitor_id, row.number, row.id);
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        open();
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        const next = e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
        if (next) {
          e.preventDefault();
          next.focus();
        }
      }
    });
    return tr;
  }));
}

// ---- charts -----------------------------------------------------------------------

const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#db2777", "#7c3aed", "#0ea5e9", "#64748b", "#dc2626"];

const chart = (id, type, labels, datasets, options) => drawChart(Chart, charts, id, type, labels, datasets, options);

function renderCharts(daily, funnel) {
  chart("chart-daily", "line", daily.rows.map((r) => r.day), [
    { label: "Visits", data: daily.rows.map((r) => r.visits), borderColor: "#2563eb", backgroundColor: "#2563eb" },
    { label: "Visits with a chat", data: daily.rows.map((r) => r.chats), borderColor: "#16a34a", backgroundColor: "#16a34a" },
    { label: "Conversions", data: daily.rows.map((r) => r.conversions), borderColor: "#f59e0b", backgroundColor: "#f59e0b" },
  ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  // One group of bars per funnel stage, one bar per rule: sent → shown → accepted → chat → conversion.
  const stages = [["sent", "Sent"], ["shown", "Shown"], ["accepted", "Accepted"], ["chats", "Chat"], ["conversions", "Conversion"]];
  chart("chart-funnel", "bar", stages.map((s) => s[1]), funnel.rows.map((r, i) => ({
    label: String(r.rule), data: stages.map((s) => r[s[0]]), backgroundColor: PALETTE[i % PALETTE.length],
  })), { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  $("funnel-note").hidden = funnel.rows.length > 0;
  $("chart-funnel").setAttribute("aria-description", funnel.rows.length
    ? funnel.rows.map((r) => r.rule + ": " + stages.map((s) => s[1] + " " + r[s[0]]).join(", ")).join("; ")
    : "No invitations in this period.");
}

// ---- the page ---------------------------------------------------------------------

let generation = 0;
async function load() {
  const mine = ++generation;
  const q = query();
  history.replaceState(null, "", "/explorer?" + q.toString());
  status.textContent = "Loading…";
  errorBox.hidden = true;
  errorBox.textContent = "";
  form.setAttribute("aria-busy", "true");
  try {
    const results = await Promise.all(TABLES.map((name) => fetchTable(name, q)));
    if (mine !== generation) return;
    const byName = Object.fromEntries(TABLES.map((name, i) => [name, results[i]]));
    renderVisits(byName.visits, q);
    renderCharts(byName.daily, byName.funnel);
    const tables = $("tables");
    clear(tables);
    for (const name of AGGREGATES) tables.appendChild(renderTable(name, byName[name], q));
    const from = q.get("from");
    const to = q.get("to");
    const total = byName.visits.total ?? byName.visits.rows.length;
    let text = total
      ? "Showing " + total + (total === 1 ? " visit" : " visits") + " from " + from + " to " + to + "."
      : "No visits between " + from + " and " + to + ".";
    if (TABLES.some((name) => byName[name].capped)) text += " Only the newest 20,000 visits are counted.";
    status.textContent = text;
  } catch (e) {
    if (mine !== generation) return;
    // Nothing stale stays on the page under filters it does not match.
    status.textContent = "";
    clear($("visits-body"));
    clear($("visits-csv"));
    clear($("tables"));
    for (const id of Object.keys(charts)) {
      charts[id].destroy();
      delete charts[id];
    }
    $("funnel-note").hidden = true;
    errorBox.textContent = e.message || "The explorer could not be loaded.";
    errorBox.hidden = false;
  } finally {
    if (mine === generation) form.removeAttribute("aria-busy");
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  load();
});

// ---- one visitor's trail --------------------------------------------------------

let trailGeneration = 0;
let opener = null; // the visit row that opened the trail, to get focus back

function fact(label, value) {
  return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value) })];
}

function timeOnPage(page, next) {
  if (page.active_ms !== null && page.active_ms !== undefined) return formatSeconds(page.active_ms / 1000) + " on page";
  const a = parseTime(page.at);
  const b = next ? parseTime(next.at) : null;
  if (a && b) return "about " + formatSeconds((b - a) / 1000) + " on page";
  return "time on page unknown";
}

function renderTrail(trail, currentNumber) {
  const v = trail.visitor;
  const body = $("trail-body");
  clear(body);
  $("trail-title").textContent = "Trail of visitor " + v.id;
  body.appendChild(el("dl", { class: "ex-facts" }, [
    ...fact("First seen", formatTime(v.first_seen)), ...fact("Last seen", formatTime(v.last_seen)),
    ...fact("Visits", v.visits), ...fact("Chats", v.chats), ...fact("Country", v.country ? countryName(v.country) : null),
    ...fact("Device", v.device), ...fact("Browser", v.browser), ...fact("Operating system", v.os),
  ]));
  if (!trail.visits.length) {
    body.appendChild(el("p", { class: "ex-empty", text: "No visits recorded." }));
    return;
  }
  const list = el("ol", { class: "ex-timeline", attrs: { "aria-label": "Visits" } });
  for (const visit of trail.visits) {
    const current = visit.number === currentNumber;
    const origin = [visit.referrer_type, visit.referrer].filter(Boolean).join(" · ") || "unknown";
    const utm = Object.entries(visit.utm || {}).filter(([, value]) => typeof value === "string")
      .map(([key, value]) => key.replace(/^utm_/, "") + "=" + value).join(" ");
    const headingId = "trail-visit-" + visit.number;
    const pages = el("ol", { class: "ex-pages", attrs: { "aria-label": "Pages of visit " + visit.number } },
      visit.pages.map((page, i) => el("li", { class: "ex-page" }, [
        el("span", { class: "ex-page-title", text: page.title || page.url || "(untitled)" }),
        el("span", { class: "ex-page-url", text: page.url || "" }),
        el("span", { class: "ex-page-time", text: formatTime(page.at) + " · " + timeOnPage(page, visit.pages[i + 1]) }),
      ])));
    list.appendChild(el("li", { class: "ex-visit-item" + (current ? " ex-current" : ""),
      attrs: { "aria-labelledby": headingId, "aria-current": current ? "true" : null } }, [
      el("h3", { text: "Visit " + visit.number + " · " + formatTime(visit.started_at) + (current ? " (selected)" : ""),
        attrs: { id: headingId } }),
      el("p", { class: "ex-visit-origin", text: "From: " + origin }),
      visit.keywords ? el("p", { class: "ex-visit-origin", text: "Keywords: " + visit.keywords }) : null,
      utm ? el("p", { class: "ex-visit-origin", text: "UTM: " + utm }) : null,
      visit.pages.length ? pages : el("p", { class: "ex-empty", text: "No page views recorded." }),
    ]));
  }
  body.appendChild(list);
  const selected = list.querySelector(".ex-current");
  if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
}

async function openTrail(visitorId, number, visitId) {
  const mine = ++trailGeneration;
  opener = visitId;
  $("trail-title").textContent = "Trail of visitor " + visitorId;
  clear($("trail-body"));
  $("trail-error").hidden = true;
  $("trail-status").textContent = "Loading the trail…";
  if (!trailDialog.open) trailDialog.showModal();
  try {
    const trail = await fetchJson("/api/explorer/visitors/" + encodeURIComponent(visitorId), "The trail", "/explorer");
    if (mine !== trailGeneration) return;
    renderTrail(trail, number);
    $("trail-status").textContent = "";
  } catch (e) {
    if (mine !== trailGeneration) return;
    $("trail-status").textContent = "";
    $("trail-error").textContent = e.message || "The trail could not be loaded.";
    $("trail-error").hidden = false;
  }
}

$("trail-close").addEventListener("click", () => trailDialog.close());
trailDialog.addEventListener("click", (e) => {
  if (e.target === trailDialog) trailDialog.close(); // a click on the backdrop
});
trailDialog.addEventListener("close", () => {
  trailGeneration++;
  // Back to the visit's row; when the table was drawn anew without it, to the first visit.
  const row = opener === null ? null : document.querySelector('tr[data-visit="' + Number(opener) + '"]');
  focusFirst(row, document.querySelector("tr[data-visit]"), $("visits-h"));
});

load();
