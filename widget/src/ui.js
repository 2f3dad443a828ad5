// The chat panel's DOM (widget-chat.js), built with createElement/textContent only: nothing the
// server or the visitor sends is ever parsed as markup.
import { addCss, el } from "./shell.js";
import { PANEL_CSS } from "./styles.js";

export { el };

// Sets text/attributes only when they differ, so a live region announces real changes only.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

// Builds the panel into the shell (shell.js) and returns its named parts, with the shell's.
export function buildPanel(shell, t, lang, maxChars) {
  addCss(shell.root, PANEL_CSS);
  const ui = Object.assign({}, shell);
  ui.title = el("h2", { text: t.title });
  ui.subtitle = el("p", { className: "sub", text: t.subtitle });
  ui.minimize = el("button", { type: "button", className: "icon-btn", "aria-label": t.minimize, text: "\u2013" });
  ui.status = el("div", { className: "status", role: "status", hidden: true });
  ui.earlier = el("section", { className: "earlier", "aria-label": t.earlier, hidden: true });
  // New messages are read out politely, wherever the visitor's focus is; focus never moves to them.
  ui.log = el("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": t.log });
  ui.typing = el("div", { className: "typing", "aria-live": "polite", hidden: true });
  // "This chat has ended", said when it happens (a live region: always there, empty until then),
  // with a hint for screen readers that the rating follows.
  ui.endedText = el("span");
  ui.rateHint = el("span", { className: "sr" });
  ui.ended = el("div", { className: "ended", role: "status" }, [ui.endedText, ui.rateHint]);
  // After a chat ends: good / neutral / bad, an optional comment, then thanks. The group takes
  // focus when the chat ends under the visitor's eyes (chat.js), so it is focusable.
  ui.rateButtons = ["good", "neutral", "bad"].map((r) =>
    el("button", { type: "button", className: "rate-btn rate-" + r, "aria-pressed": "false", "data-rating": r, text: t[r] }));
  ui.comment = el("textarea", { id: "sb-comment", rows: 2, maxlength: 1000 });
  ui.sendRating = el("button", { type: "button", className: "send", text: t.sendRating, disabled: true });
  ui.thanks = el("p", { className: "thanks", role: "status" });
  ui.rating = el("section", { className: "rating", role: "group", "aria-label": t.rateGroup, tabindex: "-1", hidden: true }, [
    el("p", { className: "rate-title", text: t.rateTitle }),
    el("div", { className: "rate-row" }, ui.rateButtons),
    el("label", { for: "sb-comment" }, [el("span", { text: t.comment }), ui.comment]),
    ui.sendRating,
    ui.thanks,
  ]);
  // After a chat ends, when the visitor gave an e-mail address: the transcript by mail.
  ui.transcript = el("button", { type: "button", className: "link-btn", text: t.transcript, hidden: true });
  ui.transcriptNote = el("p", { className: "thanks", role: "status", tabindex: "-1" });
  ui.mailRow = el("div", { className: "mail-row" }, [ui.transcript, ui.transcriptNote]);
  ui.greeting = el("p", { className: "greeting", hidden: true }); // the site's greeting (text, never markup)
  ui.body = el("div", { className: "body" }, [ui.earlier, ui.greeting, ui.log, ui.ended, ui.rating, ui.mailRow, ui.typing]);
  ui.name = el("input", { type: "text", id: "sb-name", maxlength: 100, autocomplete: "name" });
  ui.email = el("input", { type: "email", id: "sb-email", maxlength: 254, autocomplete: "email" });
  ui.department = el("select", { id: "sb-department" });
  ui.departmentRow = el("label", { for: "sb-department", hidden: true }, [el("span", { text: t.department }), ui.department]);
  // Name and e-mail: hidden, optional or required, as the site says (their labels follow).
  ui.nameLabel = el("span", { text: t.name });
  ui.emailLabel = el("span", { text: t.email });
  ui.nameRow = el("label", { for: "sb-name" }, [ui.nameLabel, ui.name]);
  ui.emailRow = el("label", { for: "sb-email" }, [ui.emailLabel, ui.email]);
  ui.prechat = el("div", { className: "prechat", hidden: true }, [ui.departmentRow, ui.nameRow, ui.emailRow]);
  // maxlength is deliberately above the limit: an over-long paste is kept and explained.
  ui.input = el("textarea", { rows: 1, "aria-label": t.message, placeholder: t.placeholder, maxlength: maxChars * 2 });
  ui.send = el("button", { type: "submit", className: "send", text: t.send });
  ui.form = el("form", { className: "compose", novalidate: true }, [ui.input, ui.send]);
  // When nobody can chat: a notice offering a note for the team instead.
  ui.offOpen = el("button", { type: "button", className: "link-btn", text: t.offlineOpen, "aria-describedby": "sb-off-text" });
  ui.offText = el("span", { id: "sb-off-text", text: t.offlineNotice });
  ui.offNotice = el("div", { className: "offline-notice", hidden: true }, [ui.offText, ui.offOpen]);
  ui.offBack = el("button", { type: "button", className: "link-btn", text: t.offlineBack });
  ui.offName = el("input", { type: "text", id: "sb-off-name", maxlength: 100, autocomplete: "name" });
  ui.offEmail = el("input", { type: "email", id: "sb-off-email", maxlength: 254, autocomplete: "email", required: true });
  ui.offBody = el("textarea", { id: "sb-off-body", rows: 3, maxlength: maxChars * 2 });
  ui.offSend = el("button", { type: "submit", className: "send", text: t.offlineSend });
  ui.offThanks = el("p", { className: "thanks", role: "status" });
  ui.offline = el("form", { className: "offline", novalidate: true, hidden: true, "aria-label": t.offlineIntro }, [
    el("p", { className: "offline-intro", text: t.offlineIntro }),
    el("label", { for: "sb-off-name" }, [el("span", { text: t.offlineName }), ui.offName]),
    el("label", { for: "sb-off-email" }, [el("span", { text: t.offlineEmail }), ui.offEmail]),
    el("label", { for: "sb-off-body" }, [el("span", { text: t.offlineBody }), ui.offBody]),
    ui.offSend,
    ui.offBack,
    ui.offThanks,
  ]);
  ui.alert = el("div", { className: "alert", role: "alert", hidden: true });
  // While a chat waits or goes on: "End chat" ("Leave queue" while waiting), asked once.
  ui.end = el("button", { type: "button", className: "link-btn", text: t.endChat });
  ui.endAsk = el("p", { id: "sb-end-ask", text: t.endAsk });
  ui.endYes = el("button", { type: "button", className: "link-btn", text: t.endYes });
  ui.endNo = el("button", { type: "button", className: "link-btn", text: t.cancel });
  ui.endConfirm = el("div", { className: "end-confirm", role: "alertdialog", "aria-labelledby": "sb-end-ask", hidden: true },
    [ui.endAsk, ui.endYes, ui.endNo]);
  ui.endBar = el("div", { className: "end-bar", hidden: true }, [ui.end, ui.endConfirm]);
  ui.panel = el("div", { className: "panel", id: "sb-panel", role: "dialog", "aria-label": t.dialog, hidden: true }, [
    el("div", { className: "head" }, [el("div", { className: "grow" }, [ui.title, ui.subtitle]), ui.minimize]),
    ui.status,
    ui.endBar,
    ui.body,
    ui.offNotice,
    ui.prechat,
    ui.form,
    ui.offline,
    ui.alert,
  ]);
  shell.box.insertBefore(ui.panel, shell.cards);
  return ui;
}

// A moment (ISO 8601) as the visitor reads it: their language, their time zone (the browser's).
export function formatMoment(iso, lang) {
  const d = iso ? new Date(iso) : null;
  if (!d || isNaN(d)) return "";
  return d.toLocaleString(lang, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short" });
}

export function formatTime(iso, lang, withDate = false) {
  const d = iso ? new Date(iso) : null;
  if (!d || isNaN(d)) return "";
  const time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  if (!withDate && d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString(lang)} ${time}`;
}

// A message as a list item. `view` = {key, kind, who, body, time, state, note}:
//   kind  visitor | agent | system
//   state sending | delivered | read | "" (drives styling via data-state)
//   note  the visible status line ("Sending…", "Read", …) or ""
export function messageNode(view) {
  const node = el("div", { className: `msg ${view.kind}` });
  if (view.key) node.dataset.key = view.key;
  node.appendChild(el("span", { className: "who", text: view.who }));
  node.appendChild(el("div", { className: "text", text: view.body }));
  node.appendChild(el("span", { className: "meta" }));
  patchMessage(node, view);
  return node;
}

export function patchMessage(node, view) {
  setAttr(node, "data-state", view.state || "");
  setText(node.lastChild, [view.time, view.note].filter(Boolean).join(" · "));
}

// Makes `container`'s children match `views` (by data-key), reusing and patching nodes in
// place. Re-rendering a role="log" wholesale would make screen readers read it all again.
export function reconcile(container, views) {
  const existing = new Map();
  for (const node of Array.from(container.children)) existing.set(node.dataset.key, node);
  let cursor = container.firstChild;
  for (const view of views) {
    let node = existing.get(view.key);
    if (node) {
      existing.delete(view.key);
      patchMessage(node, view);
    } else {
      node = messageNode(view);
    }
    if (node === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(node, cursor);
  }
  for (const node of existing.values()) node.remove();
}
