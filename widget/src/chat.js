// The chat panel of the Switchboard widget: widget-chat.js, loaded by widget.js (index.js) the
// first time the visitor opens the chat, accepts an invitation, or has a chat going. It speaks the
// chat part of the visitor protocol (docs/protocol.md) over the socket widget.js opened, and
// registers itself with window.Switchboard._chat(createChat).
import { createHelp } from "./help.js";
import { strings } from "./i18n.js";
import { buildPanel, el, formatMoment, formatTime, messageNode, reconcile, setText } from "./ui.js";

const MAX_CHARS = 5000; // message body limit, in characters (code points) after trimming
const MAX_CACHED = 300; // messages of the current conversation kept in localStorage
const TYPING_EVERY = 2000; // at most one typing:true per 2 s …
const TYPING_IDLE = 3000; // … and typing:false after 3 s without a keystroke
const EMAIL = /^[^@\s]+@[^@\s]+$/;

function newClientId() {
  const c = window.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Python's len(): code points, not UTF-16 units.
const charCount = (s) => Array.from(s).length;
const clip = (s, n) => (s ? String(s).slice(0, n) : s);

// ctx (from index.js): {socket, request(event, payload), store, lang, shell, state: {connected,
// everConnected, stopped, session}, launcherText: {openChat, closeChat, unread}, changed()}.
function createChat(ctx) {
  const { store, lang, state } = ctx;
  const request = ctx.request;
  const t = Object.assign({}, strings(lang), ctx.launcherText);
  const ui = buildPanel(ctx.shell, t, lang, MAX_CHARS);
  // Help (help.js): "Chat with us" there comes back here; the chat it starts says so (from_help).
  let fromHelp = false;
  // What waits for the connection (a search asked before the session came): resolved on the next
  // session, or false after `ms`.
  const waiting = new Set();
  const whenConnected = (ms) => state.connected ? Promise.resolve(true) : new Promise((resolve) => {
    const done = (ok) => {
      clearTimeout(timer);
      waiting.delete(done);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    waiting.add(done);
  });
  createHelp({ ui, t, lang, request, whenConnected, start: () => firstField().focus(), chat() {
    if (!isLive()) fromHelp = true;
    render();
    firstField().focus(); // as when the panel opens
  } });

  // --- state (mirrored in localStorage, see docs/widget.md) ---------------------------------
  let lastQueue = null; // the latest `queue` event (place in line while waiting)
  let availability = null; // {general, departments: {id: bool}} — whether anyone can chat now
  let offlineSent = null; // the e-mail a note was left for, on this page
  let noteMode = false; // the visitor chose to leave a note
  let departments = []; // the site's queues: {id, name, max_wait_seconds}
  let ratingChoice = null; // the rating being chosen for the chat that just ended
  let ratingBusy = false;
  let endedSeen = 0; // the conversation whose end the visitor was last told of
  let noteBusy = false;
  let confirming = false; // "End this chat?" is being asked
  let closedHours = null; // {opens_at}: the chosen queue is outside its business hours (outside_hours)
  let transcriptSent = null; // {id, email}: the transcript of chat `id` was mailed to `email`
  let conv = store.get("conv"); // {id, status, agent, last_seq, agent_read_seq} | null
  let messages = store.get("messages", []); // acknowledged messages of `conv`, ascending seq
  let outbox = store.get("outbox", []); // [{client_id, body, name?, email?, created_at}]
  let seen = store.get("seen", { id: 0, seq: 0 }); // the visitor has seen `conv` up to `seq`
  let profile = store.get("profile", {}); // {name, email} from identify() or the pre-chat form
  const asked = {}; // pre-chat fields the server asked for (prechat_required) on this page
  let earlier = []; // past conversations (from `history`, plus ones replaced on this page)
  let requests = []; // the visitor's work orders (from `history`): "Your requests"
  // Every seq here is in the visitor's numbering (docs/protocol.md, "Sequence numbers"). A cache
  // from before the server numbered what the visitor sees on its own may hold staff numbers
  // (with holes): drop its transcript once; the next `sync` (from 0) fetches it whole.
  if (store.get("numbering") !== "visitor") {
    if (conv) conv = Object.assign({}, conv, { last_seq: 0, agent_read_seq: 0 });
    messages = [];
    store.set("conv", conv);
    store.set("messages", messages);
    store.set("numbering", "visitor");
  }
  if (conv && conv.status === "closed") {
    // Ended on an earlier page: show it under "Earlier conversations" at once (`history`
    // replaces this list when it arrives) and start afresh.
    earlier = [Object.assign({}, conv, { messages })];
    conv = null;
    messages = [];
  }
  let flushing = false;
  let syncing = null;
  let historyLoaded = false;
  let retryTimer = null;
  let typingTimer = null; // our own typing:false after TYPING_IDLE
  let agentTypingTimer = null;
  let readSent = { id: 0, seq: 0 };
  let alertKind = "";

  const saveConv = () => {
    store.set("conv", conv);
    store.set("messages", messages.slice(-MAX_CACHED));
  };
  const isOpen = () => !ui.panel.hidden;
  const visible = () => isOpen() && document.visibilityState === "visible";
  const isLive = () => Boolean(conv && conv.status !== "closed");
  const lastSeq = () => (messages.length ? messages[messages.length - 1].seq : 0);

  // The site's settings (session.widget, docs/widget.md "Appearance"); defaults until it comes.
  const look = () => (state.session && state.session.widget) || {};
  const mode = (field) => (look().prechat || {})[field] || "optional";
  // Before a new chat: a required field while it is unknown; an optional one until the visitor
  // (or identify()) has given a name or an e-mail once.
  function asks(field) {
    const m = mode(field);
    if (m === "hidden") return false;
    if (m === "required" || asked[field]) return !profile[field];
    return !(profile.name || profile.email);
  }
  const topicsShown = () => look().topics !== false && departments.length > 0;

  // Focus: where the visitor starts, and where it goes when what had it disappears.
  const shown = (node) => node.getClientRects().length > 0;
  // The first field the visitor fills: the first pre-chat field shown (they come before the
  // message box), else the message box.
  function firstField() {
    if (!ui.prechat.hidden) for (const row of [ui.departmentRow, ui.nameRow, ui.emailRow]) if (!row.hidden) return row.lastChild;
    return ui.input;
  }
  // A chat that ended and waits for its rating starts there; anything else at the first field.
  const startField = () => (!ui.rating.hidden && !ui.thanks.textContent ? ui.rating : firstField());

  // The highest seq held without a gap before it: what `sync` asks to continue from. A cache
  // cut to MAX_CACHED starts mid-conversation; otherwise it must start at seq 1.
  function syncPoint() {
    if (!messages.length) return 0;
    let point = messages.length >= MAX_CACHED ? messages[0].seq : 0;
    for (const m of messages) {
      if (m.seq < point + 1) continue;
      if (m.seq !== point + 1) break;
      point = m.seq;
    }
    return point;
  }

  // Agent replies not yet seen; computed from the cache, so it survives navigation and two
  // tabs can never count the same reply twice.
  function unreadCount() {
    if (!conv) return 0;
    const from = seen.id === conv.id ? seen.seq : 0;
    return messages.filter((m) => m.sender === "agent" && m.seq > from).length;
  }

  // --- outbox: read-modify-write, because other tabs of the site share it ---------------------
  function outboxUpdate(fn) {
    outbox = fn(store.get("outbox", []));
    store.set("outbox", outbox);
  }
  const outboxRemove = (clientId) => outboxUpdate((box) => box.filter((o) => o.client_id !== clientId));

  // --- rendering ------------------------------------------------------------------------------
  function messageView(m, readSeq, lastVisitorSeq) {
    const kind = m.sender === "visitor" ? "visitor" : m.sender === "system" ? "system" : "agent";
    const who =
      kind === "visitor" ? t.you : kind === "system" ? t.system : m.author || (conv && conv.agent && conv.agent.name) || t.agent;
    let state = "";
    let note = "";
    if (kind === "visitor" && readSeq != null) {
      state = readSeq >= m.seq ? "read" : "delivered";
      if (m.seq === lastVisitorSeq) note = state === "read" ? t.read : t.delivered;
    }
    return { key: `${kind}:${m.client_id || m.seq}`, kind, who, body: m.body, time: formatTime(m.created_at, lang), state, note };
  }

  function render() {
    const focused = ui.root.activeElement; // inside the widget, or null
    const b = ui.body;
    const w = look();
    setText(ui.title, (w.title && w.title[lang]) || t.title);
    const greeting = (w.greeting && w.greeting[lang]) || "";
    setText(ui.greeting, greeting);
    ui.greeting.hidden = !greeting;
    ui.departmentRow.hidden = !topicsShown();
    ui.nameRow.hidden = !asks("name");
    ui.emailRow.hidden = !asks("email");
    setText(ui.nameLabel, mode("name") === "required" ? t.nameRequired : t.name);
    setText(ui.emailLabel, mode("email") === "required" ? t.emailRequiredLabel : t.email);
    ui.name.required = mode("name") === "required";
    ui.email.required = mode("email") === "required";
    const atBottom = b.scrollHeight - b.scrollTop - b.clientHeight < 48;
    const readSeq = (conv && conv.agent_read_seq) || 0;
    const lastVisitorSeq = messages.reduce((s, m) => (m.sender === "visitor" ? m.seq : s), 0);
    const views = messages.map((m) => messageView(m, readSeq, lastVisitorSeq));
    for (const o of outbox) {
      // Same key as once acknowledged (visitor:<client_id>), so the node is patched, not re-added.
      views.push({ key: `visitor:${o.client_id}`, kind: "visitor", who: t.you, body: o.body,
        time: formatTime(o.created_at, lang), state: "sending", note: t.sending });
    }
    reconcile(ui.log, views);

    const closed = Boolean(conv && conv.status === "closed");
    ui.ended.classList.toggle("on", closed);
    setText(ui.endedText, closed ? t.ended : "");
    setText(ui.rateHint, closed && conv.agent ? " " + t.rateHint : "");
    renderRating(closed);
    renderEnd(closed);
    if (closed) ui.typing.hidden = true;
    if (closed && endedSeen !== conv.id) {
      endedSeen = conv.id;
      // It ended while the visitor was in the panel: the rating comes to their focus (the end is
      // said by ui.ended) instead of waiting many Tabs back up the panel.
      if (focused && ui.panel.contains(focused) && !ui.rating.hidden && shown(ui.rating)) ui.rating.focus();
    }
    // Optional name/e-mail before the first message of a new conversation, unless identify()
    // (or an earlier answer) already gave them.
    // Nobody can chat in the chosen queue, or the wait is long: offer a note for the team (the
    // chat stays possible).
    const nobody = !isLive() && outbox.length === 0 && (!queueOpen() || Boolean(closedHours));
    const longWait = waitedTooLong();
    const offer = w.offline_form !== false && (nobody || longWait); // the site may have no offline form
    if (!offer) noteMode = false;
    ui.offText.textContent = longWait ? t.longWait
      : closedHours ? t.closedUntil(formatMoment(closedHours.opens_at, lang)) : t.offlineNotice;
    ui.offNotice.hidden = !offer || noteMode;
    ui.offline.hidden = !(offer && noteMode);
    ui.form.hidden = offer && noteMode;
    setText(ui.offThanks, offlineSent ? t.offlineThanks(offlineSent) : "");
    // The topic (department) is asked each time a new conversation starts, when the site has some
    // and lets visitors pick.
    ui.prechat.hidden = isLive() || outbox.length > 0 || !(asks("name") || asks("email") || topicsShown());
    let sub = t.subtitle;
    if (isLive() && conv.agent && conv.agent.name) sub = t.withAgent(conv.agent.name);
    else if (isLive() && conv.status === "held") sub = t.heldUntil(formatMoment(conv.opens_at, lang));
    else if (isLive() && conv.queue && Number.isInteger(conv.queue.position)) {
      const eta = conv.queue.eta_seconds;
      sub = t.queuePlace(conv.queue.position, typeof eta === "number" ? Math.max(1, Math.round(eta / 60)) : null);
    } else if (isLive()) sub = t.waiting;
    if (ui.subtitle.textContent !== sub) ui.subtitle.textContent = sub;
    renderBadge();
    if (atBottom) b.scrollTop = b.scrollHeight;
    // What had the focus was hidden or disabled (the rating sent, the note form gone, …): focus
    // goes on to the rating or the first field, never to nothing.
    const now = ui.root.activeElement;
    if (focused && isOpen() && (!now || now.disabled || !shown(now))) {
      const next = shown(ui.rating) ? ui.rating : firstField();
      if (shown(next)) next.focus();
    }
  }

  function renderRating(closed) {
    // Only a chat someone answered is rated (not one left in the queue).
    const rateable = closed && Boolean(conv.agent);
    ui.rating.hidden = !rateable;
    if (!rateable) return;
    const given = conv.rating && conv.rating.rating;
    const shown = ratingChoice || given || null;
    for (const b of ui.rateButtons) b.setAttribute("aria-pressed", String(b.getAttribute("data-rating") === shown));
    ui.sendRating.disabled = !ratingChoice; // (not while sending: focus stays on it)
    // A live region: set, not shown, so that the thanks are said.
    setText(ui.thanks, given && !(ratingChoice && ratingChoice !== given) ? `${t.thanks} · ${t.rated(t[given])}` : "");
  }

  // "End chat" ("Leave queue" while the chat waits or is held outside business hours), asked once;
  // and, after the end, the transcript by mail when the visitor gave an address.
  function renderEnd(closed) {
    const waiting = isLive() && conv.status !== "assigned";
    if (!isLive()) confirming = false;
    ui.endBar.hidden = !isLive();
    ui.end.hidden = confirming;
    ui.endConfirm.hidden = !confirming;
    setText(ui.end, waiting ? t.leaveQueue : t.endChat);
    setText(ui.endAsk, waiting ? t.leaveAsk : t.endAsk);
    setText(ui.endYes, waiting ? t.leaveYes : t.endYes);
    const email = profile.email && EMAIL.test(profile.email) ? profile.email : "";
    const sent = closed && transcriptSent && transcriptSent.id === conv.id;
    ui.transcript.hidden = !closed || !email || Boolean(sent);
    setText(ui.transcriptNote, sent ? t.transcriptSent(transcriptSent.email) : "");
  }
  function ask(on) {
    confirming = on;
    render();
    (on ? ui.endNo : ui.end).focus();
  }
  ui.end.addEventListener("click", () => ask(true));
  ui.endNo.addEventListener("click", () => ask(false));
  ui.endYes.addEventListener("click", async () => {
    if (!isLive()) return ask(false);
    const id = conv.id;
    const ack = await request("close", { conversation_id: id });
    confirming = false;
    if (!ack.ok && ack.error.code !== "invalid_state") showAlert(t.error, "end");
    await sync(); // the end (or whatever the chat became meanwhile)
    render();
    if (ui.root.activeElement == null || !shown(ui.root.activeElement)) startField().focus();
  });
  ui.transcript.addEventListener("click", async () => {
    if (!conv || conv.status !== "closed") return;
    const id = conv.id;
    const payload = { conversation_id: id, language: lang };
    try {
      payload.time_zone = Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
    } catch (e) {} // no zone known: the mail says UTC
    const ack = await request("transcript", payload);
    if (ack.ok) {
      transcriptSent = { id, email: ack.to };
      showAlert("");
      render();
      ui.transcriptNote.focus();
    } else showAlert(ack.error.code === "rate_limited" ? t.tooFast : t.error, "transcript");
  });

  for (const b of ui.rateButtons) {
    b.addEventListener("click", () => {
      ratingChoice = b.getAttribute("data-rating");
      render();
    });
  }
  ui.sendRating.addEventListener("click", async () => {
    if (!conv || conv.status !== "closed" || !ratingChoice || ratingBusy) return;
    ratingBusy = true;
    render();
    const payload = { conversation_id: conv.id, rating: ratingChoice };
    const comment = ui.comment.value.trim();
    if (comment) payload.comment = clip(comment, 1000);
    const ack = await request("rate", payload);
    ratingBusy = false;
    if (ack.ok) {
      conv.rating = { rating: ack.rating, comment: ack.comment, at: ack.at };
      ratingChoice = null;
      saveConv();
      showAlert("");
    } else {
      showAlert(ack.error.code === "too_large" ? t.tooLong(1000) : t.error, "rating");
    }
    render();
  });

  function renderBadge() {
    const n = isOpen() ? 0 : unreadCount();
    ui.badge.hidden = n === 0;
    ui.badge.textContent = n > 99 ? "99+" : String(n);
    const label = isOpen() ? t.closeChat : t.openChat;
    ui.launcher.setAttribute("aria-label", n > 0 ? t.unread(label, n) : label);
  }

  function renderStatus(text, error = false) {
    ui.status.hidden = !text;
    ui.status.textContent = text || "";
    ui.status.className = error ? "status error" : "status";
  }

  function showAlert(text, kind = "") {
    alertKind = text ? kind : "";
    ui.alert.hidden = !text;
    ui.alert.textContent = text || "";
  }

  function renderEarlier() {
    const past = earlier.filter((c) => !conv || c.id !== conv.id);
    ui.earlier.textContent = "";
    ui.earlier.hidden = past.length === 0 && requests.length === 0;
    if (requests.length) {
      // "Your requests": the visitor's work orders, each with its status and its status link.
      const section = ui.earlier.appendChild(el("section", { className: "requests" }));
      section.setAttribute("aria-label", t.requests);
      section.appendChild(el("h3", { text: t.requests }));
      const list = section.appendChild(el("ul", {}));
      for (const r of requests) {
        const link = el("a", { text: `${r.number} · ${r.subject}` });
        link.href = r.link;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        const item = list.appendChild(el("li", {}));
        item.appendChild(link);
        item.appendChild(el("span", { className: "request-status", text: ` — ${t.statuses[r.status] || r.status_label}` }));
      }
    }
    if (!past.length) return;
    ui.earlier.appendChild(el("h3", { text: t.earlier }));
    past.forEach((c, i) => {
      // The most recent one starts expanded, older ones collapsed.
      const details = el("details", { open: i === 0 });
      const agent = c.agent && c.agent.name ? ` · ${c.agent.name}` : "";
      details.appendChild(el("summary", { text: formatTime(c.created_at, lang, true) + agent }));
      const past = details.appendChild(el("div", { className: "past" }));
      for (const m of c.messages || []) {
        const kind = m.sender === "visitor" ? "visitor" : m.sender === "system" ? "system" : "agent";
        const who = kind === "visitor" ? t.you : kind === "system" ? t.system : m.author || (c.agent && c.agent.name) || t.agent;
        past.appendChild(messageNode({ kind, who, body: m.body, time: formatTime(m.created_at, lang, true) }));
      }
      ui.earlier.appendChild(details);
    });
  }

  // --- conversation state ---------------------------------------------------------------------
  // Switches to conversation `c` (a Conversation, or a stub made from a message or an ack). The
  // one it replaces goes to "Earlier conversations" on this page.
  function applyQueue() {
    if (!lastQueue || !conv || lastQueue.conversation_id !== conv.id || conv.status !== "waiting") return false;
    conv.queue = { position: lastQueue.position, eta_seconds: lastQueue.eta_seconds };
    return true;
  }

  function adopt(c) {
    if (conv && conv.id === c.id) {
      // A stub (from an ack or a message) must not wipe what a fuller payload told us.
      conv = Object.assign({}, conv, c, c.queue === undefined && conv.queue ? { queue: conv.queue } : {});
    } else {
      if (conv && messages.length) {
        earlier = [Object.assign({}, conv, { messages })].concat(earlier.filter((e) => e.id !== conv.id));
      }
      conv = Object.assign({ status: "waiting", agent: null, last_seq: 0, agent_read_seq: 0 }, c);
      applyQueue();
      ratingChoice = null;
      ui.comment.value = "";
      messages = [];
      ui.typing.hidden = true;
      renderEarlier();
    }
    saveConv();
  }

  // Adds a message once (by seq); false when it was a duplicate or belongs to an older chat.
  function addMessage(m) {
    if (!m || typeof m.seq !== "number") return false;
    if (!conv || m.conversation_id !== conv.id) {
      if (conv && m.conversation_id < conv.id) return false;
      adopt({ id: m.conversation_id });
    }
    if (m.sender === "visitor" && m.client_id) outboxRemove(m.client_id);
    if (messages.some((x) => x.seq === m.seq)) return false;
    let i = messages.length;
    while (i > 0 && messages[i - 1].seq > m.seq) i--;
    messages.splice(i, 0, m);
    conv.last_seq = Math.max(conv.last_seq || 0, m.seq);
    return true;
  }

  function dropConversation() {
    conv = null;
    messages = [];
    saveConv();
  }

  // sync {conversation_id, after_seq}: the conversation's state plus what we have not seen.
  function sync() {
    if (!syncing) {
      syncing = doSync().finally(() => (syncing = null));
    }
    return syncing;
  }
  async function doSync() {
    if (!state.connected || !conv) return;
    const id = conv.id;
    const ack = await request("sync", { conversation_id: id, after_seq: syncPoint() });
    if (!conv || conv.id !== id) return;
    if (!ack.ok) {
      if (ack.error.code === "not_found") dropConversation(); // not ours (any more)
      render();
      return;
    }
    if (ack.conversation) adopt(ack.conversation);
    for (const m of ack.messages || []) addMessage(m);
    saveConv();
    render();
    noticeSeen();
    maybeLoadHistory();
  }

  // Fill a hole (a reply broadcast we missed while our own message was acked, say).
  function syncIfGap() {
    if (conv && syncPoint() < lastSeq()) sync();
  }

  // history: the visitor's earlier conversations. Asked when the panel is open and there is no
  // live conversation (a returning visitor, or one whose chat just ended).
  // The latest ask wins (after a verified identify the list may grow; an older answer must not
  // replace it).
  let historyAsked = 0;
  async function maybeLoadHistory() {
    if (historyLoaded || !state.connected || !isOpen() || isLive()) return;
    historyLoaded = true;
    const ask = ++historyAsked;
    const ack = await request("history", {});
    if (ask !== historyAsked) return;
    if (!ack.ok) {
      historyLoaded = false;
      return;
    }
    earlier = (ack.conversations || []).filter((c) => c && typeof c.id === "number");
    requests = (ack.requests || []).filter((r) => r && typeof r.number === "string" && /^https?:/.test(r.link));
    renderEarlier();
  }

  // The visitor is looking at the conversation: clear the badge and tell the agent (`read`).
  function noticeSeen() {
    if (!conv || !visible()) return;
    const seq = lastSeq();
    if (seen.id !== conv.id || seen.seq < seq) {
      seen = { id: conv.id, seq };
      store.set("seen", seen);
    }
    if (state.connected && seq && (readSent.id !== conv.id || readSent.seq < seq)) {
      readSent = { id: conv.id, seq };
      request("read", { conversation_id: conv.id, seq });
    }
    renderBadge();
  }

  // --- panel ----------------------------------------------------------------------------------
  // The chat has waited longer than its queue's maximum wait (set per department).
  function waitedTooLong() {
    if (!conv || conv.status !== "waiting" || !conv.created_at) return false;
    const department = departments.find((d) => d.id === conv.department);
    const limit = department && Number(department.max_wait_seconds);
    return Boolean(limit) && Date.now() - Date.parse(conv.created_at) > limit * 1000;
  }

  function queueOpen() {
    if (!availability) return true; // not known yet: chat as usual
    const chosen = ui.departmentRow.hidden ? "" : ui.department.value;
    if (!chosen) return Boolean(availability.general);
    return Boolean(availability.departments && availability.departments[chosen]);
  }

  async function checkAvailability() {
    if (!state.connected || isLive()) return;
    const ack = await request("availability", {});
    if (ack.ok) {
      availability = { general: ack.general, departments: ack.departments || {} };
      render();
    }
  }

  function openPanel(focus = true) {
    if (!isOpen()) {
      checkAvailability();
      ui.panel.hidden = false;
      ui.launcher.setAttribute("aria-expanded", "true");
      store.set("open", true);
      render();
      ui.body.scrollTop = ui.body.scrollHeight;
      noticeSeen();
      maybeLoadHistory();
      ctx.changed();
    }
    if (focus) startField().focus();
  }

  function closePanel() {
    if (!isOpen()) return;
    // Only move focus if it was inside the widget: an API call must not steal the page's focus.
    const hadFocus = document.activeElement === ui.host;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    store.set("open", false);
    renderBadge();
    if (hadFocus) ui.launcher.focus();
    ctx.changed();
  }

  ui.minimize.addEventListener("click", closePanel);
  ui.root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && isOpen()) {
      e.stopPropagation();
      if (confirming) ask(false);
      else closePanel();
    }
  });
  document.addEventListener("visibilitychange", noticeSeen);

  // --- sending --------------------------------------------------------------------------------
  // Sends the outbox in order, one at a time, each with its original client_id (the server is
  // idempotent on it, so resending after a reconnect is safe).
  async function flush() {
    if (flushing || !state.connected) return;
    flushing = true;
    try {
      outbox = store.get("outbox", []);
      while (state.connected && outbox.length) {
        const item = outbox[0];
        const payload = { client_id: item.client_id, body: item.body };
        if (item.name) payload.name = item.name;
        if (item.email) payload.email = item.email;
        if (item.department_id) payload.department_id = item.department_id;
        if (item.from_help) payload.from_help = true;
        const ack = await request("message", payload);
        if (ack.ok) {
          if (alertKind === "send") showAlert("");
          // Acknowledged, whichever conversation holds it: a resend that the server matched to a
          // message of an earlier conversation must not stay in the outbox (and be resent forever).
          outboxRemove(item.client_id);
          const started = !conv || conv.id !== ack.conversation_id;
          addMessage({ conversation_id: ack.conversation_id, seq: ack.seq, client_id: item.client_id, sender: "visitor",
            author: item.name || profile.name || null, body: item.body, created_at: ack.created_at });
          saveConv();
          render();
          // A new conversation: fetch the whole of it (its queue, department, start time).
          if (started) sync();
          else syncIfGap();
          continue;
        }
        const code = ack.error.code;
        if (code === "outside_hours") {
          // The queue is closed now: nothing was stored. Say when it opens, and offer a note
          // with what the visitor wrote.
          outboxRemove(item.client_id);
          if (!ui.offBody.value) ui.offBody.value = item.body;
          if (item.email && !ui.offEmail.value) ui.offEmail.value = item.email;
          closedHours = { opens_at: ack.error.opens_at || null };
          render();
          ui.offOpen.focus();
          continue;
        }
        if (code === "rate_limited") {
          showAlert(t.tooFast, "send");
          retry(Math.max(1, Number(ack.error.retry_after) || 2) * 1000);
          break;
        }
        if (code === "bad_request" || code === "too_large" || code === "prechat_required" || code === "preview") {
          // Will never be accepted: take it out and give the text back to edit (a required
          // pre-chat field the server missed: ask for it).
          outboxRemove(item.client_id);
          if (!ui.input.value) ui.input.value = item.body;
          const field = ack.error.field;
          if (code === "prechat_required") asked[field] = true;
          showAlert(code === "too_large" ? t.tooLong(MAX_CHARS) : code === "preview" ? t.preview
            : code === "prechat_required" ? (field === "name" ? t.needName : t.needEmail) : t.badInput, "send");
          render();
          continue;
        }
        // timeout / internal / anything else: keep it and try again with the same client_id.
        showAlert(t.error, "send");
        retry(3000);
        break;
      }
    } finally {
      flushing = false;
    }
  }

  function retry(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, ms);
  }

  function submit() {
    const body = ui.input.value.trim();
    if (!body) return;
    if (charCount(body) > MAX_CHARS) {
      showAlert(t.tooLong(MAX_CHARS), "length");
      return;
    }
    const fromForm = !ui.prechat.hidden;
    const askName = fromForm && !ui.nameRow.hidden;
    const askEmail = fromForm && !ui.emailRow.hidden;
    const name = askName ? ui.name.value.trim() : profile.name;
    const email = askEmail ? ui.email.value.trim() : profile.email;
    if (askName && !name && mode("name") === "required") {
      showAlert(t.needName, "prechat");
      ui.name.focus();
      return;
    }
    if (askEmail && !email && mode("email") === "required") {
      showAlert(t.needEmail, "prechat");
      ui.email.focus();
      return;
    }
    if (askEmail && email && !EMAIL.test(email)) {
      showAlert(t.emailInvalid, "email");
      ui.email.focus();
      return;
    }
    if (fromForm && (name || email)) {
      profile = { name: name || profile.name, email: email || profile.email };
      store.set("profile", profile);
    }
    const item = { client_id: newClientId(), body, created_at: new Date().toISOString() };
    // Name and e-mail travel with the first message of a new conversation.
    if (!isLive() && !outbox.length) {
      if (name) item.name = clip(name, 100);
      if (email) item.email = clip(email, 254);
      const department = Number(ui.department.value);
      if (!ui.departmentRow.hidden && Number.isInteger(department) && department > 0) item.department_id = department;
      if (fromHelp) item.from_help = true;
      fromHelp = false;
    }
    outboxUpdate((box) => box.concat([item]));
    showAlert("");
    ui.input.value = "";
    autosize();
    stopTyping();
    ui.body.scrollTop = ui.body.scrollHeight;
    render();
    ui.body.scrollTop = ui.body.scrollHeight;
    flush();
  }

  ui.department.addEventListener("change", () => {
    closedHours = null; // another queue: its own hours
    render();
  });
  ui.offOpen.addEventListener("click", () => {
    noteMode = true;
    render();
    ui.offEmail.focus();
  });
  ui.offBack.addEventListener("click", () => {
    noteMode = false;
    render();
    firstField().focus();
  });
  ui.offline.addEventListener("submit", async (e) => {
    e.preventDefault();
    // Send is not disabled while the note goes: a disabled button would drop the visitor's focus.
    if (noteBusy) return;
    const email = ui.offEmail.value.trim();
    const body = ui.offBody.value.trim();
    if (!email || !EMAIL.test(email)) {
      showAlert(t.emailRequired, "offline");
      ui.offEmail.focus();
      return;
    }
    if (!body) {
      ui.offBody.focus();
      return;
    }
    if (charCount(body) > MAX_CHARS) {
      showAlert(t.tooLong(MAX_CHARS), "offline");
      return;
    }
    const payload = { email: clip(email, 254), body };
    const name = ui.offName.value.trim();
    if (name) payload.name = clip(name, 100);
    const department = Number(ui.department.value);
    if (!ui.departmentRow.hidden && Number.isInteger(department) && department > 0) payload.department_id = department;
    noteBusy = true;
    const ack = await request("leave_message", payload);
    noteBusy = false;
    if (ack.ok) {
      offlineSent = email;
      ui.offBody.value = "";
      showAlert("");
    } else {
      showAlert(ack.error.code === "rate_limited" ? t.tooFast : t.error, "offline");
    }
    render();
  });

  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  ui.input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a newline; never while an IME is composing.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });

  // typing {typing}: true at most once per TYPING_EVERY, false after TYPING_IDLE or on send.
  let typingOn = false;
  let typingSentAt = 0;
  function emitTyping(typing) {
    if (state.connected && isLive()) request("typing", { typing });
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) {
      typingOn = false;
      emitTyping(false);
    }
  }
  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 120) + "px";
  }
  ui.input.addEventListener("input", () => {
    autosize();
    if (alertKind === "length" && charCount(ui.input.value.trim()) <= MAX_CHARS) showAlert("");
    if (!ui.input.value.trim()) return stopTyping();
    const now = Date.now();
    if (now - typingSentAt >= TYPING_EVERY) {
      typingSentAt = now;
      typingOn = true;
      emitTyping(true);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE);
  });

  // --- events from the socket (index.js passes them on) ---------------------------------------
  // The connection's state changed: what the status line says.
  function status() {
    if (state.stopped) renderStatus(t.unavailable, true);
    else if (state.connected) renderStatus("");
    else renderStatus(state.everConnected ? t.reconnecting : t.connecting);
  }

  // After every (re)connect (index.js has stored the token and sent the page view): sync, then
  // resend the outbox.
  async function session(s) {
    for (const done of [...waiting]) done(true);
    status();
    renderDepartments(Array.isArray(s.departments) ? s.departments : []);
    if (isOpen()) checkAvailability();
    if (s.conversation) adopt(s.conversation);
    else if (conv && conv.status === "closed") dropConversation(); // ended earlier: it is history now
    // A live one syncs; one we think live but the server does not learns that it was closed.
    if (conv) await sync();
    render();
    noticeSeen();
    flush();
    maybeLoadHistory();
    ctx.changed();
  }

  // Our identity was refused (index.js starts over as a new visitor): the old conversation
  // belongs to the old identity; unsent messages stay and go out as the new one.
  function reset() {
    dropConversation();
    earlier = [];
    historyLoaded = false;
    renderEarlier();
    render();
  }

  const on = {};
  on.message = (m) => {
    if (!addMessage(m)) return;
    if (m.sender === "agent") ui.typing.hidden = true;
    saveConv();
    render();
    noticeSeen();
    syncIfGap();
  };

  on.conversation = (c) => {
    if (!c || typeof c.id !== "number" || (conv && c.id < conv.id)) return;
    adopt(c);
    render();
    maybeLoadHistory();
    ctx.changed();
  };

  // While waiting: the place in the queue and an estimate, whenever they change.
  // While a chat waits, look now and then whether the wait has become long.
  setInterval(() => {
    if (conv && conv.status === "waiting" && isOpen() && ui.offNotice.hidden && waitedTooLong()) render();
  }, 5000);

  // It can arrive before the ack that tells us the new conversation's id: kept until adopted.
  on.queue = (q) => {
    if (!q || !Number.isInteger(q.conversation_id)) return;
    lastQueue = q;
    if (applyQueue()) {
      saveConv();
      render();
    }
  };

  function renderDepartments(list) {
    const valid = list.filter((d) => d && Number.isInteger(d.id) && typeof d.name === "string");
    departments = valid;
    const chosen = ui.department.value;
    while (ui.department.firstChild) ui.department.removeChild(ui.department.firstChild);
    const none = document.createElement("option");
    none.value = "";
    none.textContent = t.anyDepartment;
    ui.department.appendChild(none);
    for (const d of valid) {
      const option = document.createElement("option");
      option.value = String(d.id);
      option.textContent = d.name; // text, never markup
      ui.department.appendChild(option);
    }
    ui.department.value = valid.some((d) => String(d.id) === chosen) ? chosen : "";
  }

  on.typing = (x) => {
    if (!x || (conv && x.conversation_id && x.conversation_id !== conv.id)) return;
    clearTimeout(agentTypingTimer);
    ui.typing.hidden = !x.typing;
    ui.typing.textContent = x.typing ? t.typing(x.name || (conv && conv.agent && conv.agent.name)) : "";
    // A lost typing:false must not leave the indicator up forever.
    if (x.typing) agentTypingTimer = setTimeout(() => (ui.typing.hidden = true), 10000);
  };

  on.read = (r) => {
    if (!r || !conv || r.conversation_id !== conv.id) return;
    conv.agent_read_seq = Math.max(conv.agent_read_seq || 0, r.seq);
    saveConv();
    render();
  };

  // Other tabs of the site: keep the badge and the outbox in step.
  store.onChange("seen", (value) => {
    seen = value || { id: 0, seq: 0 };
    renderBadge();
  });
  store.onChange("outbox", (value) => {
    outbox = value || [];
    render();
  });

  status();
  render();
  renderEarlier();
  if (state.session && state.connected) session(state.session);

  return {
    session,
    status,
    reset,
    event: (name, payload) => on[name] && on[name](payload),
    open: openPanel,
    close: closePanel,
    isOpen,
    isLive,
    // identify() was verified: the person's other devices' conversations belong in "Earlier
    // conversations" (now, or when the panel next opens).
    identified() {
      historyLoaded = false;
      maybeLoadHistory();
    },
    // identify() changed the profile (name/e-mail for the next conversation).
    profile() {
      profile = store.get("profile", {});
      render();
    },
  };
}

// The admin's live preview (/admin/widget/preview/<site>, docs/widget.md "Preview"): the real
// panel, open, on a session the page gives, with no socket — nothing is sent, no visitor is made.
// The admin page posts {type: "switchboard-preview", widget} (same origin, from the parent
// frame only) as its form changes; the panel is told when it can take them.
createChat.preview = (o) => {
  const memory = {};
  const store = { get: (k, d = null) => (k in memory ? memory[k] : d), set: (k, v) => (memory[k] = v),
    remove: (k) => delete memory[k], onChange() {} };
  const state = { connected: true, everConnected: true, stopped: false, session: o.session };
  const answers = { availability: { ok: true, general: false, departments: {} }, history: { ok: true, conversations: [] } };
  const request = (event) => Promise.resolve(answers[event] || { ok: false, error: { code: "preview", message: "" } });
  const chat = createChat({ request, store, lang: o.lang, shell: o.shell, state, launcherText: o.launcherText, changed() {} });
  o.shell.launcher.addEventListener("click", () => (chat.isOpen() ? chat.close() : chat.open(true)));
  chat.open(false);
  window.addEventListener("message", (e) => {
    const d = e.data;
    if (e.origin !== location.origin || e.source !== window.parent || !d || d.type !== "switchboard-preview") return;
    state.session = Object.assign({}, state.session, { widget: d.widget });
    o.look(d.widget);
    chat.session(state.session);
  });
  if (window.parent !== window) window.parent.postMessage({ type: "switchboard-preview-ready" }, location.origin);
};

const register = window.Switchboard && window.Switchboard._chat;
if (register) register(createChat);
