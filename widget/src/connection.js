// The socket to the `/visitor` namespace (docs/protocol.md). Only `io` is imported from
// socket.io-client's ESM build, which keeps the bundle small.
import { io } from "socket.io-client";

// BASE is where widget.js was loaded from, without "/widget.js". socket.io treats the URL path
// as the namespace, so the origin goes into the URL and any path prefix (a server mounted under
// /chat, say) into socket.io's `path`.
export function resolveBase(src) {
  const url = new URL(src, location.href);
  const prefix = url.pathname.replace(/\/[^/]*$/, "");
  return { origin: url.origin, path: prefix + "/socket.io/" };
}

export function openSocket(base, siteKey, store) {
  return io(base.origin + "/visitor", {
    path: base.path,
    transports: ["websocket", "polling"],
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
