// Socket set-up and a promise wrapper around acknowledged emits.
// Every client → server event of the protocol takes an ack; `request` always
// resolves (never rejects) with either the success ack or {ok: false, error}.

import { io } from "socket.io-client";

export const ACK_TIMEOUT_MS = 15000;

export function connect(token) {
  return io("/agent", {
    auth: { token },
    // Keeps a long-polling connection on one worker behind the load balancer (deploy/nginx.conf).
    query: { affinity: Math.random().toString(36).slice(2, 12) },
    // WebSocket first works with and without sticky sessions; fall back to
    // long-polling when a proxy refuses WebSockets.
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
  });
}

function normaliseError(error) {
  const e = error && typeof error === "object" ? error : {};
  const out = {
    code: typeof e.code === "string" && e.code ? e.code : "internal",
    message: typeof e.message === "string" ? e.message : "",
  };
  if (typeof e.retry_after === "number" && isFinite(e.retry_after)) out.retry_after = e.retry_after;
  return out;
}

/**
 * Emit `event` with `payload` and wait for the ack.
 * Resolves to the ack object when `ok` is true, else to `{ok: false, error: {code, message, retry_after?}}`.
 * Local failures use the codes `offline` (not connected / dropped) and `timeout`.
 */
export function request(socket, event, payload, timeoutMs = ACK_TIMEOUT_MS) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, error: { code: "offline", message: "Not connected." } });
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (err, res) => {
      if (err) {
        const dropped = /disconnected/i.test(String(err && err.message));
        resolve({
          ok: false,
          error: dropped
            ? { code: "offline", message: "The connection dropped." }
            : { code: "timeout", message: "No answer from the server." },
        });
        return;
      }
      if (!res || typeof res !== "object") {
        resolve({ ok: false, error: { code: "internal", message: "Unexpected reply from the server." } });
        return;
      }
      if (res.ok !== true) {
        resolve({ ok: false, error: normaliseError(res.error) });
        return;
      }
      resolve(res);
    });
  });
}

/** The refusal code of a connect_error (`err.data.code`), or null for transport errors. */
export function refusalCode(err) {
  if (err && err.data && typeof err.data === "object" && typeof err.data.code === "string") return err.data.code;
  const msg = err && typeof err.message === "string" ? err.message : "";
  const known = ["unauthorized", "token_expired", "invalid_token", "bad_request", "unknown_site", "origin_not_allowed"];
  for (const code of known) if (msg === code || msg.indexOf("'" + code + "'") !== -1) return code;
  return null;
}
