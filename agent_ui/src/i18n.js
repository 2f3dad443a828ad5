// The staff side's language in the browser: messages, plurals, numbers, dates and durations.
//
// The page's <html lang> (set by the server from the user's "Language" preference or the browser)
// chooses the catalog. Ids are the English text, so English needs no catalog:
//   t("Close chat")                         → "关闭对话"
//   t("Waiting {n} min", { n: 3 })          → "已等待 3 分钟"   ({name} placeholders, filled after translation)
//   tn("{n} chat", "{n} chats", count)      → plural by Intl.PluralRules; {n} is the formatted count
//   tc("traffic source", "Internal")        → the same English in another sense (key "traffic source|Internal")
// Always pass string literals (double quotes) as ids: the catalog check (tests/unit/test_catalogs.py)
// reads them from the source, and fails on an id that a catalog lacks or a catalog id no code uses.
import zhCN from "catalog:zh-CN";

const CATALOGS = { "zh-CN": zhCN };

export const lang = (typeof document !== "undefined" && document.documentElement.lang) || "en";
const catalog = CATALOGS[lang] || null;
const plurals = new Intl.PluralRules(lang);
const englishPlurals = new Intl.PluralRules("en");

function fill(text, vars) {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function t(id, vars) {
  const found = catalog ? catalog[id] : undefined;
  return fill(typeof found === "string" ? found : id, vars);
}

/** The same English in another sense: tc("traffic source", "Internal") → "站内" where t("Internal") is
 * "内部". Its catalog key is "traffic source|Internal"; English shows the id. */
export function tc(context, id, vars) {
  const found = catalog ? catalog[context + "|" + id] : undefined;
  return fill(typeof found === "string" ? found : id, vars);
}

export function tn(one, other, n, vars) {
  const found = catalog ? catalog[one] : undefined;
  let text;
  if (found && typeof found === "object") text = found[plurals.select(n)] || found.other;
  else text = englishPlurals.select(n) === "one" ? one : other;
  return fill(text, { n: formatNumber(n), ...vars });
}

export function formatNumber(n, options) {
  return typeof n === "number" && Number.isFinite(n) ? new Intl.NumberFormat(lang, options).format(n) : String(n ?? "");
}

export function formatPercent(fraction, digits = 1) {
  return formatNumber(fraction, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function asDate(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDate(value, options = { dateStyle: "medium" }) {
  const date = asDate(value);
  return date ? new Intl.DateTimeFormat(lang, options).format(date) : "";
}

export function formatTime(value, options = { hour: "2-digit", minute: "2-digit" }) {
  return formatDate(value, options);
}

export function formatDateTime(value, options = { dateStyle: "medium", timeStyle: "short" }) {
  return formatDate(value, options);
}

/** 75 → "1 min 15 s" / "1分15秒"; hours when an hour or longer. */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  if (h) return t("{h} h {m} min", { h: formatNumber(h), m: formatNumber(m) });
  if (m) return t("{m} min {s} s", { m: formatNumber(m), s: formatNumber(s) });
  return t("{s} s", { s: formatNumber(s) });
}
