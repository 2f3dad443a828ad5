// The Work orders list: filters (kept in the page's address, and as named views in localStorage)
// → GET /api/work-orders → a table with paging; bulk dispatch of the selected rows; keyboard
// navigation (j/k or ↓/↑, Enter, "/"); the "New work order" dialog. Refreshed when the window
// regains focus and every 30 s. Every value from the server is text (textContent), never markup.
import "./workorders.css"; // → /static/workorders.css, linked by both Work orders pages
import { el, clear, focusFirst } from "../dom.js";
import { formatNumber, t, tn } from "../i18n.js";
import {
  ApiError, PRIORITY_LABELS, STATUS_LABELS, clearFieldErrors, fillSelect, getJson, handlerChoices, idOf, loadOptions, postJson,
  showFieldError, timeLeft,
} from "../work_orders.js";
import { listenOnPage } from "../order_notices.js";

const PAGE = 50;
const REFRESH_MS = 30000;
const VIEWS_KEY = "switchboard.workOrders.views";
const $ = (id) => document.getElementById(id);

const form = $("filters");
const rows = $("rows");
const table = $("orders");
const statusBox = $("wo-status");
const errorBox = $("wo-error");
const emptyBox = $("wo-empty");
const search = $("f-q");

let options = { teams: [], categories: [], staff: [], sites: [], me: null };
let orders = [];
let total = 0;
let offset = 0;
let activeId = null;
let generation = 0;
const selected = new Set();

// ---- the filters and the address ---------------------------------------------------------------

const SELECTS = { status: "f-status", team: "f-team", handler: "f-handler", category: "f-category", priority: "f-priority" };

function setSelect(select, value, fallback) {
  select.value = value;
  if (select.value !== value) select.value = fallback;
}

/** The filters from the page's address (after the pickers are filled). */
function restore(params) {
  setSelect($("f-status"), params.get("status") || "open", "open");
  for (const name of ["team", "handler", "category", "priority"]) setSelect($(SELECTS[name]), params.get(name) || "", "");
  $("f-overdue").checked = params.get("overdue") === "1";
  $("f-mine").checked = params.get("mine") === "1";
  search.value = params.get("q") || "";
  const page = Number(params.get("page") || "1");
  offset = Number.isInteger(page) && page > 1 ? (page - 1) * PAGE : 0;
}

/** The filters as a query (what the address and the API share); empty values and the defaults left out. */
function filterQuery() {
  const q = new URLSearchParams();
  const status = $("f-status").value;
  if (status && status !== "open") q.set("status", status);
  for (const name of ["team", "handler", "category", "priority"]) {
    const value = $(SELECTS[name]).value;
    if (value) q.set(name, value);
  }
  if ($("f-overdue").checked) q.set("overdue", "1");
  if ($("f-mine").checked) q.set("mine", "1");
  const term = search.value.trim();
  if (term) q.set("q", term);
  return q;
}

function pageAddress() {
  const q = filterQuery();
  if (offset > 0) q.set("page", String(Math.floor(offset / PAGE) + 1));
  const text = q.toString();
  return "/work-orders" + (text ? "?" + text : "");
}

// ---- loading and the table ---------------------------------------------------------------------

function setStatus(text) {
  if (statusBox.textContent !== text) statusBox.textContent = text;
}

async function load({ quiet = false } = {}) {
  const mine = ++generation;
  const address = pageAddress();
  if (location.pathname + location.search !== address) history.replaceState(null, "", address);
  renderViews();
  if (!quiet) {
    setStatus(t("Loading…"));
    table.setAttribute("aria-busy", "true");
  }
  const api = filterQuery();
  api.set("limit", String(PAGE));
  api.set("offset", String(offset));
  try {
    const data = await getJson("/api/work-orders?" + api.toString(), t("Loading the work orders"));
    if (mine !== generation) return;
    if (!data.orders.length && offset > 0 && data.total > 0) {
      offset = Math.floor((data.total - 1) / PAGE) * PAGE; // the page emptied: the last one
      load({ quiet });
      return;
    }
    errorBox.hidden = true;
    orders = data.orders;
    total = data.total;
    render();
    setStatus(tn("{n} order", "{n} orders", total));
  } catch (e) {
    if (mine !== generation) return;
    setStatus("");
    errorBox.textContent = t("The work orders could not be loaded: {reason}", { reason: e.message || t("try again.") });
    errorBox.hidden = false;
  } finally {
    if (mine === generation) table.setAttribute("aria-busy", "false");
  }
}

function customerOf(order) {
  const c = order.customer || {};
  return c.name || c.email || c.phone || "—";
}

function row(order) {
  const link = el("a", { class: "wo-number", text: order.number,
    attrs: { href: "/work-orders/" + order.id, tabindex: "-1", "data-key": "link:" + order.id } });
  const check = el("input", { attrs: { type: "checkbox", "aria-label": t("Select {number}", { number: order.number }),
    "data-key": "check:" + order.id } });
  check.checked = selected.has(order.id);
  check.addEventListener("change", () => {
    if (check.checked) selected.add(order.id);
    else selected.delete(order.id);
    updateSelection();
  });
  const priority = el("span", { class: "wo-priority wo-priority-" + order.priority,
    text: PRIORITY_LABELS[order.priority] || order.priority });
  return el("tr", { class: order.overdue ? "is-overdue" : "", attrs: { "data-id": String(order.id) } }, [
    el("td", { class: "wo-select" }, [check]),
    el("th", { attrs: { scope: "row" } }, [link]),
    el("td", { class: "wo-subject", text: order.subject, attrs: { translate: "no" } }),
    el("td", { text: customerOf(order), attrs: { translate: "no" } }),
    el("td", { text: order.category || "—", attrs: { translate: "no" } }),
    el("td", {}, [priority]),
    el("td", { text: STATUS_LABELS[order.status] || order.status_label }),
    el("td", { text: order.team || "—", attrs: { translate: "no" } }),
    el("td", { text: order.handler || "—", attrs: { translate: "no" } }),
    el("td", { class: "wo-left" }, [timeLeft(order)]),
    el("td", { class: "wo-num", text: formatNumber(order.urge_count) }),
  ]);
}

function render() {
  const focused = document.activeElement && rows.contains(document.activeElement)
    ? document.activeElement.getAttribute("data-key") : null;
  for (const id of Array.from(selected)) if (!orders.some((o) => o.id === id)) selected.delete(id);
  if (!orders.some((o) => o.id === activeId)) activeId = null;
  clear(rows);
  for (const order of orders) rows.appendChild(row(order));
  const empty = orders.length === 0;
  emptyBox.hidden = !empty;
  table.parentElement.hidden = empty;
  const paging = document.activeElement;
  $("prev").disabled = offset <= 0;
  $("next").disabled = offset + orders.length >= total;
  // Next on the last page (or Previous on the first) is disabled now: the focus goes to the other.
  if (paging === $("prev") || paging === $("next")) focusFirst(paging, $("prev"), $("next"));
  $("page-label").textContent = empty ? "" : t("Orders {first}–{last} of {total}",
    { first: formatNumber(offset + 1), last: formatNumber(offset + orders.length), total: formatNumber(total) });
  highlight(activeId);
  updateSelection();
  if (focused) {
    // The order that had the focus may have left the list (changed meanwhile): the first row then.
    const again = rows.querySelector('[data-key="' + focused + '"]');
    focusFirst(again, rows.rows.length ? linkOf(rows.rows[0]) : null, search);
  }
}

// ---- keyboard navigation: a highlighted row, the focus on its link ---------------------------

function linkOf(tr) {
  return tr.querySelector("a.wo-number");
}

/** Highlight the row of order `id` (none: the first row takes the Tab stop). */
function highlight(id, focus = false) {
  activeId = id;
  const all = Array.from(rows.rows);
  all.forEach((tr, i) => {
    const on = id !== null ? tr.getAttribute("data-id") === String(id) : false;
    tr.classList.toggle("is-active", on);
    linkOf(tr).tabIndex = on || (id === null && i === 0) ? 0 : -1;
    if (on && focus) {
      linkOf(tr).focus();
      tr.scrollIntoView({ block: "nearest" });
    }
  });
}

function move(delta) {
  if (!orders.length) return;
  let i = orders.findIndex((o) => o.id === activeId);
  i = i < 0 ? (delta > 0 ? 0 : orders.length - 1) : Math.min(orders.length - 1, Math.max(0, i + delta));
  highlight(orders[i].id, true);
}

rows.addEventListener("focusin", (e) => {
  const tr = e.target.closest("tr");
  if (tr && tr.getAttribute("data-id") !== String(activeId)) highlight(Number(tr.getAttribute("data-id")));
});

function typingIn(target) {
  return target instanceof HTMLElement && (target.isContentEditable
    || (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && !(target.type === "checkbox" && rows.contains(target))));
}

document.addEventListener("keydown", (e) => {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || $("new-dialog").open) return;
  if (typingIn(e.target)) return;
  const inList = rows.contains(e.target);
  if (e.key === "/") {
    e.preventDefault();
    search.focus();
    search.select();
  } else if (e.key === "j" || (e.key === "ArrowDown" && inList)) {
    e.preventDefault();
    move(1);
  } else if (e.key === "k" || (e.key === "ArrowUp" && inList)) {
    e.preventDefault();
    move(-1);
  } else if (e.key === "Enter" && inList && e.target.tagName !== "A") {
    const tr = e.target.closest("tr");
    if (tr) {
      e.preventDefault();
      location.href = linkOf(tr).href;
    }
  }
});

// ---- selection and bulk dispatch ---------------------------------------------------------------

function updateSelection() {
  const all = $("select-all");
  const visible = orders.filter((o) => selected.has(o.id)).length;
  all.checked = visible > 0 && visible === orders.length;
  all.indeterminate = visible > 0 && visible < orders.length;
  $("bulk-count").textContent = visible ? t("({n} selected)", { n: formatNumber(visible) }) : t("(none selected)");
}

$("select-all").addEventListener("change", (e) => {
  for (const order of orders) {
    if (e.target.checked) selected.add(order.id);
    else selected.delete(order.id);
  }
  for (const box of rows.querySelectorAll('input[type="checkbox"]')) box.checked = e.target.checked;
  updateSelection();
});

$("bulk-team").addEventListener("change", () => {
  fillSelect($("bulk-handler"), handlerChoices(options, $("bulk-team").value));
});

$("bulk").addEventListener("submit", async (e) => {
  e.preventDefault();
  const result = $("bulk-result");
  const ids = orders.filter((o) => selected.has(o.id)).map((o) => o.id);
  const teamId = idOf($("bulk-team"));
  const handlerId = idOf($("bulk-handler"));
  errorBox.hidden = true;
  if (!ids.length) {
    result.textContent = t("Select the orders to dispatch first.");
    return;
  }
  if (teamId === null && handlerId === null) {
    result.textContent = t("Pick a team or a handler to dispatch to.");
    return;
  }
  const button = e.submitter || $("bulk").querySelector("button");
  // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  try {
    const data = await postJson("/api/work-orders/bulk-assign", { ids, team_id: teamId, handler_id: handlerId },
      t("Dispatching"));
    const numberOf = (id) => (orders.find((o) => o.id === id) || { number: "#" + id }).number;
    let text = tn("Dispatched {n} order.", "Dispatched {n} orders.", data.done.length);
    if (data.refused.length) {
      text += " " + t("Not dispatched: {orders}.", { orders: data.refused.map((r) => numberOf(r.id) + " (" + r.message + ")").join("; ") });
    }
    result.textContent = text;
    selected.clear();
    await load({ quiet: true });
  } catch (err) {
    result.textContent = "";
    errorBox.textContent = t("Nothing was dispatched: {reason}", { reason: err.message });
    errorBox.hidden = false;
  } finally {
    button.removeAttribute("aria-disabled");
  }
});

// ---- paging, filters ---------------------------------------------------------------------------

$("prev").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  load();
});
$("next").addEventListener("click", () => {
  offset += PAGE;
  load();
});

form.addEventListener("submit", (e) => {
  e.preventDefault();
  offset = 0;
  load();
});
form.addEventListener("change", (e) => {
  if (e.target === search) return;
  offset = 0;
  load();
});
let typingTimer = null;
search.addEventListener("input", () => {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    offset = 0;
    load();
  }, 350);
});

// ---- saved views (this browser's localStorage) -------------------------------------------------

function readViews() {
  try {
    const views = JSON.parse(localStorage.getItem(VIEWS_KEY) || "[]");
    return Array.isArray(views)
      ? views.filter((v) => v && typeof v.name === "string" && typeof v.query === "string").slice(0, 50) : [];
  } catch (e) {
    return [];
  }
}

function writeViews(views) {
  try {
    localStorage.setItem(VIEWS_KEY, JSON.stringify(views));
    return true;
  } catch (e) {
    return false;
  }
}

function renderViews() {
  const list = $("views");
  const views = readViews();
  const current = filterQuery().toString();
  clear(list);
  for (const view of views) {
    const query = new URLSearchParams(view.query).toString(); // only a query: never a scheme or another path
    const link = el("a", { text: view.name, attrs: { translate: "no", href: "/work-orders" + (query ? "?" + query : ""),
      "aria-current": query === current ? "page" : null } });
    const remove = el("button", { class: "btn btn-ghost btn-small", text: t("Delete"),
      attrs: { type: "button", "aria-label": t("Delete view {name}", { name: view.name }) } });
    remove.addEventListener("click", () => {
      writeViews(readViews().filter((v) => v.name !== view.name));
      renderViews();
      $("view-name").focus();
      setStatus(t("The view “{name}” is deleted.", { name: view.name }));
    });
    list.appendChild(el("li", { class: "wo-view" }, [link, remove]));
  }
  $("views-empty").hidden = views.length > 0;
}

$("save-view").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("view-name");
  const name = input.value.trim();
  clearFieldErrors($("save-view"));
  if (!name) {
    showFieldError(input, t("Name the view."));
    input.focus();
    return;
  }
  const views = readViews().filter((v) => v.name !== name);
  views.push({ name, query: filterQuery().toString() });
  views.sort((a, b) => a.name.localeCompare(b.name));
  if (!writeViews(views)) {
    showFieldError(input, t("This browser does not keep saved views."));
    return;
  }
  input.value = "";
  renderViews();
  setStatus(t("The view “{name}” is saved.", { name }));
});

// ---- New work order ----------------------------------------------------------------------------

const dialog = $("new-dialog");
const newForm = $("new-form");
const opener = $("new-order");
const FIELDS = {
  site_id: "nf-site", subject: "nf-subject", description: "nf-description", category_id: "nf-category",
  priority: "nf-priority", customer_name: "nf-name", customer_email: "nf-email", customer_phone: "nf-phone",
  language: "nf-language", team_id: "nf-team", handler_id: "nf-handler",
};

opener.addEventListener("click", () => {
  clearFieldErrors(newForm);
  $("new-error").hidden = true;
  dialog.showModal();
  ($("nf-site").options.length > 1 && !$("nf-site").value ? $("nf-site") : $("nf-subject")).focus();
});
dialog.addEventListener("close", () => opener.focus());
$("new-cancel").addEventListener("click", () => dialog.close());
$("nf-team").addEventListener("change", () => {
  fillSelect($("nf-handler"), handlerChoices(options, $("nf-team").value));
});

newForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearFieldErrors(newForm);
  const alert = $("new-error");
  alert.hidden = true;
  const value = (id) => $(id).value.trim();
  const body = {
    site_id: idOf($("nf-site")), subject: value("nf-subject"), description: value("nf-description"),
    category_id: idOf($("nf-category")), priority: $("nf-priority").value, customer_name: value("nf-name"),
    customer_email: value("nf-email"), customer_phone: value("nf-phone"), language: $("nf-language").value,
    team_id: idOf($("nf-team")), handler_id: idOf($("nf-handler")),
  };
  const button = newForm.querySelector('button[type="submit"]');
  // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  try {
    const data = await postJson("/api/work-orders", body, t("Creating the work order"));
    location.href = "/work-orders/" + data.order.id;
  } catch (err) {
    button.removeAttribute("aria-disabled");
    const control = err instanceof ApiError && FIELDS[err.field] ? $(FIELDS[err.field]) : null;
    if (control) {
      showFieldError(control, err.message);
      control.focus();
    } else {
      alert.textContent = t("The work order was not created: {reason}", { reason: err.message });
      alert.hidden = false;
    }
  }
});

// ---- start -------------------------------------------------------------------------------------

function fillPickers() {
  const teams = options.teams.map((t) => [t.id, t.name]);
  const staff = options.staff.map((s) => [s.id, s.name]);
  const categories = options.categories.map((c) => [c.id, c.path]);
  fillSelect($("f-team"), teams);
  fillSelect($("f-handler"), staff);
  fillSelect($("f-category"), categories);
  fillSelect($("bulk-team"), teams);
  fillSelect($("bulk-handler"), staff);
  fillSelect($("nf-team"), teams);
  fillSelect($("nf-handler"), staff);
  fillSelect($("nf-category"), categories);
  const site = $("nf-site");
  fillSelect(site, options.sites.map((s) => [s.id, s.name]), 0);
  if (options.sites.length !== 1) {
    site.insertBefore(el("option", { text: t("Choose a site"), attrs: { value: "" } }), site.firstChild);
    site.value = "";
  }
  opener.hidden = options.sites.length === 0; // back-office staff file no orders of their own
}

async function start() {
  try {
    options = await loadOptions();
    fillPickers();
  } catch (e) {
    errorBox.textContent = t("The filter choices could not be loaded: {reason}", { reason: e.message });
    errorBox.hidden = false;
  }
  restore(new URLSearchParams(location.search));
  await load();
  window.addEventListener("focus", () => load({ quiet: true }));
  setInterval(() => {
    if (!document.hidden) load({ quiet: true });
  }, REFRESH_MS);
}

start();

// The user's work order notices (dispatched to me, urged, overdue …) as toasts on this page too.
listenOnPage();
