// Switchboard agent console. Implements the `/agent` namespace of docs/protocol.md.
//
// Rendering rule: every string that comes from the server is put into the page with
// textContent (through `el(tag, {text})`), never parsed as markup.

import { openTransferDialog } from "./transfer.js";
import { openWorkOrderDialog, visitorOrders } from "./workorder_dialog.js";
import { askCategory } from "./close_dialog.js";
import { openFlagDialog } from "./flag_review.js";
import { connect, request as rawRequest, refusalCode } from "./connection.js";
import { Outbox } from "./outbox.js";
import { playChime, unlockAudioOnGesture } from "./chime.js";
import { initQueue } from "./queue.js";
import { initNotes } from "./notes.js";
import { consoleApi } from "./extensions.js";
import { initKnowledgePanel } from "./knowledge_panel.js";
import { initCanned } from "./canned.js";
import { initOrderNotices } from "./order_notices.js";
import { STATUS_LABELS as ORDER_STATUS_LABELS } from "./work_orders.js";
import { t, tn, formatNumber } from "./i18n.js";
import {
  el,
  clear,
  meta,
  parseTime,
  formatShort,
  formatTime,
  formatDate,
  formatDateTime,
  countryName,
  newClientId,
  safeHttpUrl,
  charCount,
  preview,
  canFocus,
  focusFirst,
  whileBusy,
  toastIn,
} from "./dom.js";

const MAX_BODY_CHARS = 5000;
const TYPING_THROTTLE_MS = 2000;
const TYPING_IDLE_MS = 3000;
const VISITOR_TYPING_TIMEOUT_MS = 15000;
const TOAST_MS = 7000;
const RELOAD_GUARD_MS = 60000;
const STATUS_LABELS = { available: t("Available"), away: t("Away"), offline: t("Offline") };
// Away reasons the server gives by itself (a CSR's own reasons come with the page, translated there).
const SYSTEM_REASON_LABELS = { disconnected: t("disconnected"), "missed offers": t("missed offers") };
const RATING_LABELS = { good: t("Good"), neutral: t("Neutral"), bad: t("Bad") };
// The kinds of device app/tracking/useragent.py tells apart.
const DEVICE_LABELS = { desktop: t("desktop"), mobile: t("mobile"), tablet: t("tablet"), bot: t("bot"), other: t("other") };

const ERROR_TEXT = {
  bad_request: t("The server could not understand that request."),
  too_large: t("That message is too long (5,000 characters at most)."),
  not_found: t("That chat is no longer available to you."),
  forbidden: t("You are not allowed to do that."),
  closed: t("This chat is closed."),
  rate_limited: t("You are sending too fast. Please wait a moment."),
  invalid_state: t("That is not possible right now."),
  unavailable: t("That person cannot take the chat right now."),
  internal: t("Something went wrong on the server. Please try again."),
  timeout: t("The server did not answer in time."),
  offline: t("Not connected to the server."),
};

/** How long a visitor has waited for an answer: "Waiting just now", "Waiting 4 min", "Waiting 1 h 20 min". */
function waitingFor(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return t("Waiting just now");
  if (minutes < 60) return t("Waiting {m} min", { m: formatNumber(minutes) });
  const h = formatNumber(Math.floor(minutes / 60));
  const m = minutes % 60;
  return m ? t("Waiting {h} h {m} min", { h, m: formatNumber(m) }) : t("Waiting {h} h", { h });
}


// ---------------------------------------------------------------------------
// Identity and state
// ---------------------------------------------------------------------------

const me = {
  id: parseInt(meta("switchboard-user-id"), 10) || null,
  name: meta("switchboard-user-name") || t("You"),
  role: meta("switchboard-user-role") || "agent",
};

/**
 * @typedef {Object} Chat
 * @property {number} id
 * @property {Object} conv          latest AgentConversation
 * @property {Map<number, Object>} messages  by seq (only meaningful when loaded)
 * @property {boolean} loaded
 * @property {boolean} loading
 * @property {boolean} syncing
 * @property {Object|null} visitor
 * @property {Array} past
 * @property {number} unread
 * @property {boolean} visitorTyping
 * @property {any} visitorTypingTimer
 * @property {string} draft
 * @property {Set<number>} openPast  ids of expanded previous conversations
 */

const state = {
  status: null, // last status the server told us
  connected: false,
  listLoading: false,
  listLoaded: false, // the first `list` has answered
  /** @type {Map<number, Chat>} */
  chats: new Map(),
  /** @type {number[]} ids, top first */
  order: [],
  selectedId: null,
  closing: new Set(),
};

const outbox = new Outbox(me.id);
const pumping = new Set();
const retryTimers = new Map();
const gapTimers = new Map();

// ---------------------------------------------------------------------------
// DOM references
// ---------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const dom = {
  app: $("app"),
  conn: $("conn-indicator"),
  status: $("status-select"),
  chatsLoading: $("chats-loading"),
  chatList: $("chat-list"),
  chatsEmpty: $("chats-empty"),
  title: $("conversation-title"),
  convState: $("conversation-state"),
  closeBtn: $("close-button"),
  transferBtn: $("transfer-button"),
  createOrderBtn: $("create-order-button"),
  flagBtn: $("flag-button"), // supervisors and admins only (absent for a CSR)
  dismissBtn: $("dismiss-button"),
  leaveBtn: $("leave-button"),
  transcript: $("transcript"),
  typing: $("typing-indicator"),
  composer: $("composer"),
  reply: $("reply"),
  send: $("send-button"),
  visitorBody: $("visitor-body"),
  toasts: $("toasts"),
};

// ---------------------------------------------------------------------------
// Socket
// ---------------------------------------------------------------------------

const socket = connect(meta("switchboard-socket-token"));
const request = (event, payload, timeoutMs) => rawRequest(socket, event, payload, timeoutMs);
initQueue({ socket, request, showError: (e) => showError(e), toast: (t) => toast(t), chime: () => playChime(),
  focusFallback: () => focusFallback() });
initNotes({ socket, request, showError: (e) => showError(e) });
consoleApi.reply = dom.reply;
consoleApi.current = () => chatSummary(selectedChat());
initKnowledgePanel({ api: consoleApi, showError: (e) => showError(e), toast: (t, o) => toast(t, o) });
initCanned({ api: consoleApi, showError: (e) => showError(e), toast: (t, o) => toast(t, o) });
initOrderNotices({ socket, toast: (t, o) => toast(t, o), pageVisible: () => pageVisible() });

let awaitingStatus = false;
// python-socketio emits `status` from its connect handler, i.e. before the CONNECT
// packet; socket.io-client then delivers it just *before* the "connect" event.
let statusSinceConnect = false;
let statusFallbackTimer = null;
let manualReconnectTimer = null;
let manualReconnectDelay = 2000;
let resyncGeneration = 0;

socket.on("connect", () => {
  state.connected = true;
  manualReconnectDelay = 2000;
  refusals = 0;
  clearReloadGuard();
  setConnection("connected");
  dom.status.disabled = false;
  // The server emits `status` on connect; recovery starts once it has arrived.
  clearTimeout(statusFallbackTimer);
  if (statusSinceConnect) {
    awaitingStatus = false;
    resync();
    renderConversation();
    return;
  }
  awaitingStatus = true;
  statusFallbackTimer = setTimeout(() => {
    if (awaitingStatus && socket.connected) {
      awaitingStatus = false;
      resync();
    }
  }, 3000);
  renderConversation();
});

socket.on("disconnect", (reason) => {
  state.connected = false;
  awaitingStatus = false;
  statusSinceConnect = false;
  clearTimeout(statusFallbackTimer);
  setConnection("reconnecting");
  dom.status.disabled = true;
  for (const chat of state.chats.values()) setVisitorTyping(chat, false, true);
  for (const entry of outbox.entries) if (entry.state === "sending") entry.state = "queued";
  // After a server-side disconnect socket.io-client does not reconnect by itself.
  if (reason === "io server disconnect") scheduleManualReconnect();
  renderList();
  renderConversation();
});

// Refusals in a row despite a fresh token (reset on connect).
let refusals = 0;
socket.tokens.onEnded = sessionEnded;

socket.on("connect_error", (err) => {
  const code = refusalCode(err);
  if (code === "unauthorized" || code === "token_expired" || code === "invalid_token") {
    // Ask for a fresh token: the answer also says whether the session is still alive.
    socket.tokens.renew().then(
      (token) => {
        if (!token) return; // the session has ended (sessionEnded has run)
        refusals += 1;
        if (refusals > 3) reloadOnce();
        else scheduleManualReconnect();
      },
      () => {
        setConnection("reconnecting");
        scheduleManualReconnect();
      },
    );
    return;
  }
  setConnection("reconnecting");
  // Refusals by the server stop the automatic reconnection; transport errors do not.
  if (!socket.active) scheduleManualReconnect();
});

function scheduleManualReconnect() {
  clearTimeout(manualReconnectTimer);
  manualReconnectTimer = setTimeout(() => {
    if (!socket.connected) socket.connect();
  }, manualReconnectDelay);
  manualReconnectDelay = Math.min(manualReconnectDelay * 2, 30000);
}

socket.on("status", (payload) => {
  if (payload && typeof payload.status === "string") applyStatus(payload.status, payload.reason);
  statusSinceConnect = true;
  if (awaitingStatus) {
    awaitingStatus = false;
    clearTimeout(statusFallbackTimer);
    resync();
  }
});

socket.on("conversation.assigned", (conv) => {
  if (!isConversation(conv)) return;
  const existed = state.chats.has(conv.id);
  const wasReadOnly = existed && isReadOnly(state.chats.get(conv.id));
  const chat = upsertConversation(conv, { top: true });
  if (!existed || wasReadOnly) {
    playChime();
    notifyNewChat(chat);
  }
  renderList();
  if (chat.id === state.selectedId) renderConversation();
  if (state.selectedId === null) selectChat(chat.id);
});

socket.on("conversation.updated", (conv) => {
  if (!isConversation(conv)) return;
  const known = state.chats.has(conv.id);
  if (!known) {
    // A chat we did not know about (e.g. assigned while the event was missed).
    if (conv.status === "closed" || (me.id !== null && conv.agent_id !== me.id)) return;
  }
  const chat = upsertConversation(conv, { top: !known });
  if (chat.conv.status === "closed") {
    setVisitorTyping(chat, false, true);
    if (chat.id === state.selectedId) stopTyping();
  }
  renderList();
  if (chat.id === state.selectedId) renderConversation();
});

socket.on("conversation.rated", (payload) => {
  const chat = payload && state.chats.get(payload.conversation_id);
  if (!chat || typeof payload.rating !== "string") return;
  chat.conv.rating = { rating: payload.rating, comment: payload.comment || null, at: payload.at || null };
  if (chat.id === state.selectedId) renderConversation();
});

socket.on("message", (msg) => {
  if (!isMessage(msg)) return;
  const chat = state.chats.get(msg.conversation_id);
  if (!chat) {
    // A conversation we do not hold yet: refresh the list.
    scheduleListRefresh();
    return;
  }
  const added = receiveMessages(chat, [msg]);
  if (added.length) {
    const fromOthers = added.filter((m) => m.sender !== "agent");
    if (fromOthers.length) {
      if (chat.id === state.selectedId && pageVisible()) markRead(chat);
      else chat.unread += fromOthers.length;
    }
  }
  if (msg.sender === "visitor") setVisitorTyping(chat, false, true);
  checkGap(chat);
  renderList();
  if (chat.id === state.selectedId) renderConversation();
  if (added.length) consoleApi.emit("message", chatSummary(chat), msg);
});

socket.on("typing", (payload) => {
  if (!payload || !Number.isInteger(payload.conversation_id)) return;
  const chat = state.chats.get(payload.conversation_id);
  if (!chat) return;
  setVisitorTyping(chat, !!payload.typing);
});

socket.on("read", (payload) => {
  if (!payload || !Number.isInteger(payload.conversation_id) || !Number.isInteger(payload.seq)) return;
  const chat = state.chats.get(payload.conversation_id);
  if (!chat) return;
  chat.conv.visitor_read_seq = Math.max(chat.conv.visitor_read_seq || 0, payload.seq);
  if (chat.id === state.selectedId) renderTranscript(chat);
});

socket.on("visitor.page", (payload) => {
  if (!payload || typeof payload.visitor_id !== "string") return;
  const page = {
    url: typeof payload.url === "string" ? payload.url : "",
    title: typeof payload.title === "string" ? payload.title : "",
  };
  for (const chat of state.chats.values()) {
    if (chat.conv.visitor_id !== payload.visitor_id) continue;
    if (chat.visitor) {
      chat.visitor.current_page = page;
      chat.visitor.online = true;
    }
    if (chat.id === state.selectedId) renderCurrentPage(chat);
  }
});

// ---------------------------------------------------------------------------
// Recovery: list → sync → resend outbox (docs/protocol.md, "Recovery, end to end")
// ---------------------------------------------------------------------------

async function resync() {
  const generation = ++resyncGeneration;
  const firstLoad = state.order.length === 0;
  const ok = await loadList({ restoreSelection: firstLoad });
  if (!ok || generation !== resyncGeneration || !socket.connected) return;

  const tasks = [];
  for (const chat of state.chats.values()) {
    if (chat.loaded) tasks.push(syncChat(chat));
  }
  const selected = selectedChat();
  if (selected && !selected.loaded) tasks.push(openChat(selected));
  await Promise.all(tasks);
  if (generation !== resyncGeneration || !socket.connected) return;

  for (const conversationId of outbox.conversationIds()) pump(conversationId);
  const current = selectedChat();
  if (current && pageVisible()) markRead(current);
  renderAll();
}

async function loadList({ restoreSelection }) {
  state.listLoading = true;
  renderList();
  const res = await request("list", {});
  state.listLoading = false;
  if (!res.ok) {
    if (res.error.code !== "offline") showError(res.error);
    renderList();
    return false;
  }
  state.listLoaded = true;
  const convs = Array.isArray(res.conversations) ? res.conversations.filter(isConversation) : [];
  const seen = new Set();
  const fresh = [];
  for (const conv of convs) {
    seen.add(conv.id);
    const known = state.chats.has(conv.id);
    upsertConversation(conv, { top: false, fromList: true });
    if (!known) fresh.push(conv.id);
  }
  // New chats go on top (in the server's order); known ones keep their place.
  const rest = state.order.filter((id) => fresh.indexOf(id) === -1);
  state.order = fresh.concat(rest);

  // Chats we hold that are no longer open for us: closed or moved while we were away.
  for (const chat of Array.from(state.chats.values())) {
    if (!seen.has(chat.id) && chat.conv.status !== "closed") refreshMissing(chat);
  }

  if (restoreSelection && state.selectedId === null) {
    const saved = loadSelection();
    if (saved !== null && state.chats.has(saved)) selectChat(saved);
    else if (state.order.length) selectChat(state.order[0]);
  }
  renderAll();
  return true;
}

async function refreshMissing(chat) {
  const res = await request("open", { conversation_id: chat.id });
  if (res.ok && isConversation(res.conversation)) {
    upsertConversation(res.conversation, {});
    if (Array.isArray(res.messages)) receiveMessages(chat, res.messages.filter(isMessage));
  } else if (!res.ok && res.error.code === "not_found") {
    removeChat(chat.id, { reason: "not_found" });
  }
  renderAll();
}

let listRefreshTimer = null;
function scheduleListRefresh() {
  if (listRefreshTimer) return;
  listRefreshTimer = setTimeout(async () => {
    listRefreshTimer = null;
    if (socket.connected) await loadList({ restoreSelection: false });
  }, 500);
}

// A chat whose `open` failed (no answer, a server error) is asked for again by itself after
// these delays while it is selected; then its transcript keeps a "Try again" button.
const OPEN_RETRY_MS = [1000, 2000, 4000];

async function openChat(chat) {
  if (chat.loading) return;
  clearTimeout(chat.openRetryTimer);
  chat.openRetryTimer = null;
  chat.loading = true;
  if (chat.id === state.selectedId) renderConversation();
  const res = await request("open", { conversation_id: chat.id });
  chat.loading = false;
  if (state.chats.get(chat.id) !== chat) return;
  if (!res.ok) {
    if (res.error.code === "not_found") {
      removeChat(chat.id, { reason: "not_found" });
      showError(res.error);
    } else if (res.error.code !== "offline") {
      // Offline: the reconnection's resync opens the selected chat again.
      chat.loadError = res.error;
      scheduleOpenRetry(chat);
    }
    renderAll();
    return;
  }
  chat.loadError = null;
  chat.openRetries = 0;
  if (isConversation(res.conversation)) upsertConversation(res.conversation, {});
  chat.visitor = res.visitor && typeof res.visitor === "object" ? res.visitor : null;
  chat.past = Array.isArray(res.past) ? res.past.filter(isConversation) : [];
  chat.messages = new Map();
  chat.loaded = true;
  receiveMessages(chat, Array.isArray(res.messages) ? res.messages.filter(isMessage) : []);
  checkGap(chat);
  if (chat.id === state.selectedId) {
    if (pageVisible()) markRead(chat);
    renderConversation({ scrollToEnd: true });
    renderVisitor();
  }
  renderList();
  consoleApi.emit("loaded", chatSummary(chat));
}

function scheduleOpenRetry(chat) {
  const delay = OPEN_RETRY_MS[chat.openRetries];
  if (delay === undefined) return;
  chat.openRetries += 1;
  chat.openRetryTimer = setTimeout(() => {
    chat.openRetryTimer = null;
    if (state.chats.get(chat.id) === chat && chat.id === state.selectedId && !chat.loaded && socket.connected) {
      openChat(chat);
    }
  }, delay);
}

/** "Try again" on a chat that could not be loaded: a fresh round of automatic retries too. */
function retryOpen(chat) {
  chat.openRetries = 0;
  chat.loadError = null;
  openChat(chat);
}

async function syncChat(chat) {
  if (!chat.loaded || chat.syncing || !socket.connected) return;
  chat.syncing = true;
  const after = contiguousSeq(chat);
  const res = await request("sync", { conversation_id: chat.id, after_seq: after });
  chat.syncing = false;
  if (!state.chats.has(chat.id)) return;
  if (!res.ok) {
    if (res.error.code === "not_found") removeChat(chat.id, { reason: "not_found" });
    renderAll();
    return;
  }
  const added = receiveMessages(chat, Array.isArray(res.messages) ? res.messages.filter(isMessage) : []);
  if (added.length && chat.id === state.selectedId && pageVisible()) markRead(chat);
  else if (added.length && chat.id !== state.selectedId) {
    chat.unread = Math.max(chat.unread, unreadFromSeqs(chat));
  }
  renderList();
  if (chat.id === state.selectedId) renderConversation();
}

/** Highest seq up to which we hold every message (gap-free from the first one we hold). */
function contiguousSeq(chat) {
  const seqs = Array.from(chat.messages.keys()).sort((a, b) => a - b);
  if (!seqs.length) return 0;
  let c = seqs[0] - 1;
  for (const s of seqs) {
    if (s === c + 1) c = s;
    else break;
  }
  return c;
}

function hasGap(chat) {
  if (!chat.loaded) return false;
  const held = contiguousSeq(chat);
  const max = Math.max(chat.conv.last_seq || 0, ...chat.messages.keys());
  return held < max;
}

/** Messages can overtake each other (broadcast vs ack); only sync if a gap persists. */
function checkGap(chat) {
  if (!hasGap(chat) || gapTimers.has(chat.id)) return;
  gapTimers.set(
    chat.id,
    setTimeout(() => {
      gapTimers.delete(chat.id);
      if (state.chats.has(chat.id) && hasGap(chat)) syncChat(chat);
    }, 1000),
  );
}

function unreadFromSeqs(chat) {
  let n = 0;
  const readSeq = chat.conv.agent_read_seq || 0;
  for (const m of chat.messages.values()) if (m.seq > readSeq && m.sender !== "agent") n++;
  return n;
}

// ---------------------------------------------------------------------------
// Model updates
// ---------------------------------------------------------------------------

function isConversation(c) {
  return !!c && typeof c === "object" && Number.isInteger(c.id);
}

function isMessage(m) {
  return (
    !!m &&
    typeof m === "object" &&
    Number.isInteger(m.conversation_id) &&
    Number.isInteger(m.seq) &&
    typeof m.body === "string"
  );
}

function newChat(conv) {
  return {
    id: conv.id,
    conv: { ...conv },
    messages: new Map(),
    loaded: false,
    loading: false,
    loadError: null, // why the last `open` failed; cleared by a successful one
    openRetries: 0,
    openRetryTimer: null,
    syncing: false,
    visitor: null,
    past: [],
    unread: 0,
    visitorTyping: false,
    visitorTypingTimer: null,
    draft: "",
    openPast: new Set(),
  };
}

function upsertConversation(conv, { top = false, fromList = false } = {}) {
  let chat = state.chats.get(conv.id);
  if (!chat) {
    chat = newChat(conv);
    state.chats.set(conv.id, chat);
    if (top) state.order.unshift(conv.id);
    else state.order.push(conv.id);
  } else {
    const prev = chat.conv;
    chat.conv = { ...prev, ...conv };
    // Counters only move forward (a stale payload must not undo a newer event).
    for (const key of ["last_seq", "visitor_read_seq", "agent_read_seq"]) {
      if (Number.isInteger(prev[key]) && Number.isInteger(conv[key])) chat.conv[key] = Math.max(prev[key], conv[key]);
    }
    if (prev.last_message && conv.last_message && prev.last_message.seq > conv.last_message.seq) {
      chat.conv.last_message = prev.last_message;
    }
    if (top) {
      state.order = state.order.filter((id) => id !== conv.id);
      state.order.unshift(conv.id);
    }
  }
  if (Number.isInteger(conv.unread) && (fromList || !chat.loaded)) chat.unread = Math.max(0, conv.unread);
  if (chat.id === state.selectedId && pageVisible() && chat.unread > 0 && socket.connected) markRead(chat);
  if (chat.loaded) checkGap(chat);
  return chat;
}

/** Adds messages (deduplicated by seq); returns those that were new. */
function receiveMessages(chat, messages) {
  const added = [];
  for (const m of messages) {
    if (m.conversation_id !== chat.id) continue;
    const isNew = chat.loaded ? !chat.messages.has(m.seq) : m.seq > (chat.conv.last_seq || 0);
    if (chat.loaded && !chat.messages.has(m.seq)) chat.messages.set(m.seq, m);
    if (m.client_id) {
      const entry = outbox.get(m.client_id);
      if (entry && entry.conversation_id === chat.id) outbox.remove(m.client_id);
    }
    if (m.seq >= (chat.conv.last_seq || 0)) chat.conv.last_seq = m.seq;
    // The list preview and the alert show what someone wrote, never a system notice or an internal note.
    const previewable = m.sender === "visitor" || m.sender === "agent";
    if (previewable && (!chat.conv.last_message || m.seq >= chat.conv.last_message.seq)) chat.conv.last_message = m;
    if (isNew) added.push(m);
  }
  return added;
}

function removeChat(id, { reason } = {}) {
  const chat = state.chats.get(id);
  if (!chat) return;
  clearTimeout(chat.visitorTypingTimer);
  clearTimeout(chat.openRetryTimer);
  state.chats.delete(id);
  state.order = state.order.filter((x) => x !== id);
  for (const entry of outbox.forConversation(id)) {
    if (reason) showError({ code: reason, message: "" });
    outbox.remove(entry.client_id);
  }
  if (state.selectedId === id) {
    stopTyping();
    state.selectedId = null;
    saveSelection(null);
    dom.reply.value = "";
    consoleApi.emit("select", null);
  }
}

function selectedChat() {
  return state.selectedId === null ? null : state.chats.get(state.selectedId) || null;
}

function isClosed(chat) {
  return chat.conv.status === "closed";
}

/** Supervisors may open other people's chats read-only; a chat moved to someone else is read-only too. */
function isReadOnly(chat) {
  return me.id !== null && Number.isInteger(chat.conv.agent_id) && chat.conv.agent_id !== me.id && !isParticipant(chat);
}

/** In the chat with its CSR (the colleague of a warm transfer, a supervisor who barged in). */
function isParticipant(chat) {
  return Array.isArray(chat.conv.participants) && chat.conv.participants.some((p) => p && p.id === me.id);
}

/** Someone else is in the chat too: the CSR may leave it to them, a participant may leave. */
function canLeave(chat) {
  if (!chat || isClosed(chat) || chat.conv.status !== "assigned") return false;
  if (isParticipant(chat)) return true;
  return chat.conv.agent_id === me.id && Array.isArray(chat.conv.participants)
    && chat.conv.participants.some((p) => p && p.kind === "warm");
}

function canReply(chat) {
  return !!chat && !isClosed(chat) && !isReadOnly(chat);
}

/** Highest seq on screen (0 until the transcript is loaded). */
function lastSeqHeld(chat) {
  let max = 0;
  if (chat.loaded) for (const s of chat.messages.keys()) if (s > max) max = s;
  return max;
}

function markRead(chat) {
  if (isReadOnly(chat)) return;
  const seq = lastSeqHeld(chat);
  chat.unread = 0;
  updateDocumentTitle();
  if (seq <= 0 || seq <= (chat.conv.agent_read_seq || 0) || !socket.connected) return;
  chat.conv.agent_read_seq = seq;
  request("read", { conversation_id: chat.id, seq }).then((res) => {
    if (!res.ok && res.error.code !== "offline") console.warn("read failed", res.error);
  });
}

function setVisitorTyping(chat, typing, silent) {
  clearTimeout(chat.visitorTypingTimer);
  chat.visitorTypingTimer = null;
  const changed = chat.visitorTyping !== typing;
  chat.visitorTyping = typing;
  if (typing) {
    // A lost "typing: false" must not leave the indicator on forever.
    chat.visitorTypingTimer = setTimeout(() => setVisitorTyping(chat, false), VISITOR_TYPING_TIMEOUT_MS);
  }
  if (changed && !silent) {
    renderList();
    if (chat.id === state.selectedId) renderTyping();
  }
}

// ---------------------------------------------------------------------------
// Sending: outbox with per-conversation ordering and idempotent resends
// ---------------------------------------------------------------------------

function sendReply() {
  const chat = selectedChat();
  if (!canReply(chat)) return;
  const body = dom.reply.value.trim();
  if (!body) return;
  if (charCount(body) > MAX_BODY_CHARS) {
    showError({ code: "too_large", message: "" });
    return;
  }
  stopTyping();
  outbox.add({
    client_id: newClientId(),
    conversation_id: chat.id,
    body,
    created_at: new Date().toISOString(),
    state: "queued",
  });
  dom.reply.value = "";
  chat.draft = "";
  renderConversation({ scrollToEnd: true });
  renderList();
  pump(chat.id);
}

/** Sends the queued messages of one conversation, one at a time, in order. */
async function pump(conversationId) {
  if (pumping.has(conversationId)) return;
  pumping.add(conversationId);
  clearTimeout(retryTimers.get(conversationId));
  retryTimers.delete(conversationId);
  try {
    while (socket.connected) {
      const entry = outbox.entries.find((e) => e.conversation_id === conversationId && e.state === "queued");
      if (!entry) break;
      entry.state = "sending";
      rerenderFor(conversationId);
      const res = await request("message", {
        conversation_id: conversationId,
        client_id: entry.client_id,
        body: entry.body,
      });
      if (res.ok) {
        confirmSent(entry, res);
        continue;
      }
      const code = res.error.code;
      if (code === "offline") {
        entry.state = "queued"; // resent after the next connect
        break;
      }
      if (code === "timeout" || code === "internal" || code === "rate_limited") {
        entry.state = "queued";
        const waitS = code === "rate_limited" ? res.error.retry_after || 5 : 3;
        if (code === "rate_limited") showError(res.error);
        retryTimers.set(
          conversationId,
          setTimeout(() => {
            retryTimers.delete(conversationId);
            pump(conversationId);
          }, Math.max(1, waitS) * 1000),
        );
        break;
      }
      entry.state = "failed";
      entry.error = code;
      outbox.save();
      showError(res.error);
      if (code === "closed") {
        const chat = state.chats.get(conversationId);
        if (chat && !isClosed(chat)) {
          chat.conv.status = "closed";
          renderList();
        }
      }
    }
  } finally {
    pumping.delete(conversationId);
    rerenderFor(conversationId);
  }
}

function confirmSent(entry, ack) {
  outbox.remove(entry.client_id);
  const chat = state.chats.get(entry.conversation_id);
  if (!chat || !Number.isInteger(ack.seq)) return;
  const msg = {
    conversation_id: entry.conversation_id,
    seq: ack.seq,
    client_id: entry.client_id,
    sender: "agent",
    author: me.name,
    body: entry.body,
    created_at: typeof ack.created_at === "string" ? ack.created_at : entry.created_at,
  };
  receiveMessages(chat, [msg]);
  checkGap(chat);
  renderList();
}

function retryEntry(clientId) {
  const entry = outbox.get(clientId);
  if (!entry) return;
  entry.state = "queued";
  delete entry.error;
  outbox.save();
  rerenderFor(entry.conversation_id);
  pump(entry.conversation_id);
}

function discardEntry(clientId) {
  const entry = outbox.get(clientId);
  if (!entry) return;
  outbox.remove(clientId);
  rerenderFor(entry.conversation_id);
}

function rerenderFor(conversationId) {
  if (conversationId === state.selectedId) renderTranscript(selectedChat());
}

// ---------------------------------------------------------------------------
// Typing (outgoing)
// ---------------------------------------------------------------------------

const typingOut = { conversationId: null, active: false, lastTrueAt: 0, idleTimer: null };

function onReplyInput() {
  const chat = selectedChat();
  if (!canReply(chat)) return;
  chat.draft = dom.reply.value;
  if (!dom.reply.value.trim()) {
    stopTyping();
    return;
  }
  if (typingOut.active && typingOut.conversationId !== chat.id) stopTyping();
  const now = Date.now();
  if (!typingOut.active || now - typingOut.lastTrueAt >= TYPING_THROTTLE_MS) {
    typingOut.active = true;
    typingOut.conversationId = chat.id;
    typingOut.lastTrueAt = now;
    emitTyping(chat.id, true);
  }
  clearTimeout(typingOut.idleTimer);
  typingOut.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingOut.idleTimer);
  typingOut.idleTimer = null;
  if (typingOut.active && typingOut.conversationId !== null) emitTyping(typingOut.conversationId, false);
  typingOut.active = false;
  typingOut.conversationId = null;
  typingOut.lastTrueAt = 0;
}

function emitTyping(conversationId, typing) {
  if (!socket.connected) return;
  request("typing", { conversation_id: conversationId, typing }).then(() => {
    /* typing is best effort */
  });
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

function selectChat(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  const prev = selectedChat();
  if (prev && prev.id !== id) {
    prev.draft = dom.reply.value;
    stopTyping();
  }
  const changed = state.selectedId !== id;
  state.selectedId = id;
  saveSelection(id);
  if (changed) dom.reply.value = chat.draft || "";
  if (!chat.loaded) {
    if (chat.loadError && !chat.openRetryTimer) retryOpen(chat);
    else if (!chat.loadError) openChat(chat);
  } else if (pageVisible()) markRead(chat);
  renderList();
  renderConversation({ scrollToEnd: changed });
  renderVisitor();
  if (changed) consoleApi.emit("select", chatSummary(chat));
}

// What the console's extensions (knowledge panel, canned responses) know of a chat.
function chatSummary(chat) {
  if (!chat) return null;
  let lastVisitorMessage = null;
  if (chat.loaded) {
    let best = null;
    for (const m of chat.messages.values()) if (m.sender === "visitor" && (!best || m.seq > best.seq)) best = m;
    lastVisitorMessage = best && typeof best.body === "string" ? best.body : null;
  } else if (chat.conv.last_message && chat.conv.last_message.sender === "visitor") {
    lastVisitorMessage = chat.conv.last_message.body;
  }
  return {
    id: chat.id,
    visitorId: chat.conv.visitor_id,
    visitorName: visitorName(chat),
    canReply: canReply(chat),
    loaded: !!chat.loaded,
    lastVisitorMessage,
  };
}

function moveSelection(delta) {
  if (!state.order.length) return;
  let index = state.order.indexOf(state.selectedId);
  if (index === -1) index = delta > 0 ? -1 : state.order.length;
  const next = Math.min(state.order.length - 1, Math.max(0, index + delta));
  const hadListFocus = dom.chatList.contains(document.activeElement);
  selectChat(state.order[next]);
  if (hadListFocus) focusListItem(state.order[next]);
}

function listButton(id) {
  return dom.chatList.querySelector('button[data-id="' + String(id) + '"]');
}

function focusListItem(id) {
  const button = listButton(id);
  if (button) button.focus();
}

/**
 * Where the focus goes when the control that had it is gone, hidden or disabled (a chat closed,
 * transferred, removed from the list): "Remove from list" of a closed chat, else the selected chat
 * in the list, else the list's first chat, else what the empty list says.
 */
function focusFallback() {
  const chat = selectedChat();
  return focusFirst(
    chat && isClosed(chat) ? dom.dismissBtn : null,
    chat ? listButton(chat.id) : null,
    dom.chatList.querySelector("button"),
    dom.chatsEmpty,
    dom.status,
  );
}

/** After a render: `had` (what had the focus before it) can no longer take it → the fallback. */
function keepFocus(had) {
  if (had && had !== document.body && dom.app.contains(had) && !canFocus(had)) focusFallback();
}

async function closeSelected() {
  const chat = selectedChat();
  if (!chat || isClosed(chat) || isReadOnly(chat) || state.closing.has(chat.id)) return;
  // A department that classifies its contacts asks what this one was about (Esc: not closed).
  const options = await request("close_options", { conversation_id: chat.id });
  let categoryId = null;
  if (options.ok && options.classification && options.classification !== "off") {
    categoryId = await askCategory(options, dom.closeBtn);
    if (categoryId === undefined || isClosed(chat) || state.closing.has(chat.id)) return;
  }
  state.closing.add(chat.id);
  renderConversation();
  stopTyping();
  const res = await request("close", categoryId ? { conversation_id: chat.id, category_id: categoryId } : { conversation_id: chat.id });
  state.closing.delete(chat.id);
  if (res.ok) {
    chat.conv.status = "closed";
    if (!chat.conv.closed_at) chat.conv.closed_at = new Date().toISOString();
    setVisitorTyping(chat, false, true);
  } else {
    showError(res.error);
    if (res.error.code === "closed" || res.error.code === "invalid_state") {
      chat.loaded = false;
      openChat(chat);
    } else if (res.error.code === "not_found") {
      removeChat(chat.id);
    }
  }
  renderAll();
}

function dismissSelected() {
  const chat = selectedChat();
  if (!chat || !isClosed(chat)) return;
  const index = state.order.indexOf(chat.id);
  removeChat(chat.id);
  const next = state.order[Math.min(index, state.order.length - 1)];
  if (next !== undefined) selectChat(next);
  renderAll();
  // The button is gone with the chat: on to the chat now selected in the list (or the empty list).
  if (!canFocus(dom.dismissBtn)) focusFallback();
}

async function changeStatus() {
  // "away:Meal" is Away with the reason "Meal" (the reasons come with the page).
  const [wanted, ...rest] = dom.status.value.split(":");
  const reason = rest.length ? rest.join(":") : null;
  const res = await request("set_status", reason ? { status: wanted, reason } : { status: wanted });
  if (res.ok) {
    applyStatus(typeof res.status === "string" ? res.status : wanted, res.reason);
  } else {
    showError(res.error);
    applyStatus(state.status, state.reason);
  }
}

function applyStatus(status, reason) {
  if (!status || !STATUS_LABELS[status]) {
    if (state.status) dom.status.value = state.status;
    return;
  }
  state.status = status;
  state.reason = typeof reason === "string" ? reason : null;
  const withReason = state.reason ? status + ":" + state.reason : null;
  // A reason the list does not have (given by the server, like "missed offers") shows as plain Away.
  const known = withReason && Array.from(dom.status.options).some((o) => o.value === withReason);
  dom.status.value = known ? withReason : status;
  // The reason in full on hover: the option's own (translated) text, else the server's reason.
  const reasonLabel = SYSTEM_REASON_LABELS[state.reason] || state.reason;
  dom.status.title = !state.reason ? ""
    : known ? dom.status.options[dom.status.selectedIndex].text
      : t("{status} · {reason}", { status: STATUS_LABELS[status], reason: reasonLabel });
  dom.status.dataset.status = status;
  document.body.dataset.agentStatus = status;
}

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

let permissionAsked = false;
function askNotificationPermission() {
  if (permissionAsked) return;
  permissionAsked = true;
  if (!("Notification" in window) || Notification.permission !== "default") return;
  try {
    const result = Notification.requestPermission();
    if (result && typeof result.catch === "function") result.catch(() => {});
  } catch (e) {
    /* very old browsers: ignore */
  }
}

function notifyNewChat(chat) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const last = chat.conv.last_message;
    const n = new Notification(t("New chat from {name}", { name: visitorName(chat) }), {
      body: last && typeof last.body === "string" ? preview(last.body, 120) : "",
      tag: "switchboard-chat-" + chat.id,
    });
    n.onclick = () => {
      window.focus();
      if (state.chats.has(chat.id)) selectChat(chat.id);
      n.close();
    };
  } catch (e) {
    /* notifications are a nicety */
  }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function renderAll() {
  renderList();
  renderConversation();
  renderVisitor();
}

function setConnection(kind) {
  const labels = {
    connecting: t("Connecting…"),
    connected: t("Connected"),
    reconnecting: t("Reconnecting…"),
    ended: t("Signed out"),
  };
  dom.conn.textContent = labels[kind] || kind;
  dom.conn.className = "conn conn-" + kind;
}

function visitorName(chat) {
  if (chat.visitor && typeof chat.visitor.name === "string" && chat.visitor.name) return chat.visitor.name;
  if (typeof chat.conv.visitor_name === "string" && chat.conv.visitor_name) return chat.conv.visitor_name;
  return t("Visitor");
}

/** A translated text with one placeholder filled by data: the data in a span of its own (translate="no"). */
function withData(text, name, value) {
  const at = text.indexOf("{" + name + "}");
  if (at === -1) return [document.createTextNode(text)];
  return [
    document.createTextNode(text.slice(0, at)),
    el("span", { text: value, attrs: { translate: "no" } }),
    document.createTextNode(text.slice(at + name.length + 2)),
  ];
}

/** Who wrote a message: people's names are data, "System" and "Internal note" are ours. */
function authorNode(chat, m) {
  const node = el("span", { class: "msg-author" });
  if (m.sender === "visitor") {
    node.textContent = m.author || visitorName(chat);
    node.setAttribute("translate", "no");
  } else if (m.sender === "agent") {
    node.textContent = m.author || t("Agent");
    if (m.author) node.setAttribute("translate", "no");
  } else if (m.sender === "system") {
    node.textContent = t("System");
  } else if (m.sender === "internal") {
    if (m.author) node.append(...withData(t("{author} · Internal note"), "author", m.author));
    else node.textContent = t("Internal note");
  } else {
    node.textContent = m.author || String(m.sender || "");
    node.setAttribute("translate", "no");
  }
  return node;
}

function listStateText(chat) {
  if (isClosed(chat)) return t("Chat closed");
  if (chat.visitorTyping) return t("Typing…");
  if (isReadOnly(chat)) return t("Read-only");
  const last = chat.conv.last_message;
  if (last && last.sender === "visitor") {
    const since = parseTime(last.created_at);
    if (since) return waitingFor(Date.now() - since.getTime());
  }
  if (chat.conv.status === "waiting") return t("Waiting");
  return t("Active");
}

function renderList() {
  const focusedId =
    document.activeElement && dom.chatList.contains(document.activeElement)
      ? document.activeElement.getAttribute("data-id")
      : null;
  clear(dom.chatList);
  for (const id of state.order) {
    const chat = state.chats.get(id);
    if (!chat) continue;
    const last = chat.conv.last_message;
    const pending = outbox.forConversation(id);
    let previewText = "";
    // What someone wrote is data (translate="no"); "You:" before it is not.
    let previewMine = false;
    if (pending.length) {
      previewMine = true;
      previewText = preview(pending[pending.length - 1].body, 80);
    } else if (last && typeof last.body === "string") {
      previewMine = last.sender === "agent";
      previewText = preview(last.body, 80);
    }
    const when = last ? last.created_at : chat.conv.assigned_at || chat.conv.created_at;
    const selected = id === state.selectedId;
    const badge =
      chat.unread > 0
        ? el("span", { class: "badge" }, [
            document.createTextNode(String(chat.unread)),
            el("span", { class: "visually-hidden", text: t(" unread") }),
          ])
        : null;
    const button = el(
      "button",
      {
        class:
          "chat-item" +
          (selected ? " is-selected" : "") +
          (isClosed(chat) ? " is-closed" : "") +
          (chat.unread > 0 ? " has-unread" : ""),
        attrs: { type: "button", "data-id": id, "aria-current": selected ? "true" : null },
      },
      [
        el("span", { class: "chat-item-top" }, [
          el("span", { class: "chat-name", text: visitorName(chat), attrs: { translate: "no" } }),
          el("time", { class: "chat-time", text: formatShort(when), attrs: { datetime: when || null } }),
        ]),
        previewText
          ? el("span", { class: "chat-preview" }, [
              previewMine ? document.createTextNode(t("You: ")) : null,
              el("span", { text: previewText, attrs: { translate: "no" } }),
            ])
          : el("span", { class: "chat-preview", text: t("No messages yet") }),
        el("span", { class: "chat-item-bottom" }, [
          el("span", { class: "chat-state", text: listStateText(chat) }),
          badge,
        ]),
      ],
    );
    button.addEventListener("click", () => selectChat(id));
    dom.chatList.appendChild(el("li", { class: "chat-list-item" }, [button]));
  }
  const loading = state.listLoading || (!state.listLoaded && state.order.length === 0);
  dom.chatsLoading.hidden = !loading;
  dom.chatsEmpty.hidden = state.order.length > 0 || loading;
  dom.chatList.hidden = state.order.length === 0;
  if (focusedId !== null) {
    // The chat that had the focus may be gone from the list (taken away): then the selected one.
    const selected = state.selectedId === null ? null : listButton(state.selectedId);
    focusFirst(listButton(focusedId), selected, dom.chatList.querySelector("button"), dom.chatsEmpty);
  }
  updateDocumentTitle();
}

function updateDocumentTitle() {
  let unread = 0;
  for (const chat of state.chats.values()) unread += chat.unread;
  document.title = (unread > 0 ? "(" + formatNumber(unread) + ") " : "") + t("Switchboard · Console");
}

function renderConversation(opts) {
  const had = document.activeElement;
  renderConversationNow(opts);
  keepFocus(had);
}

function renderConversationNow(opts) {
  const chat = selectedChat();
  if (!chat) {
    dom.title.textContent = t("No chat selected");
    dom.title.removeAttribute("translate");
    dom.convState.textContent = "";
    dom.convState.className = "conversation-state";
    dom.closeBtn.disabled = true;
    dom.transferBtn.disabled = true;
    dom.createOrderBtn.disabled = true;
    if (dom.flagBtn) dom.flagBtn.disabled = true;
    dom.leaveBtn.hidden = true;
    dom.dismissBtn.hidden = true;
    dom.reply.disabled = true;
    dom.send.disabled = true;
    dom.reply.placeholder = t("Select a chat to reply");
    renderTranscript(null);
    renderTyping();
    return;
  }
  dom.title.textContent = visitorName(chat);
  dom.title.setAttribute("translate", "no");
  let stateText = "";
  let stateClass = "";
  if (isClosed(chat)) {
    stateText = t("Chat closed");
    stateClass = "is-closed";
  } else if (isReadOnly(chat)) {
    stateText = t("Read-only");
    stateClass = "is-readonly";
  } else if (chat.conv.status === "waiting") {
    stateText = t("Waiting");
  } else {
    stateText = t("Active");
    stateClass = "is-active";
  }
  const rating = chat.conv.rating && RATING_LABELS[chat.conv.rating.rating];
  // The visitor's comment is data (translate="no"): the state and the rating are said around it.
  let comment = null;
  if (isClosed(chat) && rating) {
    comment = chat.conv.rating.comment ? preview(chat.conv.rating.comment, 140) : null;
    stateText = comment ? t("{state} · Rated {rating}: “{comment}”", { state: stateText, rating })
      : t("{state} · Rated {rating}", { state: stateText, rating });
    stateClass += " rating-" + chat.conv.rating.rating;
  }
  clear(dom.convState);
  if (comment) {
    dom.convState.append(...withData(stateText, "comment", comment));
  } else {
    dom.convState.textContent = stateText;
  }
  dom.convState.className = "conversation-state " + stateClass;
  const replyable = canReply(chat);
  dom.leaveBtn.hidden = !canLeave(chat);
  dom.closeBtn.disabled = !replyable || isParticipant(chat);
  // Busy while closing, yet focused still (aria-disabled: a disabled button would drop the focus).
  if (state.closing.has(chat.id)) dom.closeBtn.setAttribute("aria-disabled", "true");
  else dom.closeBtn.removeAttribute("aria-disabled");
  dom.closeBtn.textContent = state.closing.has(chat.id) ? t("Closing…") : t("Close chat");
  dom.transferBtn.disabled = !replyable || isParticipant(chat) || chat.conv.status !== "assigned";
  dom.createOrderBtn.disabled = !chat.loaded;
  if (dom.flagBtn) dom.flagBtn.disabled = !chat.loaded;
  dom.dismissBtn.hidden = !isClosed(chat);
  dom.reply.disabled = !replyable;
  dom.send.disabled = !replyable;
  dom.reply.placeholder = isClosed(chat)
    ? t("This chat is closed.")
    : isReadOnly(chat)
      ? t("This chat is read-only for you.")
      : t("Type a reply — Enter to send, Shift+Enter for a new line");
  renderTranscript(chat, opts);
  renderTyping();
}

function renderTyping() {
  const chat = selectedChat();
  dom.typing.textContent = chat && chat.visitorTyping && !isClosed(chat) ? t("Visitor is typing…") : "";
}

/**
 * Keyed reconciliation of the transcript, so that the live region (role="log")
 * only announces messages that are actually new.
 */
function renderTranscript(chat, opts) {
  const box = dom.transcript;
  const forChat = chat ? String(chat.id) : "";
  if (chat && !chat.loaded && chat.loadError && !chat.loading) {
    // The `open` failed: say why, and offer to ask again (it is also retried by itself).
    if (box.dataset.chatId === "failed:" + forChat) return;
    clear(box);
    const again = el("button", { class: "btn btn-small", text: t("Try again"), attrs: { type: "button" } });
    again.addEventListener("click", () => retryOpen(chat));
    box.appendChild(
      el("div", { class: "empty transcript-note", attrs: { role: "alert" } }, [
        el("p", { text: t("This chat could not be loaded: {reason}", { reason: chat.loadError.message }) }),
        again,
      ]),
    );
    box.setAttribute("aria-busy", "false");
    box.dataset.chatId = "failed:" + forChat;
    return;
  }
  if (box.dataset.chatId !== forChat) {
    clear(box);
    box.dataset.chatId = forChat;
  }
  if (!chat || !chat.loaded) {
    // Nothing selected, or the `open` for it is in flight (or waits for the connection).
    clear(box);
    box.appendChild(
      el("p", { class: "empty transcript-note", text: chat ? t("Loading…") : t("Select a chat to see its transcript.") }),
    );
    box.setAttribute("aria-busy", chat ? "true" : "false");
    box.dataset.chatId = chat ? "loading:" + forChat : "";
    return;
  }
  box.setAttribute("aria-busy", "false");

  const placeholder = box.querySelector(":scope > .transcript-note");
  const setNote = (text) => {
    if (placeholder && placeholder.textContent === text) return;
    if (placeholder) placeholder.remove();
    box.insertBefore(el("p", { class: "empty transcript-note", text }), box.firstChild);
  };
  const dropNote = () => {
    if (placeholder) placeholder.remove();
  };

  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;

  const confirmed = Array.from(chat.messages.values()).sort((a, b) => a.seq - b.seq);
  const confirmedClientIds = new Set(confirmed.filter((m) => m.client_id).map((m) => m.client_id));
  const pending = outbox.forConversation(chat.id).filter((e) => !confirmedClientIds.has(e.client_id));

  let lastAgentSeq = 0;
  for (const m of confirmed) if (m.sender === "agent" && m.seq > lastAgentSeq) lastAgentSeq = m.seq;
  const readSeq = chat.conv.visitor_read_seq || 0;

  const items = [];
  for (const m of confirmed) {
    let status = "";
    if (m.sender === "agent" && m.seq === lastAgentSeq) status = readSeq >= m.seq ? "read" : "sent";
    items.push({ key: m.client_id ? "c:" + m.client_id : "s:" + m.seq, msg: m, status });
  }
  for (const e of pending) {
    items.push({
      key: "c:" + e.client_id,
      msg: { sender: "agent", author: me.name, body: e.body, created_at: e.created_at, client_id: e.client_id },
      status: e.state === "failed" ? "failed" : socket.connected ? "sending" : "waiting",
      error: e.error,
    });
  }

  if (!items.length) setNote(t("No messages yet."));
  else dropNote();

  const existing = new Map();
  for (const node of Array.from(box.children)) {
    if (node.dataset && node.dataset.key) existing.set(node.dataset.key, node);
  }
  const wanted = new Set(items.map((i) => i.key));
  for (const [key, node] of existing) {
    if (!wanted.has(key)) {
      node.remove();
      existing.delete(key);
    }
  }
  let cursor = box.querySelector(":scope > .transcript-note");
  cursor = cursor ? cursor.nextSibling : box.firstChild;
  for (const item of items) {
    let node = existing.get(item.key);
    if (!node) node = messageNode(chat, item);
    updateMessageStatus(node, item);
    if (node !== cursor) box.insertBefore(node, cursor);
    cursor = node.nextSibling;
  }

  if ((opts && opts.scrollToEnd) || nearBottom) box.scrollTop = box.scrollHeight;
}

function messageNode(chat, item) {
  const m = item.msg;
  const sender = typeof m.sender === "string" ? m.sender : "system";
  const node = el("article", { class: "msg msg-" + sender.replace(/[^a-z]/g, ""), attrs: { "data-key": item.key } }, [
    el("header", { class: "msg-meta" }, [
      authorNode(chat, m),
      el("time", {
        class: "msg-time",
        text: formatTime(m.created_at),
        attrs: { datetime: m.created_at || null, title: formatDateTime(m.created_at) || null },
      }),
    ]),
    el("div", { class: "msg-body", text: m.body, attrs: { translate: "no" } }),
    el("div", { class: "msg-status" }),
  ]);
  return node;
}

function updateMessageStatus(node, item) {
  const signature = item.status + "|" + (item.error || "");
  if (node.dataset.sig === signature) return;
  node.dataset.sig = signature;
  node.classList.toggle("is-pending", item.status === "sending" || item.status === "waiting");
  node.classList.toggle("is-failed", item.status === "failed");
  const box = node.querySelector(".msg-status");
  clear(box);
  if (item.status === "read") box.appendChild(el("span", { class: "read-marker", text: t("Read") }));
  else if (item.status === "sent") box.appendChild(el("span", { class: "sent-marker", text: t("Sent") }));
  else if (item.status === "sending") box.appendChild(el("span", { text: t("Sending…") }));
  else if (item.status === "waiting") box.appendChild(el("span", { text: t("Waiting for connection…") }));
  else if (item.status === "failed") {
    const clientId = item.msg.client_id;
    const retry = el("button", { class: "link-button", text: t("Retry"), attrs: { type: "button" } });
    retry.addEventListener("click", () => retryEntry(clientId));
    const discard = el("button", { class: "link-button", text: t("Discard"), attrs: { type: "button" } });
    discard.addEventListener("click", () => discardEntry(clientId));
    box.appendChild(el("span", { class: "failed-marker", text: t("Not sent") }));
    box.appendChild(retry);
    box.appendChild(discard);
  }
}

// ---- visitor sidebar ------------------------------------------------------

function fact(label, valueNode, key) {
  return el("div", { class: "fact", attrs: { "data-fact": key || null } }, [
    el("dt", { text: label }),
    el("dd", {}, [valueNode]),
  ]);
}

/** `data`: the value is data (a name, a URL), not to be translated. */
function textOrDash(value, { data = false } = {}) {
  const empty = value === null || value === undefined || value === "";
  return el("span", { text: empty ? "—" : String(value), attrs: { translate: data && !empty ? "no" : null } });
}

function currentPageNode(page) {
  if (!page || typeof page !== "object" || (!page.url && !page.title)) return textOrDash(null);
  const url = typeof page.url === "string" ? page.url : "";
  const title = typeof page.title === "string" ? page.title : "";
  // The page's title and address are the customer's site's words.
  const wrap = el("span", { class: "current-page", attrs: { translate: "no" } });
  if (title) wrap.appendChild(el("span", { class: "current-page-title", text: title }));
  if (url) {
    const safe = safeHttpUrl(url);
    let link;
    if (safe) {
      link = document.createElement("a");
      link.href = safe;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
    } else {
      link = document.createElement("span");
    }
    link.className = "current-page-url";
    link.textContent = url;
    link.title = url;
    wrap.appendChild(link);
  }
  return wrap;
}

function renderCurrentPage(chat) {
  const dd = dom.visitorBody.querySelector('[data-fact="page"] dd');
  if (!dd || !chat.visitor) {
    renderVisitor();
    return;
  }
  clear(dd);
  dd.appendChild(currentPageNode(chat.visitor.current_page));
}

function renderVisitor() {
  const chat = selectedChat();
  const body = dom.visitorBody;
  clear(body);
  if (!chat) {
    body.appendChild(el("p", { class: "empty", text: t("No chat selected.") }));
    return;
  }
  if (!chat.loaded) {
    body.appendChild(el("div", { class: "visitor-card" }, [
      el("div", { class: "visitor-name", text: visitorName(chat), attrs: { translate: "no" } }),
    ]));
    body.appendChild(el("p", { class: "empty", text: t("Loading…") }));
    return;
  }
  const v = chat.visitor || {};
  const email = typeof v.email === "string" && v.email ? v.email : null;
  const presence =
    typeof v.online === "boolean"
      ? el("span", { class: "presence " + (v.online ? "is-online" : "is-offline"), text: v.online ? t("Online") : t("Offline") })
      : null;
  body.appendChild(
    el("div", { class: "visitor-card" }, [
      el("div", { class: "visitor-name", text: visitorName(chat), attrs: { translate: "no" } }),
      email
        ? el("div", { class: "visitor-email", text: email, attrs: { translate: "no" } })
        : el("div", { class: "visitor-email muted", text: t("No e-mail given") }),
      presence,
    ]),
  );
  body.appendChild(
    el("dl", { class: "facts" }, [
      // Browser and system names ("Chrome 120", "Windows") are names: not translated.
      fact(t("Browser"), textOrDash(v.browser, { data: true })),
      fact(t("OS"), textOrDash(v.os, { data: true })),
      fact(t("Device"), DEVICE_LABELS[v.device] ? textOrDash(DEVICE_LABELS[v.device]) : textOrDash(v.device, { data: true })),
      fact(t("Country"), textOrDash(countryName(v.country))),
      fact(t("Current page"), currentPageNode(v.current_page), "page"),
      fact(t("Visits"), textOrDash(Number.isInteger(v.visit_count) ? formatNumber(v.visit_count) : null)),
      fact(t("First seen"), textOrDash(formatDateTime(v.first_seen))),
      fact(t("Last seen"), textOrDash(formatDateTime(v.last_seen))),
    ]),
  );

  body.appendChild(workOrdersNode(chat));
  for (const section of consoleApi.visitorSections) {
    try {
      const node = section(chatSummary(chat));
      if (node) body.appendChild(node);
    } catch (err) {
      console.error(err);
    }
  }

  body.appendChild(el("h3", { class: "section-title", text: t("Previous conversations") }));
  const past = chat.past || [];
  if (!past.length) {
    body.appendChild(el("p", { class: "empty", text: t("No previous conversations") }));
    return;
  }
  const list = el("div", { class: "past-list" });
  for (const conv of past) list.appendChild(pastNode(chat, conv));
  body.appendChild(list);
}

// The visitor's open work orders (the screen pop): read once per chat, again after one is created.
function workOrdersNode(chat) {
  const section = el("section", { class: "visitor-orders", attrs: { "aria-labelledby": "visitor-orders-title" } });
  section.appendChild(el("h3", { class: "section-title", text: t("Work orders"), attrs: { id: "visitor-orders-title" } }));
  if (chat.orders === undefined) {
    chat.orders = null;
    const visitorId = chat.conv.visitor_id;
    visitorOrders(visitorId).then((orders) => {
      chat.orders = orders === null ? "error" : orders;
      // Only this section is redrawn: the rest of the sidebar (an expanded past chat) stays as it is.
      // The sidebar may have been drawn again meanwhile: the section shown now is the one replaced.
      const shown = dom.visitorBody.querySelector("section.visitor-orders");
      if (shown && selectedChat() === chat) shown.replaceWith(workOrdersNode(chat));
    });
  }
  if (chat.orders === null) {
    section.appendChild(el("p", { class: "empty", text: t("Loading…") }));
  } else if (chat.orders === "error") {
    section.appendChild(el("p", { class: "empty", text: t("Work orders could not be loaded.") }));
  } else if (!chat.orders.length) {
    section.appendChild(el("p", { class: "empty", text: t("No open work orders") }));
  } else {
    const list = el("ul", { class: "visitor-order-list" });
    for (const order of chat.orders) {
      // The number and subject are data; the state is said in the page's language.
      const link = el("a", { text: order.number + " · " + order.subject, attrs: { translate: "no" } });
      link.href = "/work-orders/" + encodeURIComponent(order.id);
      const stateLabel = ORDER_STATUS_LABELS[order.status] || order.status_label;
      list.appendChild(el("li", {}, [link, el("span", { class: "visitor-order-state", text: " — " + stateLabel })]));
    }
    section.appendChild(list);
  }
  return section;
}

/** "3 messages · Rated Good" */
function pastMeta(count, rating) {
  const messages = tn("{n} message", "{n} messages", count);
  return rating ? t("{messages} · Rated {rating}", { messages, rating }) : messages;
}

function pastNode(chat, conv) {
  const messages = Array.isArray(conv.messages) ? conv.messages.filter(isMessage).sort((a, b) => a.seq - b.seq) : [];
  const count = messages.length;
  const details = el("details", { class: "past" });
  if (chat.openPast.has(conv.id)) details.open = true;
  details.addEventListener("toggle", () => {
    if (details.open) chat.openPast.add(conv.id);
    else chat.openPast.delete(conv.id);
  });
  details.appendChild(
    el("summary", {}, [
      el("span", { class: "past-date", text: formatDate(conv.created_at) || t("Unknown date") }),
      el("span", { class: "past-meta", text: pastMeta(count, conv.rating && RATING_LABELS[conv.rating.rating]) }),
    ]),
  );
  const transcript = el("div", { class: "past-transcript" });
  if (!count) transcript.appendChild(el("p", { class: "empty", text: t("No messages.") }));
  for (const m of messages) {
    transcript.appendChild(
      el("div", { class: "past-msg past-msg-" + String(m.sender || "").replace(/[^a-z]/g, "") }, [
        el("div", { class: "past-msg-meta" }, [
          authorNode(chat, m),
          el("time", { class: "msg-time", text: formatTime(m.created_at), attrs: { datetime: m.created_at || null } }),
        ]),
        el("div", { class: "msg-body", text: m.body, attrs: { translate: "no" } }),
      ]),
    );
  }
  details.appendChild(transcript);
  if (dom.flagBtn && Number.isInteger(conv.id)) {
    // Supervisors and admins: a closed chat of the visitor's history may be flagged too.
    const flag = el("button", { class: "btn btn-small past-flag", text: t("Flag for review"), attrs: { type: "button" } });
    flag.addEventListener("click", () => openFlagDialog(conv.id, {
      opener: flag,
      onDone: () => toast(t("Chat flagged for review."), { link: { text: t("Open Quality"), href: "/quality?who=all&reason=flag" } }),
    }));
    details.appendChild(el("div", { class: "past-actions" }, [flag]));
  }
  return details;
}

// ---- toasts ---------------------------------------------------------------

function errorText(error) {
  if (!error) return ERROR_TEXT.internal;
  if (error.code === "rate_limited" && typeof error.retry_after === "number") {
    const s = Math.max(1, Math.ceil(error.retry_after));
    return tn("You are sending too fast. Try again in {n} second.", "You are sending too fast. Try again in {n} seconds.", s);
  }
  return ERROR_TEXT[error.code] || error.message || t("Error: {code}", { code: error.code });
}

function showError(error) {
  toast(errorText(error));
}

function toast(text, options = {}) {
  toastIn(dom.toasts, text, { ms: TOAST_MS, ...options });
}

// ---------------------------------------------------------------------------
// Persistence helpers
// ---------------------------------------------------------------------------

const SELECTION_KEY = "switchboard.selected." + (me.id || "anon");
const RELOAD_KEY = "switchboard.reloadedAt";

function saveSelection(id) {
  try {
    if (id === null) window.sessionStorage.removeItem(SELECTION_KEY);
    else window.sessionStorage.setItem(SELECTION_KEY, String(id));
  } catch (e) {
    /* ignore */
  }
}

function loadSelection() {
  try {
    const v = parseInt(window.sessionStorage.getItem(SELECTION_KEY) || "", 10);
    return Number.isInteger(v) ? v : null;
  } catch (e) {
    return null;
  }
}

/** Reload the page once to get a new socket token; stop if that did not help. */
function reloadOnce() {
  let last = 0;
  try {
    last = parseInt(window.sessionStorage.getItem(RELOAD_KEY) || "0", 10) || 0;
  } catch (e) {
    last = Date.now(); // no storage: do not risk a reload loop
  }
  if (Date.now() - last > RELOAD_GUARD_MS) {
    try {
      window.sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
      stopTyping();
      window.location.reload();
      return;
    } catch (e) {
      /* fall through */
    }
  }
  sessionEnded();
}

/** Signed out (here or elsewhere), deactivated or timed out: stop, and offer to sign in again. */
function sessionEnded() {
  if (state.sessionEnded) return;
  state.sessionEnded = true;
  clearTimeout(manualReconnectTimer);
  socket.disconnect();
  setConnection("ended");
  dom.status.disabled = true;
  toast(t("Your session has ended."), { sticky: true, link: { href: "/login", text: t("Sign in again") } });
}

function clearReloadGuard() {
  try {
    window.sessionStorage.removeItem(RELOAD_KEY);
  } catch (e) {
    /* ignore */
  }
}

function pageVisible() {
  return document.visibilityState !== "hidden";
}

// ---------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------

dom.status.addEventListener("click", askNotificationPermission);
dom.status.addEventListener("change", () => {
  askNotificationPermission();
  changeStatus();
});

dom.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  sendReply();
});

dom.reply.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    sendReply();
  }
});
dom.reply.addEventListener("input", onReplyInput);
dom.reply.addEventListener("blur", () => {
  const chat = selectedChat();
  if (chat) chat.draft = dom.reply.value;
});

dom.closeBtn.addEventListener("click", closeSelected);
dom.transferBtn.addEventListener("click", () => {
  const chat = selectedChat();
  if (!chat || !canReply(chat)) return;
  openTransferDialog(request, chat.id, {
    // The transfer makes the chat read-only here, Transfer disabled with it.
    opener: () => focusFirst(dom.transferBtn) || focusFallback(),
    onDone: () => toast(t("Chat transferred.")),
    onError: showError,
  });
});
dom.createOrderBtn.addEventListener("click", () => {
  const chat = selectedChat();
  if (!chat || !chat.loaded) return;
  openWorkOrderDialog(chat.id, {
    opener: () => focusFirst(dom.createOrderBtn) || focusFallback(),
    onDone: (order) => {
      toast(t("Work order {number} created.", { number: order.number }), {
        link: { text: t("Open {number}", { number: order.number }), href: "/work-orders/" + order.id },
      });
      chat.orders = undefined; // read again
      renderVisitor();
    },
    onError: showError,
  });
});
if (dom.flagBtn) {
  dom.flagBtn.addEventListener("click", () => {
    const chat = selectedChat();
    if (!chat || !chat.loaded) return;
    openFlagDialog(chat.id, {
      opener: dom.flagBtn,
      onDone: () => toast(t("Chat flagged for review."), { link: { text: t("Open Quality"), href: "/quality?who=all&reason=flag" } }),
    });
  });
}
dom.dismissBtn.addEventListener("click", dismissSelected);
dom.leaveBtn.addEventListener("click", () => {
  const chat = selectedChat();
  if (!chat || !canLeave(chat)) return;
  whileBusy(dom.leaveBtn, async () => {
    const res = await request("leave", { conversation_id: chat.id });
    if (!res.ok) showError(res.error);
  });
});

document.addEventListener("keydown", (e) => {
  if (!e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === "ArrowUp") {
    e.preventDefault();
    moveSelection(-1);
  } else if (e.key === "ArrowDown") {
    e.preventDefault();
    moveSelection(1);
  }
});

document.addEventListener("visibilitychange", () => {
  const chat = selectedChat();
  if (chat && pageVisible()) markRead(chat);
});

window.addEventListener("pagehide", () => stopTyping());

unlockAudioOnGesture();
setInterval(renderList, 30000); // keeps "Waiting N min" current
setConnection("connecting");
renderAll();
