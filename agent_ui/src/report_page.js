// What the report-style pages (Reports, Explorer) share: the date range defaults, the filter
// form as a query, fetching their JSON API, and redrawing a Chart.js chart.
import { t, formatNumber } from "./i18n.js";

/** `iso` (YYYY-MM-DD) moved by `days`. */
export function addDays(iso, days) {
  const d = new Date(iso + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Fill the form's date range and `names` fields from the page's address (default: the last 7 days to `today`). */
export function restoreFilters(params, today, names) {
  const to = document.getElementById("f-to");
  to.value = params.get("to") || today;
  document.getElementById("f-from").value = params.get("from") || addDays(to.value, -6);
  for (const name of names) if (params.get(name)) document.getElementById("f-" + name).value = params.get(name);
}

/** The filter form's non-empty fields, as a query. */
export function formQuery(form) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form).entries()) {
    const value = String(v).trim();
    if (value) q.set(k, value);
  }
  return q;
}

/**
 * GET `url` as JSON; a signed-out user goes to the sign-in page (back to `page` afterwards), an
 * error response throws with the server's message (or "`what` could not be loaded."; `what` is
 * in the page's language: the caller passes it translated).
 */
export async function fetchJson(url, what, page) {
  const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(page);
    throw new Error(t("Signed out."));
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error && body.error.message) || t("{what} could not be loaded.", { what }));
  return body;
}

/** (Re)draw the chart on canvas `id`, keeping one Chart per canvas in `charts`. */
export function drawChart(Chart, charts, id, type, labels, datasets, options = {}) {
  if (charts[id]) charts[id].destroy();
  const canvas = document.getElementById(id);
  charts[id] = new Chart(canvas, {
    type,
    data: { labels, datasets },
    options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, options),
  });
  describeChart(canvas, labels, datasets);
}

/** A chart is an image to a screen reader (its caption names it): its figures are its description,
 * as text (WCAG 1.1.1) — "Chats: 2024-05-01 3, 2024-05-02 5. Answered: …". */
function describeChart(canvas, labels, datasets) {
  const id = canvas.id + "-figures";
  let note = document.getElementById(id);
  if (!note) {
    note = document.createElement("p");
    note.id = id;
    note.className = "visually-hidden";
    canvas.insertAdjacentElement("afterend", note);
    canvas.setAttribute("aria-describedby", id);
  }
  const figure = (value) => (value === null || value === undefined ? t("none")
    : Number.isInteger(value) ? formatNumber(value) : formatNumber(Number(value), { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
  note.textContent = labels.length
    ? datasets.map((d) => t("{series}: {figures}.", {
      series: d.label,
      figures: labels.map((label, i) => label + " " + figure(d.data[i])).join(t(", ")),
    })).join(" ")
    : t("No figures in this period.");
}
