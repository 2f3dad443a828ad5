// The wallboard: today's service level, queue lengths, the longest wait, agents by state with
// their load and the chats in progress, for a wall screen. The server hints `board.changed`;
// the page re-reads `wallboard` (one read in flight at a time, at most one a second, bursts
// coalesced into one read) and moves the clocks locally every second. Every server-provided
// string goes through textContent.
import "./wallboard.css";
import { connect, request as rawRequest, refusalCode } from "../connection.js";
import { el, clear, meta, asData, parts } from "../dom.js";
import { t, tn, formatNumber, formatPercent, formatDate, formatTime } from "../i18n.js";

const MIN_GAP_MS = 1000; // at most one read a second, however many changes arrive
const SAFETY_REFRESH_MS = 60000; // also re-read now and then: the day rolls over at midnight

const $ = (id) => document.getElementById(id);
const dom = {
  root: $("wallboard"),
  loading: $("wb-loading"),
  conn: $("wb-conn"),
  banner: $("wb-banner"),
  date: $("wb-date"),
  clock: $("wb-clock"),
  sl: $("sl-value"),
  slSub: $("sl-sub"),
  slTile: $("tile-sl"),
  waiting: $("waiting-value"),
  waitingSub: $("waiting-sub"),
  longest: $("longest-value"),
  longestSub: $("longest-sub"),
  longestTile: $("tile-longest"),
  progress: $("progress-value"),
  progressSub: $("progress-sub"),
  answered: $("answered-value"),
  answeredSub: $("answered-sub"),
  abandoned: $("abandoned-value"),
  abandonedSub: $("abandoned-sub"),
  asa: $("asa-value"),
  queues: $("wb-queues"),
  queuesEmpty: $("wb-queues-empty"),
  agents: $("wb-agents"),
  agentsEmpty: $("wb-agents-empty"),
  chats: $("wb-chats"),
  chatsEmpty: $("wb-chats-empty"),
  countAvailable: $("count-available"),
  countAway: $("count-away"),
  countOffline: $("count-offline"),
};

const STATE_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };
const STATE_ORDER = { available: 0, away: 1, offline: 2 };
const ERROR_TEXT = {
  forbidden: t("The wallboard is for supervisors and admins."),
  timeout: t("The server did not answer; retrying."),
  internal: t("The server could not read the figures; retrying."),
};

// The date and the clock of the center's time zone, in the page's language.
const zone = meta("switchboard-time-zone") || undefined;
function inZone(format, options) {
  return (value) => {
    try {
      return format(value, { ...options, timeZone: zone });
    } catch (e) {
      return format(value, options); // an unknown zone name: the screen's own
    }
  };
}
const dateFmt = { format: inZone(formatDate, { weekday: "long", day: "numeric", month: "long" }) };
const clockFmt = { format: inZone(formatTime, { hour: "2-digit", minute: "2-digit" }) };

// Data (people's and queues' names) is never translated: it goes in an element marked translate="no".

/** The server names a visitor without a name "Guest 1a2b" (the end of their id). */
function visitorName(name) {
  const guest = /^Guest (\S{1,8})$/.exec(name || "");
  return guest ? t("Guest {id}", { id: guest[1] }) : name;
}

const state = {
  data: null,
  readAt: 0, // client time of the last successful read, for the local clocks
  reading: false,
  again: false,
  lastStart: 0,
  timer: null,
};

const socket = connect(meta("switchboard-socket-token"));

// ---- connection -----------------------------------------------------------

function setConnection(kind) {
  const labels = { connecting: t("Connecting…"), connected: t("Live"), reconnecting: t("Reconnecting…") };
  dom.conn.textContent = labels[kind] || kind;
  dom.conn.className = "wb-conn wb-conn-" + kind;
  dom.root.classList.toggle("wb-stale", kind === "reconnecting");
  if (kind === "reconnecting") showBanner(t("Reconnecting… the figures may be out of date."));
  else showBanner(null);
}

function showBanner(text) {
  dom.banner.hidden = !text;
  dom.banner.textContent = text || "";
}

socket.on("connect", () => {
  setConnection("connected");
  scheduleRead();
});
socket.on("disconnect", () => setConnection("reconnecting"));
socket.on("connect_error", (err) => {
  const code = refusalCode(err);
  if (code === "unauthorized" || code === "token_expired" || code === "invalid_token") {
    window.location.reload(); // a fresh page render issues a new token, or sends us to sign in
    return;
  }
  setConnection("reconnecting");
  if (!socket.active) setTimeout(() => socket.connect(), 3000);
});
socket.on("board.changed", () => scheduleRead());

// ---- reading --------------------------------------------------------------

/** Ask for a read: runs at most one at a time and one per MIN_GAP_MS; bursts become one read. */
function scheduleRead(delay) {
  if (state.reading) {
    state.again = true;
    return;
  }
  if (state.timer !== null) return;
  const wait = Math.max(delay || 0, state.lastStart + MIN_GAP_MS - Date.now(), 0);
  state.timer = setTimeout(() => {
    state.timer = null;
    read();
  }, wait);
}

async function read() {
  state.reading = true;
  state.again = false;
  state.lastStart = Date.now();
  const res = await rawRequest(socket, "wallboard", {});
  state.reading = false;
  if (res.ok) {
    state.data = res;
    state.readAt = Date.now();
    if (socket.connected) showBanner(null);
    render();
  } else if (res.error.code === "offline") {
    return; // the connect handler reads again
  } else if (res.error.code === "rate_limited") {
    scheduleRead((res.error.retry_after || 1) * 1000);
    return;
  } else {
    showBanner(ERROR_TEXT[res.error.code] || res.error.message || t("Something went wrong."));
    if (res.error.code !== "forbidden") scheduleRead(5000);
    return;
  }
  if (state.again) scheduleRead();
}

setInterval(() => {
  if (socket.connected) scheduleRead();
}, SAFETY_REFRESH_MS);

// ---- formatting -----------------------------------------------------------

/** "0:45", "12:03", "1:02:03". */
function clockText(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
}

/** Seconds as of now: a figure read `readAt` plus the time since. */
function sinceRead(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return null;
  return seconds + (Date.now() - state.readAt) / 1000;
}

function percent(value) {
  return typeof value === "number" && isFinite(value) ? formatPercent(value, 0) : "—";
}

/** A threshold in seconds: "20 s" (a tenth at most). */
function secondsText(value) {
  return t("{s} s", { s: formatNumber(Number(value), { maximumFractionDigits: 1 }) });
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// ---- rendering ------------------------------------------------------------

function render() {
  const data = state.data;
  if (!data) return;
  dom.root.setAttribute("aria-busy", "false");
  dom.loading.hidden = true;
  renderTiles(data);
  renderQueues(data.queues, data.today.departments || []);
  renderAgents(data.agents);
  renderChats(data.chats, data.agents);
  tick();
  fitLists();
}

function renderTiles(data) {
  const today = data.today;
  const threshold = secondsText(today.threshold_seconds);
  setText(dom.sl, percent(today.service_level));
  setText(
    dom.slSub,
    !today.offered ? t("No chats yet today · answer within {threshold}", { threshold })
      // Departments with their own thresholds: each chat was held to its queue's.
      : today.thresholds_vary
        ? t("{answered} of {offered} chats answered within their queue's threshold", {
          answered: formatNumber(today.answered_within_threshold), offered: formatNumber(today.offered) })
        : t("{answered} of {offered} chats answered within {threshold}", {
          answered: formatNumber(today.answered_within_threshold), offered: formatNumber(today.offered), threshold }),
  );
  dom.slTile.dataset.level =
    today.service_level === null ? "none" : today.service_level >= 0.8 ? "good" : today.service_level >= 0.6 ? "fair" : "poor";

  const waiting = data.queues.reduce((sum, q) => sum + q.waiting, 0);
  setText(dom.waiting, formatNumber(waiting));
  setText(dom.waitingSub, waiting ? tn("in {n} queue", "in {n} queues", data.queues.length) : t("No one is waiting"));
  dom.waiting.closest(".wb-tile").dataset.level = waiting ? "fair" : "none";

  const available = data.agents.filter((a) => a.status === "available");
  const free = available.reduce((sum, a) => sum + Math.max(0, a.capacity - a.load), 0);
  setText(dom.progress, formatNumber(data.chats.length));
  setText(dom.progressSub, tn("{n} free slot", "{n} free slots", free));

  setText(dom.answered, formatNumber(today.answered));
  setText(dom.answeredSub, t("of {offered} offered today", { offered: formatNumber(today.offered) }));
  setText(dom.abandoned, formatNumber(today.abandoned));
  setText(dom.abandonedSub, today.offered
    ? t("{percent} of offered today", { percent: percent(today.abandonment_rate) }) : t("Today"));
  dom.abandoned.closest(".wb-tile").dataset.level = today.abandoned ? "fair" : "none";
  setText(dom.asa, clockText(today.asa_seconds));
}

/** The longest wait over all queues, as of now (null: no one waits). */
function longestWait() {
  const data = state.data;
  let longest = null;
  for (const q of data ? data.queues : []) {
    const s = sinceRead(q.longest_wait_seconds);
    if (s !== null && (longest === null || s > longest)) longest = s;
  }
  return longest;
}

function renderQueues(queues, departments) {
  clear(dom.queues);
  for (const q of queues) {
    // Today's service level of this queue, by its own threshold (as in the reports).
    const today = departments.find((d) => (d.department_id ?? null) === (q.department_id ?? null));
    const sl = today && today.service_level !== null
      ? [el("span", { class: "wb-row-figure wb-row-sl", text: t("SL {percent}", { percent: percent(today.service_level) }) })]
      : [];
    dom.queues.appendChild(
      el("li", { class: "wb-row", attrs: { "data-queue": q.department_id === null ? "general" : q.department_id } }, [
        q.department_id === null || q.department_id === undefined
          ? el("span", { class: "wb-row-name", text: t("General") }) : asData(q.name, "wb-row-name"),
        el("span", { class: "wb-row-figure", text: t("{n} waiting", { n: formatNumber(q.waiting) }) }),
        ...sl,
        el("span", { class: "wb-row-clock", text: "", attrs: { "data-seconds": q.longest_wait_seconds } }),
      ]),
    );
  }
  dom.queuesEmpty.hidden = queues.length > 0;
  dom.queues.hidden = queues.length === 0;
}

function renderAgents(agents) {
  const counts = { available: 0, away: 0, offline: 0 };
  for (const a of agents) counts[a.status] = (counts[a.status] || 0) + 1;
  setText(dom.countAvailable, formatNumber(counts.available));
  setText(dom.countAway, formatNumber(counts.away));
  setText(dom.countOffline, formatNumber(counts.offline));

  // Working agents first (by state, then the busiest); offline agents only when they still hold chats,
  // the rest are counted above.
  const shown = agents
    .filter((a) => a.status !== "offline" || a.load > 0)
    .sort((a, b) => (STATE_ORDER[a.status] ?? 3) - (STATE_ORDER[b.status] ?? 3) || b.load - a.load || a.name.localeCompare(b.name));
  clear(dom.agents);
  for (const a of shown) {
    const full = a.load >= a.capacity;
    dom.agents.appendChild(
      el("li", { class: "wb-row wb-agent wb-state-" + a.status, attrs: { "data-agent": a.id } }, [
        asData(a.name, "wb-row-name"),
        el("span", { class: "wb-state", text: STATE_LABEL[a.status] || a.status }),
        el("span", { class: "wb-load" + (full ? " wb-load-full" : ""), text: formatNumber(a.load) + " / " + formatNumber(a.capacity),
                     attrs: { title: t("{load} of {capacity} chats", { load: formatNumber(a.load), capacity: formatNumber(a.capacity) }) } }),
      ]),
    );
  }
  dom.agentsEmpty.hidden = shown.length > 0;
  dom.agentsEmpty.textContent = agents.length ? t("No one is signed in.") : t("No CSRs yet.");
  dom.agents.hidden = shown.length === 0;
}

function renderChats(chats, agents) {
  const names = new Map(agents.map((a) => [a.id, a.name]));
  clear(dom.chats);
  // Longest-running first.
  for (const c of chats) {
    const since = Date.parse(c.assigned_at);
    const seconds = isNaN(since) ? null : (state.readAt - since) / 1000; // as of the read, like the queues
    dom.chats.appendChild(
      el("li", { class: "wb-row wb-chat", attrs: { "data-chat": c.id } }, [
        asData(visitorName(c.visitor_name), "wb-row-name"),
        el("span", { class: "wb-chat-agent" }, parts(t("with {name}"), { name: asData(names.get(c.agent_id) || "—") })),
        el("span", { class: "wb-row-clock", attrs: { "data-seconds": seconds === null ? "" : seconds } }),
      ]),
    );
  }
  dom.chatsEmpty.hidden = chats.length > 0;
  dom.chats.hidden = chats.length === 0;
}

/** Lists never scroll: rows that do not fit make way for a "+N more" line. */
function fitLists() {
  for (const list of [dom.queues, dom.agents, dom.chats]) {
    for (const extra of list.querySelectorAll(".wb-more")) extra.remove();
    for (const row of list.children) row.hidden = false;
    if (list.hidden || list.scrollHeight <= list.clientHeight) continue;
    const rows = Array.from(list.children);
    let hidden = 0;
    const more = el("li", { class: "wb-row wb-more" });
    list.appendChild(more);
    while (list.scrollHeight > list.clientHeight && hidden < rows.length) {
      hidden += 1;
      rows[rows.length - hidden].hidden = true;
      more.textContent = t("+{n} more", { n: formatNumber(hidden) });
    }
  }
}
window.addEventListener("resize", fitLists);

// ---- clocks ---------------------------------------------------------------

function tick() {
  const now = new Date();
  setText(dom.date, dateFmt.format(now));
  setText(dom.clock, clockFmt.format(now));
  if (!state.data) return;
  const longest = longestWait();
  setText(dom.longest, longest === null ? "—" : clockText(longest));
  const threshold = state.data.today.threshold_seconds;
  setText(dom.longestSub, longest === null ? t("No one is waiting")
    : longest > threshold ? t("Over {threshold}", { threshold: secondsText(threshold) })
      : t("Within {threshold}", { threshold: secondsText(threshold) }));
  dom.longestTile.dataset.level = longest === null ? "none" : longest > threshold ? "poor" : "fair";
  for (const cell of document.querySelectorAll(".wb-row-clock[data-seconds]")) {
    const raw = cell.getAttribute("data-seconds");
    setText(cell, raw === "" ? "—" : clockText(sinceRead(Number(raw))));
  }
}

setInterval(tick, 1000);
tick();
