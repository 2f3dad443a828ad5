// Socket set-up and a promise wrapper around acknowledged emits.
// Every client → server event of the protocol takes an ack; `request` always
// resolves (never rejects) with either the success ack or {ok: false, error}.

import { io } from "socket.io-client";
import { meta } from "./dom.js";
import { t } from "./i18n.js";

export const ACK_TIMEOUT_MS = 15000;
// Renew the socket token when this share of its lifetime has passed (and retry this soon after a
// failed renewal), so a reconnect always has one that is still valid.
const RENEW_AT = 0.6;
const RETRY_RENEWAL_MS = 10000;

/**
 * The /agent socket token of this page's session. Tokens live minutes (SOCKET_TOKEN_SECONDS, in the
 * page's `switchboard-socket-token-seconds` meta): this renews it from `POST /api/socket-token`
 * (the session cookie and the page's CSRF token) before it runs out, and hands the freshest one to
 * every connection attempt (socket.io-client calls `auth` before each). The renewals also keep the
 * session from idling out while the page is open. When the server answers 401 the session has
 * ended: `ended` turns true and `onEnded` is called.
 */
export function tokenSource(token, lifetimeSeconds) {
  const lifetime = (s) => Math.max(1, Number(s) || 300) * 1000;
  const source = { token, expiresAt: Date.now() + lifetime(lifetimeSeconds), ended: false, onEnded: null };
  let timer = null;
  let pending = null;

  function schedule(ms) {
    clearTimeout(timer);
    if (!source.ended) timer = setTimeout(() => source.renew().catch(() => schedule(RETRY_RENEWAL_MS)), ms);
  }

  function csrf() {
    const field = document.querySelector('input[name="csrf_token"]');
    return meta("csrf-token") || (field ? field.value : "");
  }

  /** A fresh token (null once the session has ended); rejects when the server cannot be reached. */
  source.renew = () => {
    if (source.ended) return Promise.resolve(null);
    if (pending) return pending;
    pending = fetch("/api/socket-token", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CSRF-Token": csrf() },
    })
      .then((res) => {
        if (res.status === 401) {
          source.ended = true;
          clearTimeout(timer);
          if (source.onEnded) source.onEnded();
          return null;
        }
        if (!res.ok) throw new Error("socket token renewal: HTTP " + res.status);
        return res.json().then((body) => {
          source.token = String(body.token || "");
          const ms = lifetime(body.expires_in);
          source.expiresAt = Date.now() + ms;
          schedule(ms * RENEW_AT);
          return source.token;
        });
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };

  source.auth = (cb) => {
    const fresh = Date.now() < source.expiresAt - 1000;
    const ready = fresh ? Promise.resolve(source.token) : source.renew().catch(() => source.token);
    ready.then((token) => cb({ token: token || "" }));
  };

  schedule(lifetime(lifetimeSeconds) * RENEW_AT);
  return source;
}

/** The /agent socket (or another staff namespace: /notices); `socket.tokens` is its `tokenSource`. */
export function connect(token, namespace = "/agent") {
  const tokens = tokenSource(token, meta("switchboard-socket-token-seconds"));
  const socket = io(namespace, {
    auth: tokens.auth,
    // Keeps a long-polling connection on one worker behind the load balancer (deploy/nginx.conf).
    query: { affinity: Math.random().toString(36).slice(2, 12) },
    // WebSocket first works with and without sticky sessions; fall back to
    // long-polling when a proxy refuses WebSockets.
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
  });
  socket.tokens = tokens;
  return socket;
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
      resolve({ ok: false, error: { code: "offline", message: t("Not connected.") } });
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (err, res) => {
      if (err) {
        const dropped = /disconnected/i.test(String(err && err.message));
        resolve({
          ok: false,
          error: dropped
            ? { code: "offline", message: t("The connection dropped.") }
            : { code: "timeout", message: t("No answer from the server.") },
        });
        return;
      }
      if (!res || typeof res !== "object") {
        resolve({ ok: false, error: { code: "internal", message: t("Unexpected reply from the server.") } });
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
