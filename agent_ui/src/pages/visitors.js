// The Visitors view: everyone on the sites now, live.
//
// The server sends the whole list once (`visitors`, again after every reconnect) and then
// `visitors.delta {upsert, remove}` at most once a second with only the rows that changed. Rows
// live in a Map; a delta marks the view dirty and one requestAnimationFrame re-sorts/filters
// (precomputed keys) and renders only the rows in the scroll window (fixed row height, a small
// pool of row elements reused by visitor id). One shared 1-second ticker updates the visible
// clocks. Every string of a row is the visitor's: it goes through textContent only, and links
// are made only for http(s) URLs.
import "./visitors.css";
import { connect, request as rawRequest, refusalCode } from "../connection.js";
import { el, clear, meta, safeHttpUrl, charCount, parseTime, focusFirst, asData, parts, labelled, countryName, formatTime as when } from "../dom.js";
import { STATUS_LABELS as ORDER_STATUS_LABELS } from "../work_orders.js";
import { t, tc, tn, formatNumber, formatDateTime, formatDuration } from "../i18n.js";

const ROW_H = 56; // px, must match .vv-body .vv-row in visitors.css
const OVERSCAN = 8;
const MAX_INVITE = 500;

const $ = (id) => document.getElementById(id);
const dom = {
  app: $("app"),
  main: $("main"),
  conn: $("conn-indicator"),
  count: $("visitors-count"),
  search: $("filter-text"),
  chat: $("filter-chat"),
  visit: $("filter-visit"),
  referrer: $("filter-referrer"),
  sort: $("sort-by"),
  reset: $("filter-reset"),
  myStatus: $("my-status"),
  scroller: $("scroller"),
  table: $("visitors-table"),
  body: $("rows"),
  loading: $("visitors-loading"),
  empty: $("visitors-empty"),
  noMatch: $("visitors-nomatch"),
  profile: $("profile"),
  profileTitle: $("profile-title"),
  profileBody: $("profile-body"),
  profileClose: $("profile-close"),
  invite: $("invite-dialog"),
  inviteForm: $("invite-form"),
  inviteTitle: $("invite-title"),
  invitePage: $("invite-page"),
  inviteWarning: $("invite-warning"),
  inviteMessage: $("invite-message"),
  inviteCounter: $("invite-counter"),
  inviteError: $("invite-error"),
  inviteSend: $("invite-send"),
  inviteCancel: $("invite-cancel"),
  toasts: $("toasts"),
};

const REFERRER_LABEL = {
  direct: t("Direct"), internal: tc("traffic source", "Internal"), search: t("Search"), social: t("Social"), email: t("Email"),
  paid: t("Paid"), other: t("Other"),
};
const CHAT_LABEL = { none: t("None"), waiting: t("Waiting"), assigned: t("Chatting") };
const INVITATION_LABEL = {
  sent: t("Sent"), shown: t("Seen"), accepted: t("Accepted"), declined: t("Declined"), expired: t("Expired"),
};
const STATUS_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };
const DEVICE_LABEL = { desktop: t("desktop"), mobile: t("mobile"), tablet: t("tablet"), bot: t("bot"), other: t("other") };
const CONVERSATION_LABEL = { waiting: t("Waiting"), assigned: tc("chat", "In progress"), closed: t("Closed") };
const RATING_LABEL = { good: t("good"), neutral: t("neutral"), bad: t("bad") };
const WORK_ORDER_LABEL = ORDER_STATUS_LABELS;
const ERROR_TEXT = {
  offline: t("You are offline. Try again when the connection is back."),
  timeout: t("The server did not answer. Try again."),
  forbidden: t("You are not allowed to do this."),
  not_found: t("This visitor is no longer on the site."),
  invalid_state: t("This visitor is already chatting or has an invitation open."),
  declined_recently: t("This visitor declined an invitation recently; try again later."),
  rate_limited: t("Too many invitations at once: wait a moment and try again."),
  unavailable: t("Set yourself Available in the console to invite visitors."),
  message_too_long: t("That message is too long (500 characters at most)."),
};

// ---- language ----------------------------------------------------------------------
// What visitors and CSRs wrote, page titles, URLs, names and the like are data, never translated:
// they go in an element marked translate="no" (dom.js asData). A translated sentence with data in
// it is built from its parts (dom.js parts, labelled).

const textNode = (text) => document.createTextNode(text);

/** Nodes joined with " · " (empty ones left out). */
function joined(nodes) {
  const out = [];
  for (const node of nodes.filter(Boolean)) {
    if (out.length) out.push(textNode(" · "));
    out.push(typeof node === "string" ? textNode(node) : node);
  }
  return out;
}

// ---- state ------------------------------------------------------------------

const state = {
  rows: new Map(), // id → entry {row, hay, siteStart, pageStart, countryKey, name}
  loaded: false,
  watching: false,
  skew: 0, // server clock − client clock, ms (from the snapshot's `at`)
  view: [], // ids in display order (filtered + sorted)
  viewDirty: true,
  frame: 0,
  rendered: new Map(), // id → row element currently in the DOM
  activeId: null, // the row in the tab order (roving tabindex)
  myStatus: null,
  filters: { text: "", words: [], chat: "any", visit: "all", referrer: "any", sort: "site" },
  profile: null, // {id, token, data, reloadTimer, open: Set(conversation id)}
  inviting: null, // visitor id of the open invite dialog
};
const stats = { lastViewMs: 0, lastRenderMs: 0, renders: 0 };

const socket = connect(meta("switchboard-socket-token"));
const request = (event, payload) => rawRequest(socket, event, payload);

const now = () => Date.now() + state.skew;
const str = (v) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

// ---- rows -----------------------------------------------------------------------

function shortId(id) {
  const s = str(id);
  return s.slice(-4);
}

function displayName(row) {
  const name = str(row.name).trim();
  return name || t("Guest {id}", { id: shortId(row.id) });
}

function timeOf(value) {
  const d = parseTime(value);
  return d ? d.getTime() : NaN;
}

function entryOf(row) {
  const name = displayName(row);
  const siteStart = timeOf(row.visit_since) || timeOf(row.online_since);
  return {
    row,
    name,
    hay: [name, row.url, row.title, row.keywords, row.referrer_domain].map((s) => str(s).toLowerCase()).join("\n"),
    siteStart: isNaN(siteStart) ? Infinity : siteStart,
    pageStart: isNaN(timeOf(row.page_since)) ? Infinity : timeOf(row.page_since),
    countryKey: row.country ? countryName(row.country).toLowerCase() : "\uffff",
  };
}

function validRow(row) {
  return row && typeof row === "object" && typeof row.id === "string" && row.id !== "";
}

function applySnapshot(rows, at) {
  const serverAt = timeOf(at);
  if (!isNaN(serverAt)) state.skew = serverAt - Date.now();
  state.rows = new Map();
  for (const row of Array.isArray(rows) ? rows : []) if (validRow(row)) state.rows.set(row.id, entryOf(row));
  state.loaded = true;
  invalidate();
}

function applyDelta(delta) {
  if (!delta || typeof delta !== "object") return;
  const profileId = state.profile && state.profile.id;
  let profileChanged = false;
  for (const id of Array.isArray(delta.remove) ? delta.remove : []) {
    if (state.rows.delete(id) && id === profileId) profileChanged = true;
  }
  for (const row of Array.isArray(delta.upsert) ? delta.upsert : []) {
    if (!validRow(row)) continue;
    const before = state.rows.get(row.id);
    state.rows.set(row.id, entryOf(row));
    if (row.id === profileId && (!before || before.row.url !== row.url || before.row.pages !== row.pages ||
                                 before.row.name !== row.name)) profileChanged = true;
  }
  if (profileChanged) scheduleProfileReload();
  invalidate();
}

// ---- view: filter + sort ----------------------------------------------------------

const SORTS = {
  site: (a, b) => a.siteStart - b.siteStart,
  page: (a, b) => a.pageStart - b.pageStart,
  pages: (a, b) => (b.row.pages || 0) - (a.row.pages || 0),
  visit: (a, b) => (b.row.visit || 0) - (a.row.visit || 0),
  country: (a, b) => (a.countryKey < b.countryKey ? -1 : a.countryKey > b.countryKey ? 1 : 0),
};

function filtersActive() {
  const f = state.filters;
  return f.words.length > 0 || f.chat !== "any" || f.visit !== "all" || f.referrer !== "any";
}

function matches(entry) {
  const f = state.filters;
  const row = entry.row;
  if (f.chat !== "any" && row.chat !== f.chat) return false;
  if (f.visit === "new" && row.returning) return false;
  if (f.visit === "returning" && !row.returning) return false;
  if (f.referrer !== "any" && row.referrer_type !== f.referrer) return false;
  for (const word of f.words) if (entry.hay.indexOf(word) === -1) return false;
  return true;
}

function computeView() {
  const t0 = performance.now();
  const list = [];
  const all = !filtersActive();
  for (const entry of state.rows.values()) if (all || matches(entry)) list.push(entry);
  const primary = SORTS[state.filters.sort] || SORTS.site;
  list.sort((a, b) => primary(a, b) || a.siteStart - b.siteStart || (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0));
  state.view = list.map((e) => e.row.id);
  state.viewIndex = null;
  state.viewDirty = false;
  stats.lastViewMs = performance.now() - t0;
}

function indexOfId(id) {
  if (!state.viewIndex) {
    state.viewIndex = new Map();
    state.view.forEach((v, i) => state.viewIndex.set(v, i));
  }
  const i = state.viewIndex.get(id);
  return i === undefined ? -1 : i;
}

// ---- rendering --------------------------------------------------------------------

function invalidate() {
  state.viewDirty = true;
  schedule();
}

function schedule() {
  if (!state.frame) state.frame = requestAnimationFrame(render);
}

function render() {
  state.frame = 0;
  const t0 = performance.now();
  if (state.viewDirty) computeView();
  renderChrome();
  renderWindow();
  stats.lastRenderMs = performance.now() - t0;
  stats.renders++;
}

function renderChrome() {
  const total = state.rows.size;
  const shown = state.view.length;
  dom.main.setAttribute("aria-busy", state.loaded ? "false" : "true");
  dom.loading.hidden = state.loaded;
  dom.count.textContent = !state.loaded ? ""
    : filtersActive() ? t("{total} online · {shown} shown", { total: formatNumber(total), shown: formatNumber(shown) })
      : t("{total} online", { total: formatNumber(total) });
  dom.empty.hidden = !state.loaded || total > 0;
  dom.noMatch.hidden = !state.loaded || total === 0 || shown > 0;
  dom.reset.hidden = !filtersActive();
  dom.table.setAttribute("aria-rowcount", String(shown + 1));
  dom.body.style.height = shown * ROW_H + "px";
}

/** The first and last (exclusive) index of the rows in the scroll window, with overscan. */
function windowRange() {
  const top = dom.scroller.scrollTop - dom.body.offsetTop;
  const height = dom.scroller.clientHeight;
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(state.view.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
  return [first, Math.max(first, last)];
}

function renderWindow() {
  const [first, last] = windowRange();
  const wanted = new Map();
  for (let i = first; i < last; i++) wanted.set(state.view[i], i);
  // Keep the focused row rendered even when it scrolled out of the window (focus stays put).
  const focusedRow = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest(".vv-body .vv-row") : null;
  const focusedId = focusedRow ? focusedRow.dataset.id : null;
  let refocusIndex = -1;
  if (focusedId && !wanted.has(focusedId)) {
    const i = state.rows.has(focusedId) ? indexOfId(focusedId) : -1;
    if (i >= 0) wanted.set(focusedId, i);
    else refocusIndex = Math.min(Number(focusedRow.dataset.index) || 0, state.view.length - 1);
  }
  if (state.activeId !== null && indexOfId(state.activeId) === -1) state.activeId = null;
  if (state.activeId === null && state.view.length) {
    state.activeId = state.view[Math.min(Math.max(first, 0), state.view.length - 1)];
  }

  for (const [id, node] of state.rendered) {
    if (!wanted.has(id)) {
      node.remove();
      state.rendered.delete(id);
    }
  }
  for (const [id, index] of wanted) {
    const entry = state.rows.get(id);
    if (!entry) continue;
    let node = state.rendered.get(id);
    if (!node) {
      node = createRow();
      state.rendered.set(id, node);
      dom.body.appendChild(node);
    }
    if (node._entry !== entry) fillRow(node, entry);
    if (node._index !== index) {
      node._index = index;
      node.dataset.index = String(index);
      node.style.transform = "translateY(" + index * ROW_H + "px)";
      node.setAttribute("aria-rowindex", String(index + 2));
    }
    setActive(node, id === state.activeId);
    const open = !!state.profile && state.profile.id === id;
    if (node._open !== open) {
      node._open = open;
      node.classList.toggle("is-open", open);
    }
    tickRow(node);
  }
  orderRows(focusedId);
  if (refocusIndex >= 0) focusIndex(refocusIndex);
  else if (focusedId && !state.rendered.has(focusedId) && document.activeElement === document.body) {
    // The visitor who had the focus left, and no row takes their place: what the list says now.
    focusFirst(dom.empty, dom.noMatch, dom.search);
  }
}

/** Keep the DOM order of the rendered rows the display order (what assistive technology reads),
 * without ever moving the focused row (moving a node drops its focus). */
function orderRows(focusedId) {
  const nodes = Array.from(state.rendered.values()).sort((a, b) => a._index - b._index);
  let inOrder = nodes.length === 0 || dom.body.firstChild === nodes[0];
  for (let i = 1; inOrder && i < nodes.length; i++) inOrder = nodes[i - 1].nextSibling === nodes[i];
  if (inOrder) return;
  let pivot = nodes.findIndex((n) => n.dataset.id === focusedId);
  if (pivot < 0) {
    pivot = 0;
    if (dom.body.firstChild !== nodes[0]) dom.body.insertBefore(nodes[0], dom.body.firstChild);
  }
  for (let i = pivot - 1; i >= 0; i--) {
    if (nodes[i].nextSibling !== nodes[i + 1]) dom.body.insertBefore(nodes[i], nodes[i + 1]);
  }
  for (let i = pivot + 1; i < nodes.length; i++) {
    if (nodes[i - 1].nextSibling !== nodes[i]) dom.body.insertBefore(nodes[i], nodes[i - 1].nextSibling);
  }
}

function setActive(node, active) {
  const tab = active ? "0" : "-1";
  if (node._tab === tab) return;
  node._tab = tab;
  node.tabIndex = active ? 0 : -1;
  node._c.nameBtn.tabIndex = active ? 0 : -1;
  node._c.invite.tabIndex = active ? 0 : -1;
  if (node._c.link) node._c.link.tabIndex = active ? 0 : -1;
}

function cell(cls, children) {
  return el("div", { class: "vv-cell " + cls, attrs: { role: "cell" } }, children);
}

function createRow() {
  const c = {};
  c.nameBtn = el("button", { class: "vv-name", attrs: { type: "button", translate: "no" } });
  c.country = el("span", { class: "vv-sub" });
  c.title = el("span", { class: "vv-title" });
  c.clock = el("span", { class: "vv-clock", attrs: { title: t("Time on this page") } });
  c.urlBox = el("span", { class: "vv-sub vv-url" });
  c.pages = el("span");
  c.refType = el("span", { class: "vv-reftype" });
  c.refDomain = el("span", { class: "vv-sub vv-refdomain", attrs: { translate: "no" } });
  c.device = el("span", { class: "vv-device" });
  c.os = el("span", { class: "vv-sub", attrs: { translate: "no" } });
  c.visit = el("span");
  c.onSite = el("span", { class: "vv-sub", attrs: { title: t("Time on site (this visit)") } });
  c.chat = el("span", { class: "vv-badge" });
  c.invitation = el("span");
  c.invitationBy = el("span", { class: "vv-sub" });
  c.invite = el("button", { class: "btn btn-small", text: t("Invite"), attrs: { type: "button" } });
  const node = el("div", { class: "vv-row", attrs: { role: "row" } }, [
    cell("vv-c-visitor", [c.nameBtn, c.country]),
    cell("vv-c-page", [el("span", { class: "vv-line" }, [c.title, c.clock]), c.urlBox]),
    cell("vv-c-pages vv-num", [c.pages]),
    cell("vv-c-ref", [c.refType, c.refDomain]),
    cell("vv-c-device", [c.device, c.os]),
    cell("vv-c-visit", [c.visit, c.onSite]),
    cell("vv-c-chat", [c.chat]),
    cell("vv-c-inv", [c.invitation, c.invitationBy]),
    cell("vv-c-act", [c.invite, c.inviteLabel = labelled(c.invite, "", {})]),
  ]);
  node._c = c;
  return node;
}

function fillRow(node, entry) {
  const row = entry.row;
  const c = node._c;
  node._entry = entry;
  node.dataset.id = row.id;
  node.classList.toggle("is-chatting", row.chat === "assigned");
  node.classList.toggle("is-waiting", row.chat === "waiting");

  c.nameBtn.textContent = entry.name;
  c.nameBtn.setAttribute("aria-label", t("Profile of {name}", { name: entry.name }));
  c.country.textContent = row.country ? countryName(row.country) : t("Unknown location");

  c.title.textContent = str(row.title).trim() || t("(untitled page)");
  c.title.translate = !str(row.title).trim(); // a page's title is data
  c.title.title = str(row.title);
  const href = safeHttpUrl(row.url);
  clear(c.urlBox);
  c.link = null;
  if (href) {
    c.link = el("a", {
      text: str(row.url),
      attrs: { href, target: "_blank", rel: "noopener noreferrer nofollow", tabindex: node._tab === "0" ? "0" : "-1" },
    });
    c.urlBox.appendChild(c.link);
  } else {
    c.urlBox.textContent = str(row.url);
  }
  c.urlBox.title = str(row.url);

  c.pages.textContent = String(Number(row.pages) || 0);

  const type = REFERRER_LABEL[row.referrer_type] || "";
  const domain = str(row.referrer_domain) || hostOf(row.referrer);
  c.refType.textContent = type || (domain ? t("Referral") : "—");
  c.refType.dataset.type = str(row.referrer_type);
  const keywords = str(row.keywords).trim();
  c.refDomain.textContent = [domain && domain !== str(row.referrer_type) ? domain : "", keywords ? "\u201c" + keywords + "\u201d" : ""]
    .filter(Boolean).join(" · ");
  c.refDomain.title = str(row.referrer);

  clear(c.device);
  const device = DEVICE_LABEL[row.device] || str(row.device);
  if (device || row.browser) c.device.append(...joined([device, row.browser ? asData(str(row.browser)) : null]));
  else c.device.textContent = t("Unknown device");
  c.os.textContent = str(row.os);

  const visit = Number(row.visit) || 1;
  c.visit.textContent = visit <= 1 && !row.returning ? tc("visitor", "New") : t("Returning · visit {n}", { n: formatNumber(visit) });

  c.chat.textContent = CHAT_LABEL[row.chat] || t("None");
  c.chat.dataset.chat = CHAT_LABEL[row.chat] ? row.chat : "none";

  const inv = row.invitation && typeof row.invitation === "object" ? row.invitation : null;
  c.invitation.textContent = inv ? INVITATION_LABEL[inv.state] || str(inv.state) : "—";
  c.invitation.className = inv ? "vv-inv vv-inv-" + str(inv.state).replace(/[^a-z]/g, "") : "vv-inv muted";
  clear(c.invitationBy);
  if (inv && inv.by) c.invitationBy.append(...parts(tc("invitation", "by {name}"), { name: asData(str(inv.by)) }));

  const blocked = blockedReason(row);
  c.invite.disabled = !!blocked;
  c.invite.title = blocked || t("Invite this visitor to chat");
  labelled(c.invite, t("Invite {name}"), { name: asData(entry.name) }, c.inviteLabel);
}

function blockedReason(row) {
  if (row.chat === "assigned") return t("Already chatting");
  if (row.chat === "waiting") return t("Already waiting for a chat");
  const inv = row.invitation;
  if (inv && (inv.state === "sent" || inv.state === "shown")) return t("An invitation is open");
  return "";
}

function hostOf(url) {
  const href = safeHttpUrl(url);
  if (!href) return "";
  try {
    return new URL(href).hostname.replace(/^www\./, "");
  } catch (e) {
    return "";
  }
}

/** "0:45", "12:03", "1:02:03". */
function clock(ms) {
  if (!isFinite(ms)) return "—";
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function tickRow(node) {
  const entry = node._entry;
  if (!entry) return;
  const at = now();
  setText(node._c.clock, clock(at - entry.pageStart));
  setText(node._c.onSite, t("{time} on site", { time: clock(at - entry.siteStart) }));
}

// One shared ticker for the visible clocks.
setInterval(() => {
  for (const node of state.rendered.values()) tickRow(node);
}, 1000);

dom.scroller.addEventListener("scroll", schedule, { passive: true });
if (typeof ResizeObserver === "function") new ResizeObserver(schedule).observe(dom.scroller);
else window.addEventListener("resize", schedule);

// ---- keyboard and pointer on rows ------------------------------------------------------

function rowOf(target) {
  const node = target && target.closest ? target.closest(".vv-body .vv-row") : null;
  return node && node.dataset.id ? node : null;
}

/** Scroll index `i` into view, render now, and focus its row. */
function focusIndex(i) {
  if (!state.view.length) return;
  const index = Math.max(0, Math.min(i, state.view.length - 1));
  const id = state.view[index];
  const top = dom.body.offsetTop + index * ROW_H;
  const headH = dom.body.offsetTop;
  if (top - headH < dom.scroller.scrollTop) dom.scroller.scrollTop = top - headH;
  else if (top + ROW_H > dom.scroller.scrollTop + dom.scroller.clientHeight) {
    dom.scroller.scrollTop = top + ROW_H - dom.scroller.clientHeight;
  }
  state.activeId = id;
  if (state.frame) {
    cancelAnimationFrame(state.frame);
    state.frame = 0;
  }
  render();
  const node = state.rendered.get(id);
  if (node) node.focus({ preventScroll: true });
}

dom.body.addEventListener("focusin", (e) => {
  const node = rowOf(e.target);
  if (!node || state.activeId === node.dataset.id) return;
  const previous = state.rendered.get(state.activeId);
  state.activeId = node.dataset.id;
  if (previous) setActive(previous, false);
  setActive(node, true);
});

dom.body.addEventListener("keydown", (e) => {
  const node = rowOf(e.target);
  if (!node || e.altKey || e.ctrlKey || e.metaKey) return;
  const index = indexOfId(node.dataset.id);
  const page = Math.max(1, Math.floor((dom.scroller.clientHeight - dom.body.offsetTop) / ROW_H) - 1);
  const moves = { ArrowDown: index + 1, ArrowUp: index - 1, PageDown: index + page, PageUp: index - page,
                  Home: 0, End: state.view.length - 1 };
  if (e.key in moves && (e.target === node || e.key.startsWith("Arrow"))) {
    e.preventDefault();
    focusIndex(moves[e.key]);
  } else if (e.key === "Enter" && e.target === node) {
    e.preventDefault();
    openProfile(node.dataset.id, node);
  }
});

dom.body.addEventListener("click", (e) => {
  const node = rowOf(e.target);
  if (!node) return;
  const id = node.dataset.id;
  if (e.target.closest(".vv-name")) openProfile(id, node);
  else if (e.target.closest(".vv-c-act button")) openInvite(id);
});

dom.body.addEventListener("dblclick", (e) => {
  const node = rowOf(e.target);
  if (node && !e.target.closest("a, button")) openProfile(node.dataset.id, node);
});

// ---- filters ------------------------------------------------------------------------

function readFilters() {
  const text = dom.search.value.trim().toLowerCase();
  state.filters = {
    text,
    words: text ? text.split(/\s+/) : [],
    chat: dom.chat.value,
    visit: dom.visit.value,
    referrer: dom.referrer.value,
    sort: dom.sort.value,
  };
  invalidate();
}

dom.search.addEventListener("input", readFilters);
for (const select of [dom.chat, dom.visit, dom.referrer, dom.sort]) select.addEventListener("change", readFilters);
dom.reset.addEventListener("click", () => {
  dom.search.value = "";
  dom.chat.value = "any";
  dom.visit.value = "all";
  dom.referrer.value = "any";
  readFilters();
  dom.search.focus();
});

// ---- connection ---------------------------------------------------------------------

function setConnection(kind) {
  const labels = { connecting: t("Connecting…"), connected: t("Connected"), reconnecting: t("Reconnecting…") };
  dom.conn.textContent = labels[kind] || kind;
  dom.conn.className = "conn conn-" + kind;
}

async function watch() {
  if (document.visibilityState === "hidden") return;
  const res = await request("visitors", {});
  if (!res.ok) {
    showError(res.error);
    if (res.error.code !== "offline") setTimeout(() => socket.connected && watch(), 5000);
    return;
  }
  state.watching = true;
  applySnapshot(res.visitors, res.at);
}

socket.on("connect", () => {
  setConnection("connected");
  watch();
  if (state.profile) loadProfile(state.profile.id, { quiet: true });
});
socket.on("disconnect", () => {
  state.watching = false;
  setConnection("reconnecting");
});
socket.on("connect_error", (err) => {
  const code = refusalCode(err);
  if (code === "unauthorized" || code === "token_expired" || code === "invalid_token") {
    window.location.reload(); // a fresh page render issues a new token, or sends us to sign in
    return;
  }
  setConnection("reconnecting");
  if (!socket.active) setTimeout(() => socket.connect(), 3000);
});
socket.on("visitors.delta", (delta) => {
  if (state.watching || !state.loaded) applyDelta(delta);
});
socket.on("status", (s) => {
  state.myStatus = s && typeof s.status === "string" ? s.status : null;
  renderMyStatus();
});
socket.on("invitation.updated", (u) => {
  if (!u || typeof u !== "object") return;
  const entry = state.rows.get(u.visitor_id);
  const inv = entry && entry.row.invitation;
  if (inv && inv.id === u.id && inv.state !== u.state) {
    state.rows.set(u.visitor_id, entryOf({ ...entry.row, invitation: { ...inv, state: u.state } }));
    invalidate();
  }
});

// A hidden tab stops the stream after a while (no bytes for nobody) and asks again on return.
let hiddenTimer = 0;
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    hiddenTimer = setTimeout(() => {
      if (state.watching && socket.connected) request("visitors_stop", {});
      state.watching = false;
    }, 60000);
  } else {
    clearTimeout(hiddenTimer);
    if (!state.watching && socket.connected) watch();
  }
});

function renderMyStatus() {
  const s = state.myStatus;
  dom.myStatus.hidden = !s || s === "available";
  if (s && s !== "available") {
    clear(dom.myStatus);
    dom.myStatus.append(...parts(t("You are {status}: set yourself Available in the {console} to invite visitors."), {
      status: textNode(STATUS_LABEL[s] || s),
      console: el("a", { text: t("console"), attrs: { href: "/console" } }),
    }));
  }
}

// ---- profile ------------------------------------------------------------------------

let profileToken = 0;
let profileOpener = null;

function openProfile(id, opener) {
  const entry = state.rows.get(id);
  profileOpener = opener || null;
  state.profile = { id, data: null, reloadTimer: 0, open: new Set() };
  dom.profile.hidden = false;
  dom.app.classList.add("has-profile");
  dom.profileTitle.textContent = entry ? entry.name : t("Visitor");
  dom.profileTitle.translate = !entry; // a name is data
  clear(dom.profileBody);
  dom.profileBody.appendChild(el("p", { class: "vv-state", text: t("Loading profile…"), attrs: { role: "status" } }));
  dom.profile.focus();
  loadProfile(id);
  schedule();
}

function closeProfile() {
  if (!state.profile) return;
  clearTimeout(state.profile.reloadTimer);
  state.profile = null;
  profileToken++;
  dom.profile.hidden = true;
  dom.app.classList.remove("has-profile");
  const opener = profileOpener;
  profileOpener = null;
  // Back to the row's Profile button; when that visitor has left, to the active row, else to what
  // the list says now.
  focusFirst(opener, state.activeId && state.rendered.get(state.activeId), dom.body.querySelector("[role=row]"),
    dom.empty, dom.noMatch, dom.search);
  schedule();
}

function scheduleProfileReload() {
  const p = state.profile;
  if (!p || p.reloadTimer) return;
  p.reloadTimer = setTimeout(() => {
    p.reloadTimer = 0;
    if (state.profile === p) loadProfile(p.id, { quiet: true });
  }, 1200);
}

async function loadProfile(id, { quiet = false } = {}) {
  const token = ++profileToken;
  const res = await request("visitor_profile", { visitor_id: id });
  if (token !== profileToken || !state.profile || state.profile.id !== id) return; // superseded
  if (!res.ok) {
    if (quiet && state.profile.data) return; // keep what we show
    clear(dom.profileBody);
    const retry = el("button", { class: "btn btn-small", text: t("Try again"), attrs: { type: "button" } });
    retry.addEventListener("click", () => loadProfile(id));
    dom.profileBody.appendChild(el("div", { class: "vv-profile-error", attrs: { role: "alert" } }, [
      el("p", { text: res.error.code === "not_found" ? t("This visitor's profile is not available.")
        : ERROR_TEXT[res.error.code] || res.error.message || t("The profile could not be loaded.") }),
      retry,
    ]));
    return;
  }
  state.profile.data = res;
  const scroll = dom.profileBody.scrollTop;
  renderProfile(res);
  dom.profileBody.scrollTop = scroll;
}

function section(title, children) {
  return el("section", { class: "vv-section" }, [el("h3", { class: "vv-section-title", text: title }), ...children]);
}

/** A description list of [term, value] pairs; a term or a value that is a Node is shown as it is
 * (data: a node marked translate="no"), an array of nodes too; empty values are left out. */
function dl(pairs) {
  const list = el("dl", { class: "vv-dl" });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) continue;
    list.appendChild(k instanceof Node ? el("dt", {}, [k]) : el("dt", { text: k }));
    list.appendChild(v instanceof Node ? el("dd", {}, [v]) : Array.isArray(v) ? el("dd", {}, v) : el("dd", { text: v }));
  }
  return list;
}

function link(url, text) {
  const href = safeHttpUrl(url);
  if (!href) return el("span", { class: "vv-url", text: str(text || url), attrs: { translate: "no" } });
  return el("a", { class: "vv-url", text: str(text || url),
                   attrs: { href, target: "_blank", rel: "noopener noreferrer nofollow", translate: "no" } });
}

function valueText(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v);
  } catch (e) {
    return String(v);
  }
}

function activeText(ms) {
  if (typeof ms !== "number" || !isFinite(ms) || ms <= 0) return "";
  return t("{time} active", { time: formatDuration(ms / 1000) });
}

/** Where a visit came from: "Search · google.com · “tent”" (the domain and the keywords are data). */
function refText(v) {
  const type = REFERRER_LABEL[v.referrer_type];
  const domain = str(v.referrer_domain) || hostOf(v.referrer);
  return joined([type || (domain ? t("Referral") : ""), domain ? asData(domain) : null,
                 v.keywords ? asData("\u201c" + str(v.keywords) + "\u201d") : null]);
}

function utmText(utm) {
  if (!utm || typeof utm !== "object") return "";
  const text = Object.keys(utm).filter((k) => utm[k] !== null && utm[k] !== "")
    .map((k) => k.replace(/^utm_/, "") + ": " + valueText(utm[k])).join(" · ");
  return text ? asData(text) : "";
}

function renderProfile(data) {
  const v = data.visitor || {};
  const entry = state.rows.get(v.id);
  const name = str(v.name).trim() || (entry ? entry.name : t("Guest {id}", { id: shortId(v.id) }));
  dom.profileTitle.textContent = name;
  dom.profileTitle.translate = false; // a name is data
  const body = dom.profileBody;
  clear(body);

  const online = !!v.online;
  const current = v.current_page && typeof v.current_page === "object" ? v.current_page : null;
  body.appendChild(el("div", { class: "vv-profile-summary" }, [
    el("p", { class: "vv-presence " + (online ? "is-online" : ""),
              text: online ? t("Online now") : v.last_seen
                ? t("Last seen {time}", { time: formatDateTime(v.last_seen) }) : t("Offline") }),
    dl([
      [t("Visitor id"), v.id ? asData(str(v.id)) : ""],
      [t("E-mail"), v.email ? asData(str(v.email)) : ""],
      [t("Location"), v.country ? countryName(v.country) : t("Unknown")],
      [t("Device"), joined([DEVICE_LABEL[v.device] || str(v.device), v.browser ? asData(str(v.browser)) : null,
                            v.os ? asData(str(v.os)) : null])],
      [t("First seen"), v.first_seen ? formatDateTime(v.first_seen) : ""],
      [t("Visits"), v.visit_count ? formatNumber(v.visit_count) : ""],
      [t("External id"), v.external_id ? asData(str(v.external_id)) : ""],
      [t("Current page"), online && current && current.url ? link(current.url, current.title || current.url) : null],
    ]),
  ]));

  const attributes = v.attributes && typeof v.attributes === "object" ? v.attributes : {};
  const keys = Object.keys(attributes);
  body.appendChild(section(t("Attributes"), keys.length
    ? [dl(keys.map((k) => [asData(k), valueText(attributes[k]) ? asData(valueText(attributes[k])) : ""]))]
    : [el("p", { class: "empty", text: t("No attributes.") })]));

  const visits = Array.isArray(data.visits) ? data.visits : [];
  const trail = el("ol", { class: "vv-visits", attrs: { "aria-label": t("Trail") } });
  for (const visit of visits) {
    const pages = Array.isArray(visit.pages) ? visit.pages : [];
    const start = parseTime(visit.started_at);
    const end = parseTime(visit.last_activity_at);
    const length = tn("{n} page", "{n} pages", pages.length) + (start && end ? " · " + clock(end - start) : "");
    const pageList = el("ol", { class: "vv-pages" });
    for (const p of pages) {
      pageList.appendChild(el("li", { class: "vv-page" }, [
        el("time", { class: "vv-page-time", text: when(p.at), attrs: { datetime: str(p.at) } }),
        el("div", { class: "vv-page-main" }, [
          str(p.title).trim() ? asData(str(p.title).trim(), "vv-page-title")
            : el("span", { class: "vv-page-title", text: t("(untitled page)") }),
          link(p.url),
        ]),
        el("span", { class: "vv-page-active muted", text: activeText(p.active_ms) }),
      ]));
    }
    if (!pages.length) pageList.appendChild(el("li", { class: "empty", text: t("No pages recorded.") }));
    trail.appendChild(el("li", { class: "vv-visit" }, [
      el("h4", { class: "vv-visit-title" }, [
        el("span", { text: visit.number ? t("Visit {n}", { n: formatNumber(visit.number) }) : t("Visit {n}", { n: "?" }) }),
        el("time", { class: "muted", text: formatDateTime(visit.started_at), attrs: { datetime: str(visit.started_at) } }),
        el("span", { class: "muted", text: length }),
      ]),
      dl([
        [t("From"), refText(visit).length ? refText(visit) : visit.referrer ? link(visit.referrer) : t("Direct or unknown")],
        [t("Campaign"), utmText(visit.utm)],
        [t("Location"), visit.country ? countryName(visit.country) : ""],
        [t("Device"), DEVICE_LABEL[visit.device] || str(visit.device)],
      ]),
      pageList,
    ]));
  }
  body.appendChild(section(t("Trail"), visits.length ? [trail] : [el("p", { class: "empty", text: t("No visits recorded.") })]));

  const events = Array.isArray(data.events) ? data.events : [];
  const eventList = el("ul", { class: "vv-events" });
  for (const ev of events) {
    const props = ev.props && typeof ev.props === "object" && Object.keys(ev.props).length ? valueText(ev.props) : "";
    eventList.appendChild(el("li", {}, [
      asData(str(ev.name), "vv-event-name"),
      el("time", { class: "muted", text: formatDateTime(ev.at), attrs: { datetime: str(ev.at) } }),
      props ? el("code", { class: "vv-event-props", text: props, attrs: { translate: "no" } }) : null,
    ]));
  }
  body.appendChild(section(t("Events"), events.length ? [eventList] : [el("p", { class: "empty", text: t("No custom events.") })]));

  // Work orders (the screen pop): the visitor's requests, open ones first.
  const orders = Array.isArray(data.work_orders) ? data.work_orders : [];
  const orderList = el("ul", { class: "vv-orders" });
  for (const o of orders) {
    const a = el("a", { text: str(o.number) + " · " + str(o.subject), attrs: { translate: "no" } });
    a.href = "/work-orders/" + encodeURIComponent(o.id);
    orderList.appendChild(el("li", {}, [a, el("span", { class: "muted",
      text: " — " + (WORK_ORDER_LABEL[o.status] || str(o.status_label)) })]));
  }
  body.appendChild(section(t("Work orders"), orders.length ? [orderList]
    : [el("p", { class: "empty", text: t("No work orders.") })]));

  const chats = Array.isArray(data.conversations) ? data.conversations : [];
  const chatList = el("div", { class: "vv-chats" });
  for (const c of chats) chatList.appendChild(conversationDetails(c));
  body.appendChild(section(t("Conversations"), chats.length ? [chatList]
    : [el("p", { class: "empty", text: t("No earlier conversations.") })]));
}

function conversationDetails(c) {
  const open = state.profile && state.profile.open;
  const started = c.requested_at || c.created_at;
  const rating = c.rating && typeof c.rating === "object" ? c.rating.rating : c.rating;
  const status = CONVERSATION_LABEL[c.status] || str(c.status);
  const summary = joined([formatDateTime(started), status,
                          c.agent_name ? el("span", {}, parts(t("with {name}"), { name: asData(str(c.agent_name)) })) : null,
                          rating ? t("rated {rating}", { rating: RATING_LABEL[rating] || str(rating) }) : null]);
  const details = el("details", { class: "vv-chat" }, [el("summary", {}, summary)]);
  if (open && open.has(c.id)) details.open = true;
  details.addEventListener("toggle", () => {
    if (!open) return;
    if (details.open) open.add(c.id);
    else open.delete(c.id);
  });
  const messages = Array.isArray(c.messages) ? c.messages : [];
  const log = el("div", { class: "vv-transcript" });
  for (const m of messages) {
    const kind = str(m.sender_kind || m.sender).replace(/[^a-z]/g, "");
    const name = str(m.author_name || m.author);
    const author = name ? asData(name)
      : textNode(kind === "visitor" ? t("Visitor") : kind === "system" ? t("System") : t("Agent"));
    log.appendChild(el("article", { class: "msg msg-" + kind }, [
      el("header", { class: "msg-meta" }, [
        el("span", { class: "msg-author" }, kind === "internal" ? [author, textNode(" · " + t("internal"))] : [author]),
        el("time", { class: "msg-time", text: when(m.created_at), attrs: { datetime: str(m.created_at) } }),
      ]),
      el("div", { class: "msg-body", text: str(m.body), attrs: { translate: "no" } }),
    ]));
  }
  if (!messages.length) log.appendChild(el("p", { class: "empty", text: t("No messages.") }));
  details.appendChild(log);
  return details;
}

dom.profileClose.addEventListener("click", closeProfile);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && state.profile && !dom.invite.open && !e.defaultPrevented) {
    e.preventDefault();
    closeProfile();
  }
});

// ---- invite ------------------------------------------------------------------------------

function openInvite(id) {
  const entry = state.rows.get(id);
  if (!entry) return;
  state.inviting = id;
  clear(dom.inviteTitle);
  dom.inviteTitle.append(...parts(t("Invite {name}"), { name: asData(entry.name) }));
  clear(dom.invitePage);
  if (entry.row.title || entry.row.url) {
    dom.invitePage.append(...parts(t("On {page}"), { page: asData(str(entry.row.title) || str(entry.row.url)) }));
  }
  dom.inviteError.textContent = "";
  const s = state.myStatus;
  dom.inviteWarning.hidden = !s || s === "available";
  dom.inviteWarning.textContent = s && s !== "available"
    ? t("You are {status}: the server accepts invitations only from CSRs who are Available.", { status: STATUS_LABEL[s] || s })
    : "";
  dom.inviteSend.disabled = false;
  updateCounter();
  dom.invite.showModal();
  dom.inviteMessage.focus();
}

function updateCounter() {
  const n = charCount(dom.inviteMessage.value);
  dom.inviteCounter.textContent = n ? formatNumber(n) + " / " + formatNumber(MAX_INVITE)
    : t("{n} / {max} · empty: your site's default greeting", { n: formatNumber(0), max: formatNumber(MAX_INVITE) });
}

dom.inviteMessage.addEventListener("input", updateCounter);
dom.inviteCancel.addEventListener("click", () => dom.invite.close());
dom.invite.addEventListener("close", () => {
  const id = state.inviting;
  state.inviting = null;
  const node = id && state.rendered.get(id);
  // Back to the row's Invite button (the row itself once that is disabled); a visitor who left
  // meanwhile leaves the focus to the list.
  if (node) node._c.invite.disabled ? node.focus() : node._c.invite.focus();
  else focusFirst(dom.body.querySelector("[role=row]"), dom.empty, dom.noMatch, dom.search);
});
dom.inviteMessage.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    dom.inviteForm.requestSubmit();
  }
});

dom.inviteForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = state.inviting;
  if (!id) return;
  const message = dom.inviteMessage.value.trim();
  if (charCount(message) > MAX_INVITE) {
    dom.inviteError.textContent = ERROR_TEXT.message_too_long;
    return;
  }
  // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
  if (dom.inviteSend.getAttribute("aria-disabled") === "true") return;
  dom.inviteSend.setAttribute("aria-disabled", "true");
  dom.inviteError.textContent = "";
  const payload = { visitor_id: id };
  if (message) payload.message = message;
  const res = await request("invite", payload);
  dom.inviteSend.removeAttribute("aria-disabled");
  if (state.inviting !== id) return;
  if (!res.ok) {
    dom.inviteError.textContent = ERROR_TEXT[res.error.code] || res.error.message || t("The invitation was not sent.");
    return;
  }
  const entry = state.rows.get(id);
  const inv = res.invitation && typeof res.invitation === "object" ? res.invitation : {};
  if (entry) {
    state.rows.set(id, entryOf({ ...entry.row, invitation: { id: inv.id, state: inv.state || "sent",
                                                              by: meta("switchboard-user-name") || null } }));
    invalidate();
  }
  dom.inviteMessage.value = "";
  dom.invite.close();
  toast(entry ? parts(t("Invitation sent to {name}."), { name: asData(entry.name) }) : t("Invitation sent to the visitor."), "info");
});

// ---- toasts -----------------------------------------------------------------------------

function showError(error) {
  toast((error && (ERROR_TEXT[error.code] || error.message)) || t("Something went wrong."));
}

/** A toast of `text` (or of nodes: a sentence with data in it). */
function toast(text, kind) {
  while (dom.toasts.children.length >= 3) dom.toasts.firstChild.remove();
  const dismiss = el("button", { class: "toast-close", text: "×", attrs: { type: "button", "aria-label": t("Dismiss") } });
  const node = el("div", { class: kind === "info" ? "toast is-info" : "toast" }, [Array.isArray(text) ? el("span", { class: "toast-text" }, text) : el("span", { class: "toast-text", text }), dismiss]);
  dismiss.addEventListener("click", () => node.remove());
  dom.toasts.appendChild(node);
  setTimeout(() => node.remove(), 8000);
}

// ---- test hook (only when the page was loaded with window.__SB_TEST__ set) ----------------

if (window.__SB_TEST__) {
  window.__sbVisitorsTestHook = {
    apply: applyDelta,
    snapshot: applySnapshot,
    /** Render now (as the next animation frame would) and return the timings. */
    flush() {
      if (state.frame) cancelAnimationFrame(state.frame);
      render();
      return { ...stats };
    },
    stats: () => ({ ...stats, rows: state.rows.size, shown: state.view.length, rendered: state.rendered.size }),
  };
}

renderChrome();
