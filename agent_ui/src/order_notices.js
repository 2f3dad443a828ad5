// Work order notices (`work_order.notice`, docs/protocol.md): an order dispatched to me, urged,
// about to miss its SLA or overdue, reopened, resolved, a customer's reply, feedback, a callback.
// The console hears them on its /agent socket; the Work orders pages (where back-office handlers
// work) open a /notices socket for them (`listenOnPage`). Each shows a toast with a link to the
// order, and a desktop notification while the tab is hidden (if allowed). The words are the page's
// language: the server's `text` is its English line, shown only for a kind this page does not know.
// Every value is text, never markup.
import { connect, refusalCode } from "./connection.js";
import { meta, toastIn } from "./dom.js";
import { t, formatDateTime } from "./i18n.js";

// Kinds that need someone to act now stay until dismissed.
const STICKY = new Set(["escalated", "callback_due"]);

function str(value) {
  return typeof value === "string" ? value : "";
}

/** The notice in the page's language (null for a payload that is not a notice). */
export function noticeText(n) {
  if (!n || typeof n !== "object" || !Number.isInteger(n.id) || typeof n.number !== "string") return null;
  const vars = { number: n.number, subject: str(n.subject) };
  switch (n.kind) {
    case "dispatched":
      return n.transfer
        ? t("Work order {number} was transferred to you: {subject}", vars)
        : t("Work order {number} is yours: {subject}", vars);
    case "reopened":
      return t("Work order {number} was reopened: {subject}", vars);
    case "resolved":
      return t("Work order {number} is resolved: {subject}", vars);
    case "feedback":
      return t("Feedback on work order {number}: {subject}", vars);
    case "customer":
      return t("The customer replied on work order {number}: {subject}", vars);
    case "urged":
      return str(n.by)
        ? t("{name} urged work order {number}: {subject}", { ...vars, name: n.by })
        : t("Work order {number} was urged: {subject}", vars);
    case "sla_warning":
      return t("Work order {number} is about to miss its SLA: {subject}", vars);
    case "escalated":
      return t("Work order {number} is overdue: {subject}", vars);
    case "callback": {
      const due = str(n.due) ? formatDateTime(n.due) : "";
      return due
        ? t("A callback on work order {number} is yours, due {due}: {subject}", { ...vars, due })
        : t("A callback on work order {number} is yours: {subject}", vars);
    }
    case "callback_due":
      return t("A callback on work order {number} is due now: {subject}", vars);
    default:
      return str(n.text) || t("Work order {number} changed.", vars);
  }
}

export function initOrderNotices({ socket, toast, pageVisible }) {
  socket.on("work_order.notice", (n) => {
    const text = noticeText(n);
    if (text === null) return;
    const href = "/work-orders/" + encodeURIComponent(String(n.id));
    toast(text, { sticky: STICKY.has(n.kind), link: { text: t("Open work order"), href } });
    if (pageVisible() || !("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const shown = new Notification(t("Work order {number}", { number: n.number }), {
        body: text,
        tag: "switchboard-order-" + n.id + "-" + str(n.kind),
      });
      shown.onclick = () => {
        window.focus();
        window.open(href, "_blank", "noopener");
        shown.close();
      };
    } catch (e) {
      /* notifications are a nicety */
    }
  });
}

/** A staff page other than the console: its user's notices over /notices, shown as toasts. */
export function listenOnPage() {
  const token = meta("switchboard-socket-token");
  if (!token) return null;
  const socket = connect(token, "/notices");
  let retry = 2000;
  // Whether notices reach this page now, on its toast region (`data-connected`: no visible sign).
  const region = document.getElementById("toasts");
  const mark = (connected) => {
    if (region) region.dataset.connected = String(connected);
  };
  socket.on("connect", () => {
    retry = 2000;
    mark(true);
  });
  socket.on("disconnect", () => mark(false));
  socket.tokens.onEnded = () => socket.disconnect(); // the session has ended: nothing more is meant for this page
  // A refusal (an expired token) stops socket.io's own reconnection: renew the token and try again,
  // unless the session has ended (the page's next request signs the user in again).
  socket.on("connect_error", (err) => {
    if (refusalCode(err) === null || socket.active) return;
    socket.tokens.renew().then(
      (fresh) => {
        if (fresh) setTimeout(() => socket.connect(), retry);
      },
      () => setTimeout(() => socket.connect(), retry),
    );
    retry = Math.min(retry * 2, 30000);
  });
  const toast = (text, options) => toastIn(region, text, options);
  initOrderNotices({ socket, toast, pageVisible: () => document.visibilityState !== "hidden" });
  return socket;
}
