// One work order: its facts, thread, attachments, callbacks and history from
// GET /api/work-orders/<id>, and the actions its `may` and the workflow's `moves` allow. Every
// action answers with the order, and the page is drawn again from it. Every value from the server
// is text (textContent), never markup. (Styles: /static/workorders.css, built from workorders.js.)
import { el, clear, meta, formatDateTime } from "../dom.js";
import {
  ApiError, PRIORITY_LABELS, SOURCE_LABELS, STATUS_LABELS, clearFieldErrors, fillSelect, getJson, handlerChoices,
  idOf, loadOptions, postForm, postJson, showFieldError, timeLeft,
} from "../work_orders.js";

const ORDER = Number(meta("switchboard-order"));
const ME = Number(meta("switchboard-user"));
const ROLE = meta("switchboard-role");
const API = "/api/work-orders/" + ORDER;
const MAX_FILE = 10 * 1024 * 1024;
const OPEN = ["new", "assigned", "in_progress", "waiting"];
const $ = (id) => document.getElementById(id);

const ENTRY_LABELS = { reply: "Reply to customer", customer: "Customer", note: "Internal note", feedback: "Feedback" };
const EVENT_LABELS = {
  created: "Created", dispatched: "Dispatched", transferred: "Transferred", status: "Status changed",
  urged: "Urged", replied: "Replied to the customer", noted: "Internal note", feedback: "Feedback",
  customer_replied: "Customer replied", reopened: "Reopened", changed: "Edited", watcher_added: "Watcher added",
  watcher_removed: "Watcher removed", callback_added: "Callback added", callback_done: "Callback recorded",
  callback_due: "Callback due", attached: "File attached", escalated: "Escalated", sla_warning: "SLA at risk",
};
const OUTCOMES = { reached: "Reached", not_reached: "Not reached", satisfied: "Satisfied", not_satisfied: "Not satisfied" };
const POSTED = { reply: "Your reply was sent to the customer.", note: "The internal note is added.",
  feedback: "Your feedback is sent." };

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
  if (id === null || id === undefined) return "nobody";
  const s = options.staff.find((x) => x.id === id);
  return s ? s.name : "user " + id;
}

function teamName(id) {
  const t = options.teams.find((x) => x.id === id);
  return t ? t.name : "team " + id;
}

function target(teamId, handlerId) {
  const parts = [];
  if (teamId) parts.push(teamName(teamId));
  if (handlerId) parts.push(userName(handlerId));
  return parts.length ? parts.join(" · ") : "nobody";
}

function sizeOf(bytes) {
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
  return (bytes / (1024 * 1024)).toFixed(1) + " MB";
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
  fact(list, "Status", el("span", { class: "wo-badge wo-status-" + order.status, text: order.status_label }));
  fact(list, "Priority", el("span", { class: "wo-priority wo-priority-" + order.priority,
    text: PRIORITY_LABELS[order.priority] || order.priority }));
  fact(list, "Category", order.category || "—");
  fact(list, "Team", order.team || "—");
  fact(list, "Handler", order.handler || "—");
  const c = order.customer || {};
  const who = el("span", { class: "wo-lines" }, [
    el("span", { text: c.name || "No name" }),
    c.email ? el("span", { text: c.email }) : null,
    c.phone ? el("span", { text: c.phone }) : null,
  ]);
  fact(list, "Customer", who);
  fact(list, "Source", SOURCE_LABELS[order.source] || order.source);
  fact(list, "Created", time(order.created_at), order.created_by ? " by " + order.created_by : "");
  if (order.due_at) {
    const left = OPEN.includes(order.status) ? [" · ", timeLeft(order)] : [];
    fact(list, "Due", time(order.due_at), ...left);
  } else {
    fact(list, "Due", "No target");
  }
  if (order.first_response_due_at || order.first_responded_at) {
    fact(list, "First response due", time(order.first_response_due_at),
      order.first_responded_at ? " · answered " + formatDateTime(order.first_responded_at) : "");
  }
  if (order.resolved_at) fact(list, "Resolved", time(order.resolved_at));
  if (order.closed_at) fact(list, "Closed", time(order.closed_at));
  fact(list, "Urges", order.urge_count ? "Urged " + order.urge_count + "×" : "Not urged");
  fact(list, "Reopened", order.reopen_count ? order.reopen_count + "×" : "Never");
  fact(list, "Watchers", order.watchers.length ? order.watchers.map((w) => w.name).join(", ") : "Nobody");
  if (order.conversations.length) {
    const links = el("span", { class: "wo-lines" }, order.conversations.map((id) =>
      el("a", { text: "Conversation " + id, attrs: { href: "/console?conversation=" + encodeURIComponent(id) } })));
    fact(list, "Conversations", links);
  }
}

function renderThread() {
  const list = $("thread");
  clear(list);
  for (const entry of order.entries) {
    const label = ENTRY_LABELS[entry.kind] || entry.kind;
    const author = entry.kind === "customer" ? (entry.author || "The customer") : (entry.author || "Staff");
    const via = entry.via === "email" ? "by e-mail" : entry.via === "link" ? "on the status page" : "";
    list.appendChild(el("li", { class: "wo-entry wo-entry-" + entry.kind }, [
      el("div", { class: "wo-entry-head" }, [
        el("span", { class: "wo-entry-kind", text: label }),
        el("span", { class: "wo-entry-author", text: author }),
        time(entry.at),
        via ? el("span", { class: "wo-muted", text: via }) : null,
      ]),
      el("p", { class: "wo-body", text: entry.body }),
    ]));
  }
  $("thread-empty").hidden = order.entries.length > 0;
}

function renderAttachments() {
  const list = $("attachments");
  clear(list);
  for (const a of order.attachments) {
    list.appendChild(el("li", {}, [
      el("a", { text: a.filename, attrs: { href: API + "/attachments/" + a.id, download: a.filename } }),
      el("span", { class: "wo-muted", text: " · " + sizeOf(a.size) + (a.by_customer ? " · from the customer" : "")
        + " · " + formatDateTime(a.at) }),
    ]));
  }
  $("attachments-empty").hidden = order.attachments.length > 0;
}

function describe(event) {
  const d = event.data || {};
  const status = (s) => STATUS_LABELS[s] || s || "";
  switch (event.kind) {
    case "created":
      return "Source: " + (SOURCE_LABELS[d.source] || d.source || "?") + " · priority "
        + (PRIORITY_LABELS[d.priority] || d.priority || "?") + (d.conversation_id ? " · conversation " + d.conversation_id : "");
    case "dispatched":
    case "transferred":
      return "To " + target(d.team_id, d.handler_id) + (d.reason ? ". Reason: " + d.reason : "");
    case "status":
      return status(d.previous) + " → " + status(d.status);
    case "reopened":
      return "Was " + status(d.previous).toLowerCase() + (d.by === "customer" ? "; the customer replied" : "");
    case "urged":
      return "Urge " + (d.count || "") + (d.note ? ": " + d.note : "");
    case "changed": {
      const after = d.after || {};
      const before = d.before || {};
      return Object.keys(after).map((key) => {
        if (key === "priority") return "Priority " + (PRIORITY_LABELS[before[key]] || before[key]) + " → " + (PRIORITY_LABELS[after[key]] || after[key]);
        if (key === "category_id") {
          const path = (id) => ((options.categories.find((c) => c.id === id) || {}).path || (id ? "category " + id : "none"));
          return "Category " + path(before[key]) + " → " + path(after[key]);
        }
        if (key === "subject") return "Subject “" + before[key] + "” → “" + after[key] + "”";
        return key;
      }).join("; ");
    }
    case "watcher_added":
    case "watcher_removed":
      return userName(d.user_id);
    case "callback_added":
      return "For " + userName(d.assignee_id) + ", due " + formatDateTime(d.due_at);
    case "callback_done":
      return OUTCOMES[d.outcome] || d.outcome || "";
    case "attached":
      return d.filename || "";
    case "customer_replied":
      return d.via === "email" ? "By e-mail" : d.via === "link" ? "On their status page" : "";
    case "replied":
      return d.first ? "First response" : "";
    case "escalated":
      return "Breached: " + (d.breached || []).map((b) => (b === "first_response" ? "first response" : b)).join(", ");
    default:
      return "";
  }
}

function renderHistory() {
  const body = $("history");
  clear(body);
  for (const event of order.history) {
    body.appendChild(el("tr", {}, [
      el("td", {}, [time(event.at)]),
      el("td", { text: EVENT_LABELS[event.kind] || event.kind }),
      el("td", { text: event.actor || (event.kind === "customer_replied" ? "Customer" : "System") }),
      el("td", { text: describe(event) }),
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
        el("strong", { text: "For " + (c.assignee || userName(c.assignee_id)) }),
        document.createTextNode(", due "), time(c.due_at),
        c.overdue ? el("span", { class: "wo-overdue", text: " · Overdue" }) : null,
      ]),
      c.note ? el("p", { class: "wo-body", text: c.note }) : null,
    ]);
    if (c.done_at) {
      item.appendChild(el("p", { text: "Outcome: " + (OUTCOMES[c.outcome] || c.outcome)
        + (c.outcome_note ? " — " + c.outcome_note : "") + " (" + formatDateTime(c.done_at) + ")" }));
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
  const form = el("form", { class: "wo-outcome", attrs: { "aria-label": "Outcome of the callback due " + when } }, [
    el("div", { class: "wo-field" }, [el("label", { text: "Outcome", attrs: { for: base + "-outcome" } }), select]),
    el("div", { class: "wo-field" }, [el("label", { text: "Outcome note", attrs: { for: base + "-note" } }), note]),
    el("button", { class: "btn btn-small", text: "Record outcome", attrs: { type: "submit" } }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act("/api/work-orders/callbacks/" + callback.id, { outcome: select.value, note: note.value.trim() },
      "The callback's outcome is recorded.", { outcome: select, note });
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
  watch.textContent = watching ? "Stop watching" : "Watch";
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
  const title = order.number + " · " + order.subject;
  $("order-title").textContent = title;
  document.title = "Switchboard · " + order.number;
  $("description").textContent = order.description || "No description.";
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
    const data = await postJson(url, body, "The action");
    render(data.order);
    say(done);
    keepFocus();
    return true;
  } catch (err) {
    const control = err instanceof ApiError ? fields[err.field] : null;
    fail("Not done: " + err.message);
    if (control) {
      showFieldError(control, err.message);
      control.focus();
    }
    return false;
  }
}

const DONE = { in_progress: "Started: the order is in progress.", waiting: "The order waits for the customer.",
  resolved: "The order is resolved.", closed: "The order is closed.", reopened: "The order is reopened." };

for (const button of $("moves").querySelectorAll("button[data-status]")) {
  button.addEventListener("click", () => {
    const s = button.getAttribute("data-status");
    act(API + "/status", { status: s }, DONE[s]);
  });
}

$("watch").addEventListener("click", () => {
  const on = !order.watchers.some((w) => w.id === ME);
  act(API + "/watchers", { user_id: ME, on }, on ? "You are watching this order." : "You stopped watching this order.");
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
        fail("Not done: give the reason for the transfer.");
        showFieldError($("t-reason"), "A reason is needed.");
        $("t-reason").focus();
        return;
      }
    }
    act(API + "/dispatch", body, transfer ? "The order is transferred." : "The order is dispatched.", fields);
  });
}

$("urge-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(API + "/urge", { note: $("u-note").value.trim() || null }, "Urged. The handler and the team's lead are told.",
    { note: $("u-note") });
});

$("edit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(API, { subject: $("e-subject").value, category_id: idOf($("e-category")), priority: $("e-priority").value },
    "The changes are saved.", { subject: $("e-subject"), category_id: $("e-category"), priority: $("e-priority") });
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
    fail("Not done: give the time the callback is due.");
    showFieldError($("c-due"), "A date and time is needed.");
    $("c-due").focus();
    return;
  }
  act(API + "/callbacks", { assignee_id: idOf($("c-assignee")), due_at: due, note: $("c-note").value.trim() },
    "The callback is added.", { assignee_id: $("c-assignee"), due_at: $("c-due"), note: $("c-note") });
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const kind = (e.submitter && e.submitter.getAttribute("data-kind")) || "note";
  const box = $("message");
  clearFieldErrors($("composer"));
  if (!box.value.trim()) {
    fail("Not done: write a message first.");
    showFieldError(box, "Write a message first.");
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
    fail("Not attached: a file is at most 10 MB.");
    showFieldError(input, "“" + file.name + "” is over 10 MB.");
    input.value = "";
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  say("Uploading " + file.name + "…");
  try {
    await postForm(API + "/attachments", data, "The upload");
    render((await getJson(API, "Loading the work order")).order, { resetForms: false });
    say("“" + file.name + "” is attached.");
  } catch (err) {
    fail("Not attached: " + err.message);
    showFieldError(input, err.message);
  } finally {
    input.value = "";
  }
});

// ---- start -------------------------------------------------------------------------------------

async function refresh() {
  try {
    render((await getJson(API, "Loading the work order")).order, { resetForms: false });
  } catch (e) {
    /* the next focus tries again */
  }
}

async function start() {
  try {
    const [data, opts] = await Promise.all([getJson(API, "Loading the work order"), loadOptions().catch(() => null)]);
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
    fail(e.status === 404 ? "No such work order." : "The work order could not be loaded: " + e.message);
  }
}

start();
