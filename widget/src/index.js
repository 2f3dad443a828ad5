// Switchboard chat widget, the part on every page (widget.js). Embedded with
//   <script async src="BASE/widget.js" data-site="SITE_KEY"></script>
// it opens the socket to BASE + "/visitor" (docs/protocol.md), tracks page views (tracking.js),
// shows the launcher, its badge and invitations (invite.js), and loads the chat panel
// (BASE/widget-chat.js, chat.js) only when it is needed: the visitor opens the chat, accepts an
// invitation, or has a chat going.
import { loadChatScript, openSocket, refusalCode, request, resolveBase } from "./connection.js";
import { LAUNCHER, pickLanguage } from "./i18n.js";
import { createInvitations } from "./invite.js";
import { applyLook, buildShell } from "./shell.js";
import { createStore } from "./store.js";
import { createTracker } from "./tracking.js";

const VERSION = "0.2.0";
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const CHAT_EVENTS = ["message", "conversation", "queue", "typing", "read"];

// document.currentScript only exists while this file is first evaluated, so read it now.
const SCRIPT =
  (document.currentScript && document.currentScript.getAttribute("data-site") && document.currentScript) ||
  document.querySelector('script[data-site][src*="widget.js"]');

function start(script, api, global) {
  const siteKey = script.getAttribute("data-site");
  const base = resolveBase(script.src);
  // The admin's preview (/admin/widget): the session to show, no socket (docs/widget.md, "Preview").
  const preview = script.getAttribute("data-preview");
  const forced = preview != null && script.getAttribute("data-lang");
  const lang = LAUNCHER[forced] ? forced : pickLanguage(navigator.languages || [navigator.language]);
  const t = LAUNCHER[lang] || LAUNCHER.en;
  const shell = buildShell(t, lang);
  document.body.appendChild(shell.host);
  if (preview != null) {
    const session = JSON.parse(preview);
    applyLook(shell, session.widget);
    loadChatScript(base, __CHAT_VERSION__, global).then((createChat) =>
      createChat.preview({ shell, lang, launcherText: t, session, look: (w) => applyLook(shell, w) }));
    return;
  }
  const store = createStore(siteKey);
  applyLook(shell, store.get("look")); // as on the last page, until the session says

  // What the chat panel needs to know about the connection (it reads, index.js writes).
  const state = { connected: false, everConnected: false, stopped: false, session: null };
  let tokenRetried = false;
  let chat = null; // the chat panel, once widget-chat.js has run
  let early = []; // chat events that came before it: replayed to it in order
  let loading = null;

  const socket = openSocket(base, siteKey, store);
  const send = (event, payload) => request(socket, event, payload);

  const liveInCache = () => {
    const c = store.get("conv");
    return Boolean(c && c.status !== "closed");
  };
  // A chat is going or the panel is open: no invitation now.
  const busy = () => (chat ? chat.isOpen() || chat.isLive() : liveInCache() || Boolean(state.session && state.session.conversation));

  let invitations = null; // (created below: the tracker reports the first page view before)
  const ctx = { request: send, store, lang, shell, state, launcherText: t, changed: () => invitations.refresh() };
  function loadChat() {
    if (!loading) {
      loading = loadChatScript(base, __CHAT_VERSION__, global).then(
        (createChat) => {
          if (!chat) {
            chat = createChat(ctx);
            const replay = early;
            early = [];
            for (const [name, payload] of replay) chat.event(name, payload);
          }
          return chat;
        },
        (err) => {
          loading = null;
          console.warn(err.message);
          throw err;
        },
      );
    }
    return loading;
  }
  const openChat = (focus) => loadChat().then((c) => c.open(focus), () => {});

  shell.launcher.addEventListener("click", () => {
    if (chat && chat.isOpen()) chat.close();
    else openChat(true);
  });

  const tracker = createTracker({
    send,
    connected: () => state.connected,
    store,
    siteKey,
    base,
    onView: () => invitations && invitations.pageChanged(),
    // A verified identity brings the person's transcripts from their other devices: a panel
    // loaded (or loading) asks `history` again. One loaded later asks anyway when it opens.
    onIdentified: (ack) => {
      if (ack.ok && ack.verified && loading) loading.then((c) => c.identified(), () => {});
    },
  });
  invitations = createInvitations({
    shell,
    t,
    send,
    busy,
    tracker,
    accepted: (conversation) =>
      loadChat().then((c) => {
        c.event("conversation", conversation);
        c.open(true);
      }, () => {}),
  });

  // --- socket ---------------------------------------------------------------------------------
  // After every (re)connect: store the renewed token, tracking, invitations, then the chat.
  socket.on("session", (s) => {
    state.connected = true;
    state.everConnected = true;
    state.session = s;
    tokenRetried = false;
    store.set("token", s.token);
    store.set("vid", s.visitor_id);
    applyLook(shell, s.widget);
    store.set("look", s.widget);
    tracker.session(s);
    if (chat) chat.session(s);
    else if (s.conversation) loadChat().catch(() => {});
    invitations.session(s);
  });

  socket.on("disconnect", (reason) => {
    state.connected = false;
    if (state.stopped) return;
    if (chat) chat.status();
    // The server hung up on purpose: socket.io will not retry by itself, so do it gently.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 5000);
  });

  socket.on("connect_error", (err) => {
    state.connected = false;
    const code = refusalCode(err);
    if ((code === "invalid_token" || code === "token_expired") && !tokenRetried) {
      // Our identity is no good: start over once as a new visitor.
      tokenRetried = true;
      store.remove("token");
      store.remove("vid");
      if (chat) chat.reset();
      else {
        store.set("conv", null);
        store.set("messages", []);
      }
      socket.connect();
      return;
    }
    if (code === "rate_limited") {
      // Too many new visitors from this address or for this site just now: try again when the
      // server says (with jitter, so that many pages do not come back at once), not at once.
      const after = Math.min(Math.max(Number(err.data.retry_after) || 30, 5), 300);
      socket.disconnect();
      setTimeout(() => socket.connect(), (after + Math.random() * after * 0.5) * 1000);
      if (chat) chat.status();
      return;
    }
    if (code) {
      // Refused for good on this page (wrong origin, unknown site, …): say so once and stop.
      state.stopped = true;
      console.warn(`Switchboard: chat unavailable (${code}).`);
      socket.disconnect();
    }
    if (chat) chat.status(); // network trouble: socket.io retries
  });

  // Chat events go to the panel; one that comes before it was loaded loads it (a reply to a
  // chat on another tab, say) and waits for it.
  for (const name of CHAT_EVENTS) {
    socket.on(name, (payload) => {
      if (chat) return chat.event(name, payload);
      early.push([name, payload]);
      if (name === "message" || name === "conversation") loadChat().catch(() => {});
    });
  }

  socket.on("invitation", (inv) => invitations.show(inv));
  socket.on("invitation.withdrawn", (x) => invitations.withdrawn(x));

  // --- public API: Switchboard('open' | 'close' | 'identify' | 'track', …) --------------------
  api.open = () => openChat(true);
  api.close = () => (chat ? chat.close() : store.set("open", false));
  api.identify = (attrs) => {
    const p = tracker.identify(attrs);
    if (!p) return;
    // Name and e-mail also go with the first message of the next conversation (pre-chat skipped).
    const profile = store.get("profile", {});
    store.set("profile", {
      name: p.name ? p.name.slice(0, 100) : profile.name,
      email: p.email && EMAIL.test(p.email) ? p.email : profile.email,
    });
    if (chat) chat.profile();
  };
  api.track = (name, props) => tracker.track(name, props);

  // A chat going on (cached from an earlier page) or a panel left open: load the panel now.
  if (store.get("open", false)) openChat(false); // reopen after navigation, without taking focus
  else if (liveInCache()) loadChat().catch(() => {});
}

// --- bootstrap: the global Switchboard() and its queue ----------------------------------------
(function boot() {
  const existing = window.Switchboard;
  if (!SCRIPT || (existing && existing.version)) return; // no site key, or loaded twice
  const queue = Array.from((existing && existing.q) || []);
  const api = {};
  let ready = false;
  // Calls made before the stub was replaced (the snippet) or before the DOM is ready are queued.
  function Switchboard(command, ...args) {
    if (!ready) return void queue.push([command, ...args]);
    if (Object.prototype.hasOwnProperty.call(api, command)) api[command](...args);
    else console.warn(`Switchboard: unknown command ${JSON.stringify(command)}.`);
  }
  Switchboard.version = VERSION;
  window.Switchboard = Switchboard;

  function run() {
    if (document.getElementById("switchboard-widget")) return;
    start(SCRIPT, api, Switchboard);
    ready = true;
    for (const args of queue) Switchboard(...Array.from(args));
  }
  if (document.body) run();
  else document.addEventListener("DOMContentLoaded", run);
})();
