// The marketers' trail explorer: filters → one request, /api/explorer (every table) → the visits list,
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
import { t, tc, tn, formatNumber, formatPercent, formatDuration, formatDate, lang } from "../i18n.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale,
  Tooltip, Legend);

// The aggregate tables, in the order they are shown under the charts.
const AGGREGATES = ["landing_pages", "exit_pages", "referrers", "keywords", "utm", "paths", "daily", "funnel"];
const FIELDS = ["site", "referrer_type", "referrer_domain", "keyword", "landing", "utm_campaign", "utm_source",
  "utm_medium", "country", "device", "visitor", "chat", "converted"];
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
// The name of the page's language, in itself (the CSV's optional row of column names is in it).
const LANGUAGE_NAME = lang === "zh-CN" ? "简体中文" : "English";

function csvHref(name, q, labels = false) {
  const csv = new URLSearchParams(q);
  csv.set("format", "csv");
  if (labels) csv.set("labels", "1");
  return "/api/explorer/" + name + "?" + csv.toString();
}

// The app's words among a visitor's facts (the tables get them translated by the server).
const REFERRER_TYPES = { direct: t("Direct"), internal: tc("traffic source", "Internal"), search: t("Search"), social: t("Social"),
  email: t("Email"), paid: t("Paid"), other: t("Other") };
const DEVICES = { desktop: t("Desktop"), mobile: t("Mobile"), tablet: t("Tablet") };
const day = (iso) => formatDate(iso + "T00:00:00") || iso;

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

function format(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "percent") return formatPercent(Number(value));
  if (kind === "time") return formatTime(value);
  if (kind === "count" && typeof value === "number") return formatNumber(value);
  return String(value);
}

// ---- data -----------------------------------------------------------------------

// Every table of the page for these filters, in one request.
const fetchPage = (q) => fetchJson("/api/explorer?" + q.toString(), "The explorer", "/explorer");

// ---- tables ---------------------------------------------------------------------

/** The table's CSV, and the same with a first row of the columns' names in the page's language. */
function csvLink(name, title, q) {
  const span = el("span", { class: "ex-csv-links" }, [
    el("a", { class: "btn btn-small", text: t("Download CSV"),
      attrs: { href: csvHref(name, q), download: "", "aria-label": t("Download CSV: {table}", { table: title }) } }),
    el("a", { class: "btn btn-small", text: t("CSV with column names in {language}", { language: LANGUAGE_NAME }),
      attrs: { href: csvHref(name, q, true), download: "",
        "aria-label": t("CSV with column names in {language}: {table}", { language: LANGUAGE_NAME, table: title }) } }),
  ]);
  return span;
}

function cell(value, column) {
  const text = format(value, column.kind);
  // Pages, referrers, keywords and names are data: shown as they are.
  const td = el("td", { class: "ex-" + column.kind, text, attrs: { translate: column.data ? "no" : null } });
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
      text: t("Invitations are counted by period and site; the other filters do not apply to them.") }));
  }
  if (!result.rows.length) {
    section.appendChild(el("p", { class: "ex-empty",
      text: name === "funnel" ? t("No invitations in this period.") : t("Nothing for these filters.") }));
    return section;
  }
  section.appendChild(tableOf(id, result, (row) => el("tr", {}, result.columns.map((c) => cell(row[c.key], c)))));
  return section;
}

function renderVisits(result, q) {
  const slot = $("visits-csv");
  clear(slot);
  slot.appendChild(csvLink("visits", result.title || t("Visits"), q));
  const body = $("visits-body");
  clear(body);
  if (!result.rows.length) {
    body.appendChild(el("p", { class: "ex-empty", text: t("No visits match these filters.") }));
    return;
  }
  if (result.total > result.rows.length) {
    body.appendChild(el("p", { class: "ex-note",
      text: t("Showing the newest {shown} of {total} visits (the CSV has all of them).",
        { shown: formatNumber(result.rows.length), total: formatNumber(result.total) }) }));
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

// Chart.js formats the ticks' and tooltips' numbers in the page's language (`locale`).
const chart = (id, type, labels, datasets, options = {}) =>
  drawChart(Chart, charts, id, type, labels, datasets, Object.assign({ locale: lang }, options));

function renderCharts(daily, funnel) {
  chart("chart-daily", "line", daily.rows.map((r) => day(r.day)), [
    { label: t("Visits"), data: daily.rows.map((r) => r.visits), borderColor: "#2563eb", backgroundColor: "#2563eb" },
    { label: t("Visits with a chat"), data: daily.rows.map((r) => r.chats), borderColor: "#16a34a", backgroundColor: "#16a34a" },
    { label: t("Conversions"), data: daily.rows.map((r) => r.conversions), borderColor: "#f59e0b", backgroundColor: "#f59e0b" },
  ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  // One group of bars per funnel stage, one bar per rule: sent → shown → accepted → chat → conversion.
  const stages = [["sent", t("Sent")], ["shown", t("Shown")], ["accepted", t("Accepted")], ["chats", t("Chat")],
    ["conversions", t("Conversion")]];
  chart("chart-funnel", "bar", stages.map((s) => s[1]), funnel.rows.map((r, i) => ({
    label: String(r.rule), data: stages.map((s) => r[s[0]]), backgroundColor: PALETTE[i % PALETTE.length],
  })), { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  $("funnel-note").hidden = funnel.rows.length > 0;
  $("chart-funnel").setAttribute("aria-description", funnel.rows.length
    ? funnel.rows.map((r) => r.rule + ": " + stages.map((s) => s[1] + " " + formatNumber(r[s[0]])).join(", ")).join("; ")
    : t("No invitations in this period."));
}

// ---- the page ---------------------------------------------------------------------

let generation = 0;
async function load() {
  const mine = ++generation;
  const q = query();
  history.replaceState(null, "", "/explorer?" + q.toString());
  status.textContent = t("Loading…");
  errorBox.hidden = true;
  errorBox.textContent = "";
  form.setAttribute("aria-busy", "true");
  try {
    const byName = await fetchPage(q);
    if (mine !== generation) return;
    renderVisits(byName.visits, q);
    renderCharts(byName.daily, byName.funnel);
    const tables = $("tables");
    clear(tables);
    for (const name of AGGREGATES) tables.appendChild(renderTable(name, byName[name], q));
    const period = { from: day(q.get("from")), to: day(q.get("to")) };
    const total = byName.visits.total ?? byName.visits.rows.length;
    status.textContent = total
      ? tn("Showing {n} visit from {from} to {to}.", "Showing {n} visits from {from} to {to}.", total, period)
      : t("No visits between {from} and {to}.", period);
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
    errorBox.textContent = e.message || t("The explorer could not be loaded.");
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

/** A term and its value; `data`: the value is shown as it is (a browser's or a system's name). */
function fact(label, value, data = false) {
  return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value),
    attrs: { translate: data ? "no" : null } })];
}

/** "Keywords: blue tent": the label in the page's language, the visitor's words as they are. */
function labelled(label, value) {
  const p = el("p", { class: "ex-visit-origin" }, [document.createTextNode(label + " ")]);
  p.appendChild(el("span", { text: value, attrs: { translate: "no" } }));
  return p;
}

/** The dialog's title "Trail of visitor v_…": the visitor's id is data (not to be translated). */
function trailTitle(visitorId) {
  const title = $("trail-title");
  clear(title);
  const [before, after = ""] = t("Trail of visitor {id}").split("{id}");
  title.appendChild(document.createTextNode(before));
  title.appendChild(el("span", { text: visitorId, attrs: { translate: "no" } }));
  title.appendChild(document.createTextNode(after));
}

function timeOnPage(page, next) {
  if (page.active_ms !== null && page.active_ms !== undefined) {
    return t("{time} on page", { time: formatDuration(page.active_ms / 1000) });
  }
  const a = parseTime(page.at);
  const b = next ? parseTime(next.at) : null;
  if (a && b) return t("about {time} on page", { time: formatDuration((b - a) / 1000) });
  return t("time on page unknown");
}

/** The visit's custom events (the site's own: `Switchboard('track', 'signup', {plan: "pro"})`). */
function trailEvents(visit) {
  return el("ol", { class: "ex-events", attrs: { "aria-label": t("Events of visit {n}", { n: visit.number }) } },
    visit.events.map((event) => {
      const props = Object.entries(event.props || {}).map(([key, value]) => key + "=" + String(value)).join(" ");
      // An event's name, its values and its page are the site's data: shown as they are.
      return el("li", { class: "ex-event" }, [
        el("span", { class: "ex-event-label", text: t("Event:") + " " }),
        el("span", { class: "ex-event-name", text: event.name, attrs: { translate: "no" } }),
        props ? el("span", { class: "ex-event-props", text: " " + props, attrs: { translate: "no" } }) : null,
        el("span", { class: "ex-page-time", text: formatTime(event.at) + (event.url ? " · " + event.url : "") }),
      ]);
    }));
}

function renderTrail(trail, currentNumber) {
  const v = trail.visitor;
  const body = $("trail-body");
  clear(body);
  trailTitle(v.id);
  body.appendChild(el("dl", { class: "ex-facts" }, [
    ...fact(t("First seen"), formatTime(v.first_seen)), ...fact(t("Last seen"), formatTime(v.last_seen)),
    ...fact(t("Visits"), formatNumber(v.visits)), ...fact(t("Chats"), formatNumber(v.chats)),
    ...fact(t("Country"), v.country ? countryName(v.country) : null),
    ...fact(t("Device"), DEVICES[v.device] || v.device, !(v.device in DEVICES)),
    ...fact(t("Browser"), v.browser, true), ...fact(t("Operating system"), v.os, true),
  ]));
  if (!trail.visits.length) {
    body.appendChild(el("p", { class: "ex-empty", text: t("No visits recorded.") }));
    return;
  }
  const list = el("ol", { class: "ex-timeline", attrs: { "aria-label": t("Visits") } });
  for (const visit of trail.visits) {
    const current = visit.number === currentNumber;
    const origin = [REFERRER_TYPES[visit.referrer_type] || visit.referrer_type, visit.referrer].filter(Boolean).join(" · ")
      || t("unknown");
    const utm = Object.entries(visit.utm || {}).filter(([, value]) => typeof value === "string")
      .map(([key, value]) => key.replace(/^utm_/, "") + "=" + value).join(" ");
    const headingId = "trail-visit-" + visit.number;
    const pages = el("ol", { class: "ex-pages", attrs: { "aria-label": t("Pages of visit {n}", { n: visit.number }) } },
      visit.pages.map((page, i) => el("li", { class: "ex-page" }, [
        // A page's title is the site's text: shown as it is.
        page.title || page.url ? el("span", { class: "ex-page-title", text: page.title || page.url, attrs: { translate: "no" } })
          : el("span", { class: "ex-page-title", text: t("(untitled)") }),
        el("span", { class: "ex-page-url", text: page.url || "" }),
        el("span", { class: "ex-page-time", text: formatTime(page.at) + " · " + timeOnPage(page, visit.pages[i + 1]) }),
      ])));
    list.appendChild(el("li", { class: "ex-visit-item" + (current ? " ex-current" : ""),
      attrs: { "aria-labelledby": headingId, "aria-current": current ? "true" : null } }, [
      el("h3", { text: current
        ? t("Visit {n} · {time} (selected)", { n: visit.number, time: formatTime(visit.started_at) })
        : t("Visit {n} · {time}", { n: visit.number, time: formatTime(visit.started_at) }),
      attrs: { id: headingId } }),
      el("p", { class: "ex-visit-origin", text: t("From: {origin}", { origin }) }),
      visit.keywords ? labelled(t("Keywords:"), visit.keywords) : null,
      utm ? labelled(t("UTM:"), utm) : null,
      visit.pages.length ? pages : el("p", { class: "ex-empty", text: t("No page views recorded.") }),
      (visit.events || []).length ? trailEvents(visit) : null,
    ]));
  }
  body.appendChild(list);
  const selected = list.querySelector(".ex-current");
  if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
}

async function openTrail(visitorId, number, visitId) {
  const mine = ++trailGeneration;
  opener = visitId;
  trailTitle(visitorId);
  clear($("trail-body"));
  $("trail-error").hidden = true;
  $("trail-status").textContent = t("Loading the trail…");
  if (!trailDialog.open) trailDialog.showModal();
  try {
    const trail = await fetchJson("/api/explorer/visitors/" + encodeURIComponent(visitorId), "The trail", "/explorer");
    if (mine !== trailGeneration) return;
    renderTrail(trail, number);
    $("trail-status").textContent = "";
  } catch (e) {
    if (mine !== trailGeneration) return;
    $("trail-status").textContent = "";
    $("trail-error").textContent = e.message || t("The trail could not be loaded.");
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
