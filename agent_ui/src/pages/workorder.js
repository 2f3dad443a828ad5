// One work order: its facts, thread, attachments, callbacks and history from
// GET /api/work-orders/<id>, and the actions its `may` and the workflow's `moves` allow. Every
// action answers with the order, and the page is drawn again from it. Every value from the server
// is text (textContent), never markup. (Styles: /static/workorders.css, built from workorders.js.)
import { el, clear, meta } from "../dom.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";
import {
  ApiError, PRIORITY_LABELS, SOURCE_LABELS, STATUS_LABELS, clearFieldErrors, dataSpan, fillSelect, getJson, handlerChoices,
  idOf, loadOptions, postForm, postJson, sentence, showFieldError, timeLeft,
} from "../work_orders.js";
import { listenOnPage } from "../order_notices.js";

const data = dataSpan;

const ORDER = Number(meta("switchboard-order"));
const ME = Number(meta("switchboard-user"));
const ROLE = meta("switchboard-role");
const API = "/api/work-orders/" + ORDER;
const MAX_FILE = 10 * 1024 * 1024;
const OPEN = ["new", "assigned", "in_progress", "waiting"];
const $ = (id) => document.getElementById(id);

const ENTRY_LABELS = { reply: t("Reply to customer"), customer: t("Customer"), note: t("Internal note"), feedback: t("Feedback") };
const EVENT_LABELS = {
  created: t("Created"), dispatched: t("Dispatched"), transferred: t("Transferred"), status: t("Status changed"),
  urged: t("Urged"), replied: t("Replied to the customer"), noted: t("Internal note"), feedback: t("Feedback"),
  customer_replied: t("Customer replied"), reopened: t("Reopened"), changed: t("Edited"),
  watcher_added: t("Watcher added"), watcher_removed: t("Watcher removed"), callback_added: t("Callback added"),
  callback_done: t("Callback recorded"), callback_due: t("Callback due"), attached: t("File attached"),
  escalated: t("Escalated"), sla_warning: t("SLA at risk"),
};
const OUTCOMES = {
  reached: t("Reached"), not_reached: t("Not reached"), satisfied: t("Satisfied"), not_satisfied: t("Not satisfied"),
};
const POSTED = { reply: t("Your reply was sent to the customer."), note: t("The internal note is added."),
  feedback: t("Your feedback is sent.") };

let order = null;
let options = { teams: [], staff: [], categories: [], me: ME };

const notice = $("wo-notice");
const errorBox = $("wo-error");

function say(text) {
  errorBox.hidden = true;
  notice.textContent = text;
}

function fail(text) {
  notice.textContent = "";
  errorBox.textContent = text;
  errorBox.hidden = false;
}

// ---- names -------------------------------------------------------------------------------------

function userName(id) {
  if (id === null || id === undefined) return t("nobody");
  const s = options.staff.find((x) => x.id === id);
  return s ? s.name : t("user {id}", { id });
}

function teamName(id) {
  const found = options.teams.find((x) => x.id === id);
  return found ? found.name : t("team {id}", { id });
}

function target(teamId, handlerId) {
  const parts = [];
  if (teamId) parts.push(teamName(teamId));
  if (handlerId) parts.push(userName(handlerId));
  return parts.length ? parts.join(" · ") : t("nobody");
}

function sizeOf(bytes) {
  if (bytes < 1024) return formatNumber(bytes) + " B";
  if (bytes < 1024 * 1024) return formatNumber(Math.round(bytes / 1024)) + " KB";
  return formatNumber(bytes / (1024 * 1024), { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + " MB";
}

function time(value) {
  return value ? el("time", { text: formatDateTime(value), attrs: { datetime: value } }) : el("span", { text: "—" });
}

// ---- drawing -----------------------------------------------------------------------------------

function fact(list, label, ...values) {
  list.appendChild(el("dt", { text: label }));
  list.appendChild(el("dd", {}, values.map((v) => (typeof v === "string" ? document.createTextNode(v) : v))));
}

function renderFacts() {
  const list = $("facts");
  clear(list);
  fact(list, t("Status"), el("span", { class: "wo-badge wo-status-" + order.status,
    text: STATUS_LABELS[order.status] || order.status_label }));
  fact(list, t("Priority"), el("span", { class: "wo-priority wo-priority-" + order.priority,
    text: PRIORITY_LABELS[order.priority] || order.priority }));
  fact(list, t("Category"), data(order.category || "—"));
  fact(list, t("Team"), data(order.team || "—"));
  fact(list, t("Handler"), data(order.handler || "—"));
  const c = order.customer || {};
  const who = el("span", { class: "wo-lines" }, [
    c.name ? data(c.name) : el("span", { text: t("No name") }),
    c.email ? el("span", { text: c.email }) : null,
    c.phone ? el("span", { text: c.phone }) : null,
  ]);
  fact(list, t("Customer"), who);
  fact(list, t("Source"), SOURCE_LABELS[order.source] || order.source);
  fact(list, t("Created"), ...(order.created_by
    ? sentence(t("{time} by {name}"), { time: time(order.created_at), name: order.created_by }) : [time(order.created_at)]));
  if (order.due_at) {
    const left = OPEN.includes(order.status) ? [" · ", timeLeft(order)] : [];
    fact(list, t("Due"), time(order.due_at), ...left);
  } else {
    fact(list, t("Due"), t("No target"));
  }
  if (order.first_response_due_at || order.first_responded_at) {
    fact(list, t("First response due"), time(order.first_response_due_at),
      order.first_responded_at ? " · " + t("answered {time}", { time: formatDateTime(order.first_responded_at) }) : "");
  }
  if (order.resolved_at) fact(list, t("Resolved"), time(order.resolved_at));
  if (order.closed_at) fact(list, t("Closed"), time(order.closed_at));
  fact(list, t("Urges"), order.urge_count ? t("Urged {n}×", { n: formatNumber(order.urge_count) }) : t("Not urged"));
  fact(list, t("Reopened"), order.reopen_count ? formatNumber(order.reopen_count) + "×" : t("Never"));
  fact(list, t("Watchers"), order.watchers.length ? data(order.watchers.map((w) => w.name).join(", ")) : t("Nobody"));
  if (order.conversations.length) {
    const links = el("span", { class: "wo-lines" }, order.conversations.map((id) =>
      el("a", { text: t("Conversation {id}", { id }), attrs: { href: "/console?conversation=" + encodeURIComponent(id) } })));
    fact(list, t("Conversations"), links);
  }
}

function renderThread() {
  const list = $("thread");
  clear(list);
  for (const entry of order.entries) {
    const label = ENTRY_LABELS[entry.kind] || entry.kind;
    const author = entry.kind === "customer" ? (entry.author || t("The customer")) : (entry.author || t("Staff"));
    const via = entry.via === "email" ? t("by e-mail") : entry.via === "link" ? t("on the status page") : "";
    list.appendChild(el("li", { class: "wo-entry wo-entry-" + entry.kind }, [
      el("div", { class: "wo-entry-head" }, [
        el("span", { class: "wo-entry-kind", text: label }),
        el("span", { class: "wo-entry-author", text: author, attrs: { translate: entry.author ? "no" : null } }),
        time(entry.at),
        via ? el("span", { class: "wo-muted", text: via }) : null,
      ]),
      el("p", { class: "wo-body", text: entry.body, attrs: { translate: "no" } }),
    ]));
  }
  $("thread-empty").hidden = order.entries.length > 0;
}

function renderAttachments() {
  const list = $("attachments");
  clear(list);
  for (const a of order.attachments) {
    list.appendChild(el("li", {}, [
      el("a", { text: a.filename, attrs: { href: API + "/attachments/" + a.id, download: a.filename, translate: "no" } }),
      el("span", { class: "wo-muted", text: " · " + sizeOf(a.size) + (a.by_customer ? " · " + t("from the customer") : "")
        + " · " + formatDateTime(a.at) }),
    ]));
  }
  $("attachments-empty").hidden = order.attachments.length > 0;
}

const words = (text) => document.createTextNode(text);

/** Who an order went to: team · handler (names: data), or "nobody". */
function targetOf(teamId, handlerId) {
  return teamId || handlerId ? data(target(teamId, handlerId)) : words(t("nobody"));
}

/** The Details column of a history event: nodes (translated words, and data marked as such). */
function describe(event) {
  const d = event.data || {};
  const status = (s) => STATUS_LABELS[s] || s || "";
  switch (event.kind) {
    case "created":
      return [
        words(t("Source: {source} · priority {priority}", { source: SOURCE_LABELS[d.source] || d.source || "?",
          priority: PRIORITY_LABELS[d.priority] || d.priority || "?" })),
        d.conversation_id ? words(" · " + t("conversation {id}", { id: d.conversation_id })) : null,
      ];
    case "dispatched":
    case "transferred":
      return d.reason ? sentence(t("To {target}. Reason: {reason}"), { target: targetOf(d.team_id, d.handler_id), reason: d.reason })
        : sentence(t("To {target}"), { target: targetOf(d.team_id, d.handler_id) });
    case "status":
      return [words(status(d.previous) + " → " + status(d.status))];
    case "reopened":
      return [words(d.by === "customer" ? t("Was {status}; the customer replied", { status: status(d.previous).toLowerCase() })
        : t("Was {status}", { status: status(d.previous).toLowerCase() }))];
    case "urged":
      return [words(t("Urge {n}", { n: d.count || "" }).trim() + (d.note ? ": " : "")), d.note ? data(d.note) : null];
    case "changed": {
      const after = d.after || {};
      const before = d.before || {};
      const parts = [];
      Object.keys(after).forEach((key, i) => {
        if (i) parts.push(words("; "));
        if (key === "priority") {
          parts.push(words(t("Priority {before} → {after}", { before: PRIORITY_LABELS[before[key]] || before[key],
            after: PRIORITY_LABELS[after[key]] || after[key] })));
        } else if (key === "category_id") {
          const path = (id) => {
            const found = (options.categories.find((c) => c.id === id) || {}).path;
            return found ? data(found) : words(id ? t("category {id}", { id }) : t("none"));
          };
          parts.push(...sentence(t("Category {before} → {after}"), { before: path(before[key]), after: path(after[key]) }));
        } else if (key === "subject") {
          parts.push(...sentence(t("Subject “{before}” → “{after}”"), { before: before[key], after: after[key] }));
        } else {
          parts.push(words(key));
        }
      });
      return parts;
    }
    case "watcher_added":
    case "watcher_removed":
      return [d.user_id === null || d.user_id === undefined ? words(t("nobody")) : data(userName(d.user_id))];
    case "callback_added":
      return sentence(t("For {name}, due {time}"), { name: data(userName(d.assignee_id)), time: words(formatDateTime(d.due_at)) });
    case "callback_done":
      return [words(OUTCOMES[d.outcome] || d.outcome || "")];
    case "attached":
      return [data(d.filename || "")];
    case "customer_replied":
      return [words(d.via === "email" ? t("By e-mail") : d.via === "link" ? t("On their status page") : "")];
    case "replied":
      return [words(d.first ? t("First response") : "")];
    case "escalated":
      return [words(t("Breached: {what}", { what: (d.breached || []).map((b) => (b === "first_response" ? t("first response")
        : b === "resolution" ? t("resolution") : b)).join(", ") }))];
    default:
      return [];
  }
}

function renderHistory() {
  const body = $("history");
  clear(body);
  for (const event of order.history) {
    body.appendChild(el("tr", {}, [
      el("td", {}, [time(event.at)]),
      el("td", { text: EVENT_LABELS[event.kind] || event.kind }),
      el("td", { text: event.actor || (event.kind === "customer_replied" ? t("Customer") : t("System")),
        attrs: { translate: event.actor ? "no" : null } }),
      el("td", {}, describe(event)),
    ]));
  }
}

function renderCallbacks() {
  const list = $("callbacks");
  clear(list);
  const mayRecord = (c) => c.assignee_id === ME || ROLE === "supervisor" || ROLE === "admin";
  for (const c of order.callbacks) {
    const when = formatDateTime(c.due_at);
    const item = el("li", { class: "wo-callback" + (c.overdue ? " is-overdue" : "") }, [
      el("div", {}, [
        el("strong", {}, sentence(t("For {name}"), { name: c.assignee || userName(c.assignee_id) })),
        document.createTextNode(t(", due ")), time(c.due_at),
        c.overdue ? el("span", { class: "wo-overdue", text: " · " + t("Overdue") }) : null,
      ]),
      c.note ? el("p", { class: "wo-body", text: c.note, attrs: { translate: "no" } }) : null,
    ]);
    if (c.done_at) {
      item.appendChild(el("p", {}, [
        document.createTextNode(t("Outcome: {outcome}", { outcome: OUTCOMES[c.outcome] || c.outcome })),
        c.outcome_note ? el("span", { text: " — " + c.outcome_note, attrs: { translate: "no" } }) : null,
        document.createTextNode(" (" + formatDateTime(c.done_at) + ")"),
      ]));
    } else if (mayRecord(c)) {
      item.appendChild(outcomeForm(c, when));
    }
    list.appendChild(item);
  }
  $("callbacks-empty").hidden = order.callbacks.length > 0;
}

function outcomeForm(callback, when) {
  const base = "cb-" + callback.id;
  const select = el("select", { attrs: { id: base + "-outcome" } },
    Object.keys(OUTCOMES).map((k) => el("option", { text: OUTCOMES[k], attrs: { value: k } })));
  const note = el("input", { attrs: { id: base + "-note", maxlength: "500" } });
  const form = el("form", { class: "wo-outcome", attrs: { "aria-label": t("Outcome of the callback due {time}", { time: when }) } }, [
    el("div", { class: "wo-field" }, [el("label", { text: t("Outcome"), attrs: { for: base + "-outcome" } }), select]),
    el("div", { class: "wo-field" }, [el("label", { text: t("Outcome note"), attrs: { for: base + "-note" } }), note]),
    el("button", { class: "btn btn-small", text: t("Record outcome"), attrs: { type: "submit" } }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act("/api/work-orders/callbacks/" + callback.id, { outcome: select.value, note: note.value.trim() },
      t("The callback's outcome is recorded."), { outcome: select, note });
  });
  return form;
}

function renderActions(resetForms) {
  const may = order.may || {};
  const moves = order.moves || [];
  const open = OPEN.includes(order.status);
  let shown = 0;
  for (const button of $("moves").querySelectorAll("button[data-status]")) {
    const s = button.getAttribute("data-status");
    const allowed = moves.includes(s)
      && (["in_progress", "waiting", "resolved"].includes(s) ? may.handle : s === "closed" ? may.close : true);
    button.hidden = !allowed;
    if (allowed) shown++;
  }
  const watching = order.watchers.some((w) => w.id === ME);
  const watch = $("watch");
  watch.textContent = watching ? t("Stop watching") : t("Watch");
  watch.setAttribute("aria-pressed", watching ? "true" : "false");
  const mayDispatch = may.dispatch && moves.includes("assigned");
  $("dispatch-form").hidden = !mayDispatch;
  $("transfer-form").hidden = !(mayDispatch && (order.team_id || order.handler_id));
  $("urge-form").hidden = !(may.urge && open);
  $("edit-form").hidden = !may.dispatch;
  $("callback-form").hidden = !["resolved", "closed"].includes(order.status);
  $("send-reply").hidden = !(may.reply && order.status !== "closed");
  $("send-feedback").hidden = !may.handle;
  $("no-actions").hidden = shown > 0 || mayDispatch || may.urge;
  if (resetForms) {
    setTeam($("d-team"), $("d-handler"), order.team_id, order.handler_id);
    setTeam($("t-team"), $("t-handler"), null, null);
    $("t-reason").value = "";
    $("u-note").value = "";
    $("e-subject").value = order.subject;
    $("e-category").value = order.category_id === null ? "" : String(order.category_id);
    $("e-priority").value = order.priority;
    $("c-note").value = "";
    if (!$("c-due").value) $("c-due").value = localInput(new Date(Date.now() + 24 * 3600 * 1000));
  }
}

function setTeam(teamSelect, handlerSelect, teamId, handlerId) {
  teamSelect.value = teamId ? String(teamId) : "";
  fillSelect(handlerSelect, handlerChoices(options, teamSelect.value));
  handlerSelect.value = handlerId ? String(handlerId) : "";
  if (handlerSelect.selectedIndex < 0) handlerSelect.value = "";
}

function render(next, { resetForms = true } = {}) {
  order = next;
  const title = $("order-title");
  clear(title);
  title.append(order.number + " · ", data(order.subject));
  document.title = "Switchboard · " + order.number;
  $("description").textContent = order.description || t("No description.");
  $("description").setAttribute("translate", order.description ? "no" : "yes");
  renderFacts();
  renderThread();
  renderAttachments();
  renderCallbacks();
  renderHistory();
  renderActions(resetForms);
  $("order-body").hidden = false;
  $("order").setAttribute("aria-busy", "false");
}

/** After an action: when the control that had the focus is gone (a Resolve button that no longer
 * applies), the focus goes to the Actions heading rather than to the page's start. */
function keepFocus() {
  const focused = document.activeElement;
  if (!focused || focused === document.body || focused.closest("[hidden]")) {
    const heading = $("h-actions");
    heading.tabIndex = -1;
    heading.focus();
  }
}

// ---- acting ------------------------------------------------------------------------------------

/** POST `body` to `url`; on success draw the returned order and say `done`; a refusal naming a field
 * in `fields` is shown next to that field, any other in the alert. */
async function act(url, body, done, fields = {}) {
  clearFieldErrors($("order-body"));
  errorBox.hidden = true;
  try {
    const data = await postJson(url, body, t("The action"));
    render(data.order);
    say(done);
    keepFocus();
    return true;
  } catch (err) {
    const control = err instanceof ApiError ? fields[err.field] : null;
    fail(t("Not done: {reason}", { reason: err.message }));
    if (control) {
      showFieldError(control, err.message);
      control.focus();
    }
    return false;
  }
}

const DONE = { in_progress: t("Started: the order is in progress."), waiting: t("The order waits for the customer."),
  resolved: t("The order is resolved."), closed: t("The order is closed."), reopened: t("The order is reopened.") };

for (const button of $("moves").querySelectorAll("button[data-status]")) {
  button.addEventListener("click", () => {
    const s = button.getAttribute("data-status");
    act(API + "/status", { status: s }, DONE[s]);
  });
}

$("watch").addEventListener("click", () => {
  const on = !order.watchers.some((w) => w.id === ME);
  act(API + "/watchers", { user_id: ME, on }, on ? t("You are watching this order.") : t("You stopped watching this order."));
});

for (const [formId, prefix, transfer] of [["dispatch-form", "d", false], ["transfer-form", "t", true]]) {
  const team = $(prefix + "-team");
  const handler = $(prefix + "-handler");
  team.addEventListener("change", () => fillSelect(handler, handlerChoices(options, team.value)));
  $(formId).addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { team_id: idOf(team), handler_id: idOf(handler) };
    const fields = { team_id: team, handler_id: handler };
    if (transfer) {
      body.transfer = true;
      body.reason = $("t-reason").value.trim();
      fields.reason = $("t-reason");
      if (!body.reason) {
        clearFieldErrors($("order-body"));
        fail(t("Not done: give the reason for the transfer."));
        showFieldError($("t-reason"), t("A reason is needed."));
        $("t-reason").focus();
        return;
      }
    }
    act(API + "/dispatch", body, transfer ? t("The order is transferred.") : t("The order is dispatched."), fields);
  });
}

$("urge-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(API + "/urge", { note: $("u-note").value.trim() || null }, t("Urged. The handler and the team's lead are told."),
    { note: $("u-note") });
});

$("edit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(API, { subject: $("e-subject").value, category_id: idOf($("e-category")), priority: $("e-priority").value },
    t("The changes are saved."), { subject: $("e-subject"), category_id: $("e-category"), priority: $("e-priority") });
});

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" + pad(date.getHours())
    + ":" + pad(date.getMinutes());
}

/** A datetime-local value ("2026-05-01T14:30", the browser's time zone) as ISO 8601 with its offset. */
function isoWithOffset(value) {
  const d = new Date(value);
  if (!value || isNaN(d.getTime())) return null;
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  return localInput(d) + ":00" + (offset >= 0 ? "+" : "-") + pad(Math.trunc(offset / 60)) + ":" + pad(offset % 60);
}

$("callback-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const due = isoWithOffset($("c-due").value);
  if (!due) {
    clearFieldErrors($("order-body"));
    fail(t("Not done: give the time the callback is due."));
    showFieldError($("c-due"), t("A date and time is needed."));
    $("c-due").focus();
    return;
  }
  act(API + "/callbacks", { assignee_id: idOf($("c-assignee")), due_at: due, note: $("c-note").value.trim() },
    t("The callback is added."), { assignee_id: $("c-assignee"), due_at: $("c-due"), note: $("c-note") });
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const kind = (e.submitter && e.submitter.getAttribute("data-kind")) || "note";
  const box = $("message");
  clearFieldErrors($("composer"));
  if (!box.value.trim()) {
    fail(t("Not done: write a message first."));
    showFieldError(box, t("Write a message first."));
    box.focus();
    return;
  }
  // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
  const buttons = Array.from($("composer").querySelectorAll("button"));
  if (buttons.some((b) => b.getAttribute("aria-disabled") === "true")) return;
  buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
  const ok = await act(API + "/posts", { kind, body: box.value }, POSTED[kind], { body: box });
  buttons.forEach((b) => b.removeAttribute("aria-disabled"));
  if (ok) {
    box.value = "";
    box.focus();
  }
});

$("upload").addEventListener("change", async () => {
  const input = $("upload");
  const file = input.files && input.files[0];
  if (!file) return;
  clearFieldErrors($("order-body"));
  if (file.size > MAX_FILE) {
    fail(t("Not attached: a file is at most 10 MB."));
    showFieldError(input, t("“{name}” is over 10 MB.", { name: file.name }));
    input.value = "";
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  say(t("Uploading {name}…", { name: file.name }));
  try {
    await postForm(API + "/attachments", data, t("The upload"));
    render((await getJson(API, t("Loading the work order"))).order, { resetForms: false });
    say(t("“{name}” is attached.", { name: file.name }));
  } catch (err) {
    fail(t("Not attached: {reason}", { reason: err.message }));
    showFieldError(input, err.message);
  } finally {
    input.value = "";
  }
});

// ---- start -------------------------------------------------------------------------------------

async function refresh() {
  try {
    render((await getJson(API, t("Loading the work order"))).order, { resetForms: false });
  } catch (e) {
    /* the next focus tries again */
  }
}

async function start() {
  try {
    const [data, opts] = await Promise.all([getJson(API, t("Loading the work order")), loadOptions().catch(() => null)]);
    if (opts) options = opts;
    const teams = options.teams.map((t) => [t.id, t.name]);
    for (const id of ["d-team", "t-team"]) fillSelect($(id), teams);
    fillSelect($("e-category"), options.categories.map((c) => [c.id, c.path]));
    fillSelect($("c-assignee"), options.staff.map((s) => [s.id, s.name]), 0);
    if (options.staff.some((s) => s.id === ME)) $("c-assignee").value = String(ME); // a callback is mine by default
    render(data.order);
    notice.textContent = "";
    window.addEventListener("focus", refresh);
  } catch (e) {
    $("order").setAttribute("aria-busy", "false");
    fail(e.status === 404 ? t("No such work order.") : t("The work order could not be loaded: {reason}", { reason: e.message }));
  }
}

start();

// The user's work order notices (dispatched to me, urged, overdue …) as toasts on this page too.
listenOnPage();
