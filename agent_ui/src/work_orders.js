// What the two Work orders pages (the list and an order) share: calling the JSON API with the
// page's CSRF token, the pickers' options, and the words for statuses, priorities and time left.
// Every server string is shown with textContent (dom.js `el`), never as markup.
// The words are in the page's language (i18n.js): `what` arguments are passed translated.
import { el, meta } from "./dom.js";
import { t, formatNumber } from "./i18n.js";

export const STATUS_LABELS = {
  new: t("New"), assigned: t("Assigned"), in_progress: t("In progress"), waiting: t("Waiting for customer"),
  resolved: t("Resolved"), closed: t("Closed"),
};
export const PRIORITY_LABELS = { low: t("Low"), normal: t("Normal"), high: t("High"), urgent: t("Urgent") };
export const SOURCE_LABELS = {
  chat: t("Chat"), offline_note: t("Offline note"), email: t("E-mail"), manual: t("Created by hand"),
};

/** An error of the API: its message, and the code, field and HTTP status it came with. */
export class ApiError extends Error {
  constructor(message, code, field, status) {
    super(message);
    this.code = code || "";
    this.field = field || "";
    this.status = status || 0;
  }
}

export function csrf() {
  return meta("csrf-token");
}

async function parse(response, what) {
  if (response.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(t("You are signed out."), "unauthorized", "", 401);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || body.ok === false) {
    const error = (body && body.error) || {};
    const fallback = response.status === 413 ? t("A file is at most 10 MB.")
      : response.status === 415 ? t("Only images (PNG, JPEG, GIF, WebP) and PDF files can be attached.")
        : t("{what} failed ({status}).", { what, status: response.status });
    throw new ApiError(error.message || fallback, error.code, error.field, response.status);
  }
  return body;
}

/** GET `url` (JSON). */
export async function getJson(url, what = t("Loading")) {
  const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
  return parse(response, what);
}

/** POST `data` as JSON to `url` with the page's CSRF token. */
export async function postJson(url, data, what = t("The request")) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(data || {}),
  });
  return parse(response, what);
}

/** POST a multipart form (an upload) to `url` with the page's CSRF token. */
export async function postForm(url, formData, what = t("The upload")) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { accept: "application/json", "X-CSRF-Token": csrf() },
    body: formData,
  });
  return parse(response, what);
}

/** "3 h 20 min", "2 d 4 h", "45 min", "under a minute" for a number of seconds (in the page's language). */
export function spell(seconds) {
  const minutes = Math.floor(Math.abs(seconds) / 60);
  if (minutes < 1) return t("under a minute");
  const d = formatNumber(Math.floor(minutes / 1440));
  const hours = Math.floor((minutes % 1440) / 60);
  const h = formatNumber(hours);
  const rest = minutes % 60;
  const m = formatNumber(rest);
  if (minutes >= 1440) return hours ? t("{d} d {h} h", { d, h }) : t("{d} d", { d });
  if (hours) return rest ? t("{h} h {m} min", { h, m }) : t("{h} h", { h });
  return t("{m} min", { m });
}

/** The time left of an order as an element: "3 h 20 min", or "Overdue by 2 h" (marked, in words). */
export function timeLeft(order) {
  if (order.seconds_left === null || order.seconds_left === undefined) {
    return el("span", { class: "wo-muted", text: "—", attrs: { title: order.due_at ? t("Not open") : t("No target") } });
  }
  if (order.overdue || order.seconds_left <= 0) {
    return el("span", { class: "wo-overdue", text: t("Overdue by {time}", { time: spell(order.seconds_left) }) });
  }
  return el("span", { class: order.escalation > 0 ? "wo-at-risk" : "", text: spell(order.seconds_left) });
}

// Data in sentences (names, subjects, reasons): dom.js's, under the names these pages use.
export { asData as dataSpan, parts as sentence } from "./dom.js";

/** Replace the options of `select` after its first `keep` ones with [value, label] pairs, keeping its value when it still exists. */
export function fillSelect(select, pairs, keep = 1) {
  const value = select.value;
  while (select.options.length > keep) select.remove(keep);
  // The labels are data (names of teams, staff, categories, sites): never translated.
  for (const [id, label] of pairs) select.appendChild(el("option", { text: label, attrs: { value: String(id), translate: "no" } }));
  if (Array.from(select.options).some((o) => o.value === value)) select.value = value;
}

/** The pickers' choices: teams (with members), categories, staff, sites, and who I am. */
export async function loadOptions() {
  return getJson("/api/work-orders/options", t("Loading the choices"));
}

/** The staff a handler select offers: a team's members when a team is picked, else everyone. */
export function handlerChoices(options, teamId) {
  const team = teamId ? options.teams.find((t) => String(t.id) === String(teamId)) : null;
  const staff = team ? options.staff.filter((s) => team.members.includes(s.id)) : options.staff;
  return staff.map((s) => [s.id, s.name]);
}

/** A select's value as an id (a number) or null when empty. */
export function idOf(select) {
  return select.value === "" ? null : Number(select.value);
}

/** Mark `control` invalid with `message` shown next to it (aria-invalid + aria-describedby). */
export function showFieldError(control, message) {
  const id = control.id + "-error";
  let note = document.getElementById(id);
  if (!note) {
    note = el("p", { class: "field-error", attrs: { id } });
    control.insertAdjacentElement("afterend", note);
  }
  note.textContent = message;
  control.setAttribute("aria-invalid", "true");
  const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  if (!described.includes(id)) control.setAttribute("aria-describedby", described.concat(id).join(" "));
}

/** Clear every field error inside `root`. */
export function clearFieldErrors(root) {
  for (const note of root.querySelectorAll(".field-error")) {
    const control = root.querySelector('[aria-describedby~="' + note.id + '"]');
    if (control) {
      control.removeAttribute("aria-invalid");
      const rest = (control.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== note.id);
      if (rest.length) control.setAttribute("aria-describedby", rest.join(" "));
      else control.removeAttribute("aria-describedby");
    }
    note.remove();
  }
}
