// The supervisors' live board: agents (state, time in state, load), queues (waiting, longest
// wait), chats in progress; monitor a chat live, whisper to its CSR, barge in, take over, and
// force a CSR's state. The server hints `board.changed`; the page re-reads `board` (one read in
// flight at a time) and ticks the clocks locally every second.
import "./supervise.css";
import { connect, request as rawRequest, refusalCode } from "../connection.js";
import { el, clear, meta, newClientId, canFocus, focusFirst, whileBusy, asData, parts, labelled, formatTime as when, toastIn } from "../dom.js";
import { t, formatNumber } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const dom = {
  board: $("board"),
  loading: $("board-loading"),
  conn: $("conn-indicator"),
  queues: $("queues-body"),
  queuesEmpty: $("queues-empty"),
  queuesTable: $("queues-table"),
  agents: $("agents-body"),
  agentsEmpty: $("agents-empty"),
  agentsTable: $("agents-table"),
  chats: $("chats-list"),
  chatsEmpty: $("chats-empty"),
  monitorTitle: $("monitor-title"),
  transcript: $("monitor-transcript"),
  barge: $("barge-button"),
  takeover: $("takeover-button"),
  whisperForm: $("whisper-form"),
  whisperInput: $("whisper-input"),
  whisperButton: $("whisper-button"),
  bargeForm: $("barge-form"),
  bargeInput: $("barge-input"),
  toasts: $("toasts"),
};

const ERROR_TEXT = {
  offline: t("You are offline. Try again when the connection is back."),
  timeout: t("The server did not answer. Try again."),
  forbidden: t("Only supervisors and admins can do this."),
  not_found: t("That chat or CSR no longer exists."),
  invalid_state: t("That chat changed meanwhile."),
  closed: t("This chat is closed."),
  rate_limited: t("Too fast: wait a moment and try again."),
  message_too_long: t("That message is too long."),
};
const STATE_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };
const me = Number(meta("switchboard-user-id"));

const state = {
  board: null,
  boardAt: 0, // client time the board was read (for the local clocks)
  reading: false,
  stale: false,
  monitored: null, // {id, conversation, messages: Map(seq → message), barged}
};

// Data (people's names, queues' names, away reasons, messages) is never translated: it goes in an
// element marked translate="no" (dom.js asData); a translated sentence with data in it is built
// from its parts (dom.js parts, labelled).

/** The server names a visitor without a name "Guest 1a2b" (the end of their id). */
function visitorName(name) {
  const guest = /^Guest (\S{1,8})$/.exec(name || "");
  return guest ? t("Guest {id}", { id: guest[1] }) : name;
}

const socket = connect(meta("switchboard-socket-token"));
const request = (event, payload) => rawRequest(socket, event, payload);

// ---- connection -----------------------------------------------------------

function setConnection(kind) {
  const labels = { connecting: t("Connecting…"), connected: t("Connected"), reconnecting: t("Reconnecting…") };
  dom.conn.textContent = labels[kind] || kind;
  dom.conn.className = "conn conn-" + kind;
}

socket.on("connect", () => {
  setConnection("connected");
  readBoard();
  if (state.monitored) monitor(state.monitored.id, { quiet: true });
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
socket.on("board.changed", () => readBoard());
socket.on("message", (m) => {
  const mon = state.monitored;
  if (!mon || !m || m.conversation_id !== mon.id) return;
  mon.messages.set(m.seq, m);
  renderTranscript();
});
socket.on("conversation.updated", (c) => {
  if (state.monitored && c && c.id === state.monitored.id) {
    state.monitored.conversation = c;
    renderMonitorHeader();
  }
});

// ---- board ----------------------------------------------------------------

async function readBoard() {
  if (state.reading) {
    state.stale = true; // read once more when the current read returns
    return;
  }
  state.reading = true;
  try {
    do {
      state.stale = false;
      const res = await request("board", {});
      if (!res.ok) {
        showError(res.error);
        break;
      }
      state.board = res;
      state.boardAt = Date.now();
      renderBoard();
    } while (state.stale);
  } finally {
    state.reading = false;
  }
}

function agentName(id) {
  const board = state.board;
  const agent = board && board.agents.find((a) => a.id === id);
  return agent ? agent.name : "—";
}

/** "0:45", "12:03", "1:02:03": a wall clock of seconds since the board was read. */
function elapsed(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
  const total = Math.max(0, Math.floor(seconds + (Date.now() - state.boardAt) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
}

// The board is redrawn on every change: the control that had the focus (a Monitor button, a CSR's
// state) gets it back in the new drawing — or, when its chat or CSR is gone, the same control of
// the row now in its place, else the panel's heading — never the page's start (WCAG 2.4.3).
function focusedOnBoard() {
  const had = dom.board.contains(document.activeElement) ? document.activeElement : null;
  const row = had && had.closest("[data-key]");
  if (!row) return null;
  const rows = Array.from(row.parentElement.querySelectorAll("[data-key]"));
  return { list: row.parentElement, key: row.getAttribute("data-key"), index: rows.indexOf(row),
    action: had.getAttribute("data-action") };
}

function refocusBoard(was) {
  if (!was) return;
  const rows = was.list.querySelectorAll("[data-key]");
  const row = was.list.querySelector('[data-key="' + was.key + '"]') || rows[Math.min(was.index, rows.length - 1)];
  const heading = document.getElementById(was.list.getAttribute("aria-labelledby") || "")
    || was.list.closest("section").querySelector("h2");
  if (heading) heading.tabIndex = -1;
  focusFirst(row && row.querySelector('[data-action="' + was.action + '"]'), heading);
}

function renderBoard() {
  const board = state.board;
  if (!board) return;
  const was = focusedOnBoard();
  dom.board.setAttribute("aria-busy", "false");
  dom.loading.hidden = true;

  clear(dom.queues);
  for (const q of board.queues) {
    dom.queues.appendChild(el("tr", {}, [
      q.department_id === null || q.department_id === undefined
        ? el("th", { text: t("General"), attrs: { scope: "row" } })
        : el("th", { text: q.name, attrs: { scope: "row", translate: "no" } }),
      el("td", { text: formatNumber(q.waiting) }),
      el("td", { class: "clock", text: elapsed(q.longest_wait_seconds), attrs: { "data-seconds": q.longest_wait_seconds } }),
    ]));
  }
  dom.queuesEmpty.hidden = board.queues.length > 0;
  dom.queuesTable.hidden = board.queues.length === 0;

  clear(dom.agents);
  for (const a of board.agents) {
    const select = el("select", { attrs: { "data-action": "state" } },
      ["available", "away", "offline"].map(
        (s) => el("option", { text: STATE_LABEL[s], attrs: { value: s, selected: s === a.status } }),
      ));
    select.addEventListener("change", () => whileBusy(select, async () => {
      const res = await request("force_status", { user_id: a.id, status: select.value });
      if (!res.ok) {
        showError(res.error);
        select.value = a.status;
      }
    }));
    const stateText = [document.createTextNode(STATE_LABEL[a.status] || a.status)];
    if (a.reason) stateText.push(document.createTextNode(" · "), asData(a.reason));
    dom.agents.appendChild(el("tr", { attrs: { "data-agent": a.id, "data-key": "agent-" + a.id } }, [
      el("th", { text: a.name, attrs: { scope: "row", translate: "no" } }),
      el("td", {}, [el("span", { class: "state state-" + a.status }, stateText)]),
      el("td", { class: "clock", text: elapsed(a.seconds_in_state), attrs: { "data-seconds": a.seconds_in_state } }),
      el("td", { text: formatNumber(a.load) + " / " + formatNumber(a.capacity) }),
      el("td", {}, [select, labelled(select, t("Set state for {name}"), { name: asData(a.name) })]),
    ]));
  }
  dom.agentsEmpty.hidden = board.agents.length > 0;
  dom.agentsTable.hidden = board.agents.length === 0;

  clear(dom.chats);
  for (const c of board.chats) {
    const watched = !!state.monitored && state.monitored.id === c.id;
    // The button's name begins with its visible text (WCAG 2.5.3) and stays the same while pressed:
    // "Monitoring" is said by the pressed state and shown beside it.
    const button = el("button", {
      class: "btn btn-small" + (watched ? " btn-primary" : ""),
      text: t("Monitor"),
      attrs: { type: "button", "aria-pressed": watched ? "true" : "false", "data-action": "monitor" },
    });
    button.addEventListener("click", () => monitor(c.id));
    dom.chats.appendChild(el("li", { class: "sv-chat", attrs: { "data-key": "chat-" + c.id } }, [
      asData(visitorName(c.visitor_name), "sv-chat-visitor"),
      el("span", { class: "sv-chat-agent" }, parts(t("with {name}"), { name: asData(agentName(c.agent_id)) })),
      el("time", { class: "sv-chat-since", text: t("since {time}", { time: when(c.assigned_at) }),
                   attrs: { datetime: c.assigned_at } }),
      el("span", { class: "sv-chat-actions" }, [
        watched ? el("span", { class: "sv-chat-watched", text: t("Monitoring"), attrs: { "aria-hidden": "true" } }) : null,
        button,
        labelled(button, t("Monitor chat with {name}"), { name: asData(visitorName(c.visitor_name)) }),
      ]),
    ]));
  }
  dom.chatsEmpty.hidden = board.chats.length > 0;
  refocusBoard(was);
}

// The clocks move every second without asking the server.
setInterval(() => {
  for (const cell of document.querySelectorAll("td.clock[data-seconds]")) {
    const seconds = Number(cell.getAttribute("data-seconds"));
    if (!isNaN(seconds)) cell.textContent = elapsed(seconds);
  }
}, 1000);

// ---- monitoring -----------------------------------------------------------

async function monitor(conversationId, { quiet = false } = {}) {
  const res = await request("monitor", { conversation_id: conversationId });
  if (!res.ok) {
    if (!quiet) showError(res.error);
    return;
  }
  const previous = state.monitored && state.monitored.id === conversationId ? state.monitored : null;
  state.monitored = {
    id: conversationId,
    conversation: res.conversation,
    visitor: res.visitor,
    messages: new Map(res.messages.map((m) => [m.seq, m])),
    barged: previous ? previous.barged : false,
  };
  renderMonitorHeader();
  renderTranscript();
  renderBoard();
}

function renderMonitorHeader() {
  const mon = state.monitored;
  if (!mon) return;
  const had = document.activeElement;
  const c = mon.conversation;
  const inProgress = c.status === "assigned";
  clear(dom.monitorTitle);
  dom.monitorTitle.append(asData(visitorName(c.visitor_name)), " · ",
    ...(inProgress ? parts(t("with {name}"), { name: asData(agentName(c.agent_id)) }) : [t("closed")]));
  const mine = c.agent_id === me;
  dom.barge.disabled = !inProgress || mine || mon.barged;
  dom.takeover.disabled = !inProgress || mine;
  dom.whisperInput.disabled = !inProgress;
  dom.whisperButton.disabled = !inProgress;
  dom.bargeForm.hidden = !(inProgress && mon.barged);
  // A button that no longer applies (Barge in once in, Take over once taken) hands the focus to the
  // monitored chat's title.
  if (had && had !== document.body && !canFocus(had) && had.closest(".sv-monitor")) {
    dom.monitorTitle.tabIndex = -1;
    dom.monitorTitle.focus();
  }
}

/** Who wrote `m`: their name (data), else what they are. */
function senderLabel(m) {
  if (m.sender === "system") return [document.createTextNode(t("System"))];
  const fallback = { visitor: t("Visitor"), internal: t("Staff") }[m.sender] || t("Agent");
  const author = m.author ? asData(m.sender === "visitor" ? visitorName(m.author) : m.author) : document.createTextNode(fallback);
  return m.sender === "internal" ? [author, document.createTextNode(" · " + t("internal"))] : [author];
}

function renderTranscript() {
  const mon = state.monitored;
  clear(dom.transcript);
  if (!mon) return;
  const seqs = Array.from(mon.messages.keys()).sort((a, b) => a - b);
  if (seqs.length === 0) dom.transcript.appendChild(el("p", { class: "empty", text: t("No messages yet.") }));
  for (const seq of seqs) {
    const m = mon.messages.get(seq);
    dom.transcript.appendChild(el("article", { class: "msg msg-" + String(m.sender).replace(/[^a-z]/g, "") }, [
      el("header", { class: "msg-meta" }, [
        el("span", { class: "msg-author" }, senderLabel(m)),
        el("time", { class: "msg-time", text: when(m.created_at), attrs: { datetime: m.created_at } }),
      ]),
      el("div", { class: "msg-body", text: m.body, attrs: { translate: "no" } }),
    ]));
  }
  dom.transcript.scrollTop = dom.transcript.scrollHeight;
}

async function sendFrom(input, event, extra) {
  const mon = state.monitored;
  const body = input.value.trim();
  if (!mon || !body || input.readOnly) return;
  // Read-only while it goes (not disabled: the box keeps the focus).
  input.readOnly = true;
  const res = await request(event, { conversation_id: mon.id, client_id: newClientId(), body, ...extra });
  input.readOnly = false;
  if (!res.ok) {
    showError(res.error);
    return;
  }
  input.value = "";
  input.focus();
}

function submitOnEnter(input, form) {
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

dom.whisperForm.addEventListener("submit", (e) => {
  e.preventDefault();
  sendFrom(dom.whisperInput, "whisper");
});
dom.bargeForm.addEventListener("submit", (e) => {
  e.preventDefault();
  sendFrom(dom.bargeInput, "message");
});
submitOnEnter(dom.whisperInput, dom.whisperForm);
submitOnEnter(dom.bargeInput, dom.bargeForm);

dom.barge.addEventListener("click", () => {
  const mon = state.monitored;
  if (!mon) return;
  whileBusy(dom.barge, async () => {
    const res = await request("barge", { conversation_id: mon.id });
    if (!res.ok) {
      showError(res.error);
      renderMonitorHeader();
      return;
    }
    mon.barged = true;
    dom.bargeForm.hidden = false;
    dom.bargeInput.focus();
    renderMonitorHeader();
  });
});

dom.takeover.addEventListener("click", () => {
  const mon = state.monitored;
  if (!mon) return;
  if (!window.confirm(t("Take this chat over? It moves to your console and its CSR can no longer reply."))) return;
  whileBusy(dom.takeover, async () => {
    const res = await request("take_over", { conversation_id: mon.id });
    if (!res.ok) {
      showError(res.error);
      renderMonitorHeader();
      return;
    }
    toast(t("The chat is yours: it is in your console."), { link: { href: "/console", text: t("Open the console") } });
    await monitor(mon.id, { quiet: true });
  });
});

// ---- toasts ---------------------------------------------------------------

function showError(error) {
  toast((error && (ERROR_TEXT[error.code] || error.message)) || t("Something went wrong."));
}

function toast(text, options = {}) {
  toastIn(dom.toasts, text, { ms: 8000, ...options });
}
