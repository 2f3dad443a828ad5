// The socket to the `/visitor` namespace (docs/protocol.md). Only `io` is imported from
// socket.io-client's ESM build; build.mjs also trims engine.io-client's transports to WebSocket
// and XHR long-polling (no WebTransport), which keeps widget.js small.
import { io } from "socket.io-client";

// BASE is where widget.js was loaded from, without "/widget.js". socket.io treats the URL path
// as the namespace, so the origin goes into the URL and any path prefix (a server mounted under
// /chat, say) into socket.io's `path`. `dir` is where the other files of the widget are
// (widget-chat.js) and the /api/track endpoint.
export function resolveBase(src) {
  const url = new URL(src, location.href);
  const prefix = url.pathname.replace(/\/[^/]*$/, "");
  return { origin: url.origin, path: prefix + "/socket.io/", dir: url.origin + prefix };
}

// A random key per page, sent with every socket.io request: a load balancer hashes on it to keep
// a long-polling connection on one worker (deploy/nginx.conf) without relying on cookies or on the
// visitor's address (an office behind one NAT would all land on one worker).
export const AFFINITY = Math.random().toString(36).slice(2, 12);

export function openSocket(base, siteKey, store) {
  return io(base.origin + "/visitor", {
    path: base.path,
    query: { affinity: AFFINITY },
    // WebSocket first; when it cannot open (a proxy that blocks it), long-polling.
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    // A function, so every (re)connect reads the token stored most recently.
    auth: (cb) => cb({ site: siteKey, token: store.get("token"), visitor_id: store.get("vid") }),
    reconnectionDelayMax: 10000,
  });
}

// Emits with an ack and a timeout. Always resolves: to the server's ack, or to a failure ack
// shaped like the server's ({ok: false, error: {code, message}}).
export function request(socket, event, payload, timeoutMs = 10000) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
      if (err) resolve({ ok: false, error: { code: "timeout", message: "No answer from the server." } });
      else if (!ack || typeof ack !== "object") resolve({ ok: false, error: { code: "internal", message: "" } });
      else if (!ack.ok && !ack.error) resolve({ ok: false, error: { code: "internal", message: "" } });
      else resolve(ack);
    });
  });
}

// The refusal code of a connect_error: the server puts {code, message} in err.data.
export function refusalCode(err) {
  return (err && err.data && typeof err.data === "object" && err.data.code) || "";
}

// Loads BASE/widget-chat.js once with a <script> tag (no eval: a CSP that allows widget.js's
// origin allows it). It calls window.Switchboard._chat(factory), which resolves the promise.
let loading = null;
export function loadChatScript(base, version, api) {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      api._chat = resolve;
      const s = document.createElement("script");
      s.async = true;
      s.src = `${base.dir}/widget-chat.js?v=${version}`;
      s.onerror = () => {
        loading = null;
        s.remove();
        reject(new Error("Switchboard: could not load widget-chat.js"));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}
