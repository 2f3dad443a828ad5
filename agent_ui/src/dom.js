// Small DOM and formatting helpers. Every server-provided string goes through
// textContent (via `el(..., text)` or `node.textContent = ...`), never markup.
// Dates, times, durations and country names are in the page's language (i18n.js `lang`).
import { t, formatNumber, lang } from "./i18n.js";

/**
 * Create an element.
 * @param {string} tag
 * @param {{class?: string, text?: any, attrs?: Record<string, string|number|boolean|null|undefined>}} [opts]
 * @param {Array<Node|null|undefined|false>} [children]
 */
export function el(tag, opts, children) {
  const node = document.createElement(tag);
  if (opts) {
    if (opts.class) node.className = opts.class;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.attrs) {
      for (const name of Object.keys(opts.attrs)) {
        const value = opts.attrs[name];
        if (value === false || value === null || value === undefined) continue;
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  if (children) {
    for (const child of children) {
      if (child) node.appendChild(child);
    }
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function meta(name) {
  const node = document.querySelector('meta[name="' + name + '"]');
  return node ? node.getAttribute("content") || "" : "";
}

// ---- focus ----------------------------------------------------------------
// Whatever removes, hides or disables the control that has the focus hands the focus on to a
// sensible place that is still there: a keyboard or screen reader user is never dropped back at
// the start of the page (WCAG 2.4.3). A control busy with a request says so with aria-disabled
// rather than `disabled`, which would take the focus away from it.

/** Whether `node` can take the focus now: focusable (a control, or given a tabindex), in the page,
 * shown and enabled. */
export function canFocus(node) {
  return !!node && node.isConnected && (node.tabIndex >= 0 || node.hasAttribute("tabindex")) && !node.disabled
    && !node.closest("[hidden], [inert]") && node.getClientRects().length > 0;
}

/** Focuses the first of `nodes` that can take the focus; returns it (null when none could). */
export function focusFirst(...nodes) {
  for (const node of nodes) {
    if (canFocus(node)) {
      node.focus();
      return node;
    }
  }
  return null;
}

/** Whether the focus has fallen back to the page (or was never anywhere). */
export function focusLost() {
  return !document.activeElement || document.activeElement === document.body;
}

/**
 * Runs `work` (async) with `control` marked busy (aria-disabled): it keeps the focus, and a second
 * press meanwhile does nothing (resolves to undefined).
 */
export async function whileBusy(control, work) {
  if (control.getAttribute("aria-disabled") === "true") return undefined;
  control.setAttribute("aria-disabled", "true");
  try {
    return await work();
  } finally {
    control.removeAttribute("aria-disabled");
  }
}

// ---- sentences with data in them ---------------------------------------------

/** Data (a name, a subject, a page title, anything someone typed), shown as it is and never
 * translated: `translate="no"` keeps browsers' translation and the untranslated-text check off it. */
export function asData(text, cls) {
  return el("span", { class: cls, text: text == null ? "" : String(text), attrs: { translate: "no" } });
}

/** A translated message (`t("Invite {name}")`, its {placeholders} still in it) as nodes: each
 * placeholder becomes `values[name]` — a Node as it is, any other value as data. */
export function parts(message, values) {
  return message.split(/(\{\w+\})/).filter(Boolean).map((part) => {
    const name = /^\{(\w+)\}$/.exec(part);
    if (!name || !(name[1] in values)) return document.createTextNode(part);
    const value = values[name[1]];
    return value instanceof Node ? value : asData(value);
  });
}

let labels = 0;
/** Names `control` by a message holding data (aria-labelledby a hidden label, so the data stays
 * marked): returns the label, to pass back in when the name changes. */
export function labelled(control, message, values, label) {
  label = label || el("span", { class: "visually-hidden", attrs: { id: "sb-label-" + ++labels, "aria-hidden": "true" } });
  clear(label);
  label.append(...parts(message, values));
  control.setAttribute("aria-labelledby", label.id);
  return label;
}

// ---- time -----------------------------------------------------------------

export function parseTime(value) {
  if (!value) return null;
  const d = new Date(value);
  return isNaN(d.getTime()) ? null : d;
}

const timeFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dateFmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric" });
const dateTimeFmt = new Intl.DateTimeFormat(lang, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const shortDateFmt = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric" });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "14:05" today, "Nov 21" otherwise. */
export function formatShort(value) {
  const d = parseTime(value);
  if (!d) return "";
  return sameDay(d, new Date()) ? timeFmt.format(d) : shortDateFmt.format(d);
}

/** "14:05" today, "Nov 21, 2026, 14:05" otherwise. */
export function formatTime(value) {
  const d = parseTime(value);
  if (!d) return "";
  return sameDay(d, new Date()) ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function formatDate(value) {
  const d = parseTime(value);
  return d ? dateFmt.format(d) : "";
}

export function formatDateTime(value) {
  const d = parseTime(value);
  return d ? dateTimeFmt.format(d) : "";
}

/** "just now", "4 min", "1 h 20 min" (in the page's language). */
export function formatDuration(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return t("just now");
  if (minutes < 60) return t("{m} min", { m: formatNumber(minutes) });
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? t("{h} h {m} min", { h: formatNumber(hours), m: formatNumber(rest) }) : t("{h} h", { h: formatNumber(hours) });
}

// ---- misc -----------------------------------------------------------------

/** A client id: 32 hex characters (within the protocol's [A-Za-z0-9_-]{1,64}). */
export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

/** Returns a normalised URL string when `value` is an absolute http(s) URL, else null. */
export function safeHttpUrl(value) {
  if (typeof value !== "string" || !value) return null;
  let url;
  try {
    url = new URL(value);
  } catch (e) {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

let regionNames = null;
export function countryName(code) {
  if (typeof code !== "string" || !code) return "";
  try {
    if (!regionNames) regionNames = new Intl.DisplayNames([lang], { type: "region" });
    const name = regionNames.of(code.toUpperCase());
    if (name && name.toUpperCase() !== code.toUpperCase()) return name + " (" + code.toUpperCase() + ")";
  } catch (e) {
    /* unknown code or no Intl.DisplayNames */
  }
  return code;
}

/** Length in code points (what the server counts), not UTF-16 units. */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n++; // eslint-disable-line no-unused-vars
  return n;
}

export function preview(text, max) {
  const flat = String(text || "").replace(/\s+/g, " ").trim();
  const chars = Array.from(flat);
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : flat;
}

/** A toast of `text` in a page's toast region (console.css): at most three, the same text once,
 * gone after `ms` unless `sticky`; `link` {text, href} adds a link. Text only, never markup. */
export function toastIn(region, text, { sticky = false, link = null, ms = 7000 } = {}) {
  if (!region) return;
  for (const node of Array.from(region.children)) {
    if (node.dataset.text === text) node.remove();
  }
  while (region.children.length >= 3) region.firstChild.remove();
  const dismiss = el("button", { class: "toast-close", text: "×", attrs: { type: "button", "aria-label": t("Dismiss") } });
  const children = [el("span", { class: "toast-text", text })];
  if (link) {
    const a = el("a", { class: "toast-link", text: link.text });
    a.href = link.href;
    children.push(a);
  }
  children.push(dismiss);
  const node = el("div", { class: "toast", attrs: { "data-text": text } }, children);
  dismiss.addEventListener("click", () => node.remove());
  region.appendChild(node);
  if (!sticky) setTimeout(() => node.remove(), ms);
}
