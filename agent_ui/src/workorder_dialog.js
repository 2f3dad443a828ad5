// Work orders from the console: the "Create work order" dialog (pre-filled from the chat: customer,
// site, a summary of the visitor's last messages) and the visitor's open orders for the sidebar
// (the screen pop). Talks to the HTTP API (/api/work-orders, docs/protocol.md "Work orders");
// everything the server sends is inserted as text.
import { el, focusFirst, whileBusy } from "./dom.js";
import { t } from "./i18n.js";
import { PRIORITY_LABELS } from "./work_orders.js";

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

/** A JSON call: resolves to the parsed body ({ok, ...} or {ok: false, error}). */
export async function api(path, { method = "GET", body = undefined } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: method === "GET" ? {} : { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    return { ok: false, error: { code: "offline", message: t("The server cannot be reached.") } };
  }
  try {
    return await res.json();
  } catch (_) {
    return { ok: false, error: { code: "internal", message: t("Unexpected answer (HTTP {status}).", { status: res.status }) } };
  }
}

/** The visitor's open work orders this user may read: [] when none, null on error. */
export async function visitorOrders(visitorId) {
  const res = await api("/api/visitors/" + encodeURIComponent(visitorId) + "/work-orders");
  return res.ok && Array.isArray(res.orders) ? res.orders : null;
}

function field(id, label, control, hint) {
  control.id = id;
  const errorId = id + "-error";
  const error = el("p", { class: "field-error", attrs: { id: errorId, hidden: true } });
  // The hint is read with the field, and with its error when there is one.
  const hintId = hint ? id + "-hint" : null;
  if (hint) {
    hint.id = hintId;
    control.setAttribute("aria-describedby", hintId);
  }
  return {
    node: el("div", { class: "wo-field" }, [el("label", { text: label, attrs: { for: id } }), control, hint || null, error]),
    control,
    error,
    show(message) {
      error.textContent = message;
      error.hidden = false;
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", hintId ? errorId + " " + hintId : errorId);
    },
    reset() {
      error.hidden = true;
      control.removeAttribute("aria-invalid");
      if (hintId) control.setAttribute("aria-describedby", hintId);
      else control.removeAttribute("aria-describedby");
    },
  };
}

/** `data`: the options' labels are data (names, category paths), not words to translate. */
function select(options, empty, data = true) {
  const node = el("select");
  if (empty !== undefined) node.appendChild(el("option", { text: empty, attrs: { value: "" } }));
  for (const [value, label] of options) {
    node.appendChild(el("option", { text: label, attrs: { value: String(value), translate: data ? "no" : null } }));
  }
  return node;
}

/**
 * @param {number} conversationId
 * @param {{opener: HTMLElement | (() => void), onDone: (order: any) => void, onError: (error: any) => void}} hooks
 *   `opener`: focused again when the dialog closes, whichever way (Escape, Cancel, the order made) —
 *   or a function that puts the focus where it belongs then.
 */
export async function openWorkOrderDialog(conversationId, { opener, onDone, onError }) {
  const dialog = el("dialog", { class: "wo-dialog", attrs: { "aria-labelledby": "wo-dialog-title" } });
  const status = el("p", { class: "wo-status", text: t("Loading…"), attrs: { role: "status" } });
  dialog.appendChild(el("h2", { text: t("Create work order"), attrs: { id: "wo-dialog-title" } }));
  dialog.appendChild(status);
  document.body.appendChild(dialog);
  const close = () => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (typeof opener === "function") opener();
    else focusFirst(opener);
  });
  dialog.showModal();

  const [draft, options] = await Promise.all([
    api("/api/work-orders/draft?conversation_id=" + encodeURIComponent(conversationId)),
    api("/api/work-orders/options"),
  ]);
  if (!draft.ok || !options.ok) {
    close();
    onError((draft.ok ? options : draft).error);
    return;
  }
  status.textContent = "";
  const d = draft.draft;
  const input = (value, attrs) => {
    const node = el("input", { attrs: { type: "text", ...attrs } });
    node.value = value || "";
    return node;
  };
  const subject = field("wo-subject", t("Subject"), input(d.subject, { maxlength: "200", required: true }));
  const descriptionBox = el("textarea", { attrs: { rows: "5", maxlength: "20000" } });
  descriptionBox.value = d.description || "";
  const description = field("wo-description", t("Description"), descriptionBox,
    el("p", { class: "wo-hint", text: t("Pre-filled with the visitor's last messages; the chat's transcript is linked.") }));
  const category = field("wo-category", t("Category"), select(options.categories.map((c) => [c.id, c.path]), t("(none)")));
  const priority = field("wo-priority", t("Priority"),
    select(options.priorities.map((p) => [p.id, PRIORITY_LABELS[p.id] || p.label]), undefined, false));
  priority.control.value = "normal";
  const name = field("wo-name", t("Customer name"), input(d.customer_name, { maxlength: "100" }));
  const email = field("wo-email", t("E-mail"), input(d.customer_email, { maxlength: "254", type: "email" }),
    el("p", { class: "wo-hint", text: t("The customer is told of the order, each reply and its resolution here.") }));
  const phone = field("wo-phone", t("Phone"), input("", { maxlength: "40", type: "tel" }));
  const team = field("wo-team", t("Team"), select(options.teams.map((team) => [team.id, team.name]), t("(dispatch later)")));
  const handler = field("wo-handler", t("Handler"), select(options.staff.map((s) => [s.id, s.name]), t("(anyone in the team)")));
  const fields = { subject, description, category_id: category, priority, customer_name: name, customer_email: email,
    customer_phone: phone, team_id: team, handler_id: handler };
  const error = el("p", { class: "wo-error", attrs: { role: "alert" } });
  const submit = el("button", { class: "btn btn-primary", text: t("Create work order"), attrs: { type: "submit" } });
  const cancel = el("button", { class: "btn", text: t("Cancel"), attrs: { type: "button" } });
  const form = el("form", { class: "wo-form" }, [
    ...Object.values(fields).map((f) => f.node),
    error,
    el("div", { class: "wo-actions" }, [cancel, submit]),
  ]);
  dialog.appendChild(form);
  cancel.addEventListener("click", close);
  subject.control.focus();
  const number = (value) => (value === "" ? null : Number(value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(submit, () => create());
  });
  async function create() {
    for (const f of Object.values(fields)) f.reset();
    error.textContent = "";
    status.textContent = t("Creating…");
    const res = await api("/api/work-orders", {
      method: "POST",
      body: {
        conversation_id: conversationId,
        subject: subject.control.value,
        description: descriptionBox.value,
        category_id: number(category.control.value),
        priority: priority.control.value,
        customer_name: name.control.value,
        customer_email: email.control.value,
        customer_phone: phone.control.value,
        team_id: number(team.control.value),
        handler_id: number(handler.control.value),
      },
    });
    status.textContent = "";
    if (!res.ok) {
      const target = res.error && fields[res.error.field];
      if (target) {
        target.show(res.error.message);
        target.control.focus();
      } else {
        error.textContent = (res.error && res.error.message) || t("The work order could not be created.");
      }
      return;
    }
    close();
    onDone(res.order);
  }
}
