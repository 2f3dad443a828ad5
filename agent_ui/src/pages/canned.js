// The Canned responses page: the responses the CSR uses (and, for admins, every team's), grouped by
// scope — Personal, Team (department), Global — with how often each was used; "New canned response",
// "Edit …" and "Delete …" for what they may write (the server decides: `editable`). Errors of the
// form are shown at their field. After a change the console's reply box is told to read the list
// again (CHANGED_KEY in localStorage). Every server string is shown as text, never markup.
import "./canned.css"; // → /static/canned.css
import { el, clear, focusFirst, whileBusy } from "../dom.js";
import { ApiError, clearFieldErrors, getJson, postJson, showFieldError } from "../work_orders.js";
import { CHANGED_KEY } from "../canned.js";
import { formatNumber, t, tn } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const statusBox = $("cr-status");
const errorBox = $("cr-error");
const emptyBox = $("cr-empty");
const groupsBox = $("groups");
const dialog = $("response-dialog");
const form = $("response-form");
const formError = $("form-error");
const scopeSelect = $("f-scope");
const departmentSelect = $("f-department");
const departmentField = $("department-field");
const deleteDialog = $("delete-dialog");
const FIELDS = { shortcut: "f-shortcut", title: "f-title", body: "f-body", scope: "f-scope", department_id: "f-department" };

let state = { responses: [], may: { personal: true, department: false, global: false }, departments: [] };
let editing = null; // the response being edited, or null for a new one
let deleting = null;
let opener = null;

function announceChange() {
  try {
    window.localStorage.setItem(CHANGED_KEY, String(Date.now()));
  } catch (e) {
    /* no storage: the console reads the list again when it is reloaded */
  }
}

// ---- the lists ---------------------------------------------------------------------------------

function usedText(n) {
  return n ? tn("Used once", "Used {n} times", n) : t("Not used yet");
}

function departmentLabel(d) {
  const sites = new Set(state.departments.map((x) => x.site).concat(state.responses.filter((r) => r.department)
    .map((r) => r.department.site)));
  return sites.size > 1 && d.site ? d.name + " · " + d.site : d.name;
}

function groups() {
  const out = [];
  const personal = state.responses.filter((r) => r.scope === "personal");
  if (personal.length) out.push({ key: "personal", title: t("Personal"), items: personal });
  const teams = new Map();
  for (const r of state.responses.filter((x) => x.scope === "department" && x.department)) {
    if (!teams.has(r.department.id)) teams.set(r.department.id, { department: r.department, items: [] });
    teams.get(r.department.id).items.push(r);
  }
  const sorted = Array.from(teams.values()).sort((a, b) => a.department.name.localeCompare(b.department.name));
  for (const team of sorted) {
    out.push({ key: "department-" + team.department.id, title: t("Team"), department: departmentLabel(team.department),
      items: team.items });
  }
  const global = state.responses.filter((r) => r.scope === "global");
  if (global.length) out.push({ key: "global", title: t("Global"), items: global });
  return out;
}

function responseItem(r) {
  const name = "/" + r.shortcut;
  const actions = [];
  if (r.editable) {
    const edit = el("button", { class: "btn btn-small", text: t("Edit"),
      attrs: { type: "button", "aria-label": t("Edit {name}", { name }), "data-action": "edit" } });
    edit.addEventListener("click", () => openForm(r, edit));
    const remove = el("button", {
      class: "btn btn-small btn-ghost", text: t("Delete"),
      attrs: { type: "button", "aria-label": t("Delete {name}", { name }), "data-action": "delete" },
    });
    remove.addEventListener("click", () => openDelete(r, remove));
    actions.push(edit, remove);
  }
  return el("li", { class: "cr-item", attrs: { "data-id": r.id } }, [
    el("div", { class: "cr-item-head" }, [
      el("code", { class: "cr-shortcut-name", text: name }),
      r.title ? el("span", { class: "cr-item-title", text: r.title, attrs: { translate: "no" } }) : null,
      el("span", { class: "cr-used", text: usedText(r.usage_count) }),
      r.usable ? null : el("span", { class: "cr-badge", text: t("Not in your teams: you edit it, its members use it") }),
    ]),
    el("p", { class: "cr-body", text: r.body, attrs: { translate: "no" } }),
    actions.length ? el("div", { class: "cr-actions" }, actions) : null,
  ]);
}

function render() {
  // The list is drawn anew on every load: a button that had the focus (or a dialog's opener) is
  // found again in the new drawing; a response gone takes the focus to "New canned response".
  const focused = document.activeElement;
  const keyOf = (node) => {
    const item = node && groupsBox.contains(node) ? node.closest("[data-id]") : null;
    return item ? { id: item.getAttribute("data-id"), action: node.getAttribute("data-action") } : null;
  };
  const hadFocus = keyOf(focused);
  const wasOpener = keyOf(opener);
  clear(groupsBox);
  const all = groups();
  for (const g of all) {
    const headingId = "group-" + g.key;
    groupsBox.appendChild(el("section", { class: "cr-group", attrs: { "aria-labelledby": headingId } }, [
      el("h2", { class: "cr-h2", text: g.title + (g.department ? " (" : " "), attrs: { id: headingId } }, [
        g.department ? el("span", { text: g.department, attrs: { translate: "no" } }) : null,
        g.department ? document.createTextNode(") ") : null,
        el("span", { class: "cr-count", text: "(" + formatNumber(g.items.length) + ")" }),
      ]),
      el("ul", { class: "cr-list" }, g.items.map(responseItem)),
    ]));
  }
  emptyBox.hidden = all.length > 0;
  const again = (key) => key && groupsBox.querySelector('[data-id="' + key.id + '"] [data-action="' + key.action + '"]');
  if (wasOpener) opener = again(wasOpener);
  if (hadFocus) focusFirst(again(hadFocus), $("new-response"));
}

async function load() {
  statusBox.textContent = t("Loading…");
  try {
    const body = await getJson("/api/canned?manage=1", t("Loading canned responses"));
    state = { responses: body.responses || [], may: body.may || state.may, departments: body.departments || [] };
    errorBox.hidden = true;
    render();
    statusBox.textContent = tn("{n} canned response.", "{n} canned responses.", state.responses.length);
  } catch (err) {
    statusBox.textContent = "";
    errorBox.textContent = err.message || t("The canned responses could not be loaded.");
    errorBox.hidden = false;
  }
}

// ---- the form ----------------------------------------------------------------------------------

function fillScopes(current) {
  for (const option of Array.from(scopeSelect.options)) {
    const allowed = state.may[option.value] || (current && current.scope === option.value);
    option.hidden = !allowed;
    option.disabled = !allowed;
  }
  clear(departmentSelect);
  departmentSelect.appendChild(el("option", { text: t("Choose a department"), attrs: { value: "" } }));
  const known = state.departments.slice();
  if (current && current.department && !known.some((d) => d.id === current.department.id)) known.push(current.department);
  for (const d of known) departmentSelect.appendChild(el("option", { text: departmentLabel(d), attrs: { value: d.id, translate: "no" } }));
}

function syncDepartment() {
  departmentField.hidden = scopeSelect.value !== "department";
}

function openForm(response, from) {
  editing = response;
  opener = from;
  form.reset();
  clearFieldErrors(form);
  formError.hidden = true;
  fillScopes(response);
  $("response-title").textContent = response ? t("Edit {name}", { name: "/" + response.shortcut }) : t("New canned response");
  if (response) {
    $("f-shortcut").value = response.shortcut;
    $("f-title").value = response.title;
    $("f-body").value = response.body;
    scopeSelect.value = response.scope;
    departmentSelect.value = response.department ? String(response.department.id) : "";
  } else {
    scopeSelect.value = "personal";
  }
  syncDepartment();
  dialog.showModal();
  $("f-shortcut").focus();
}

function formValues() {
  const values = {
    shortcut: $("f-shortcut").value,
    title: $("f-title").value,
    body: $("f-body").value,
    scope: scopeSelect.value,
  };
  if (values.scope === "department") {
    values.department_id = departmentSelect.value ? Number(departmentSelect.value) : null;
  }
  return values;
}

function showError(err, box, fields) {
  const control = err instanceof ApiError && fields && FIELDS[err.field] ? $(FIELDS[err.field]) : null;
  if (control) {
    showFieldError(control, err.message);
    control.focus();
  } else {
    box.textContent = (err && err.message) || t("That did not work.");
    box.hidden = false;
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
  whileBusy($("response-save"), async () => {
    clearFieldErrors(form);
    formError.hidden = true;
    try {
      if (editing) await postJson("/api/canned/" + editing.id, formValues(), t("Saving"));
      else await postJson("/api/canned", formValues(), t("Saving"));
      announceChange();
      dialog.close();
      await load();
      statusBox.textContent = t("Saved {name}.", { name: "/" + $("f-shortcut").value.trim().replace(/^\//, "") });
    } catch (err) {
      showError(err, formError, true);
    }
  });
});

scopeSelect.addEventListener("change", syncDepartment);
$("response-cancel").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => {
  if (opener && opener.isConnected) opener.focus();
  else $("new-response").focus();
});
$("new-response").addEventListener("click", (e) => openForm(null, e.currentTarget));

// ---- deleting ----------------------------------------------------------------------------------

function openDelete(response, from) {
  deleting = response;
  opener = from;
  $("delete-title").textContent = t("Delete {name}?", { name: "/" + response.shortcut });
  $("delete-what").textContent = response.title || response.body.slice(0, 120);
  $("delete-what").setAttribute("translate", "no");
  $("delete-error").hidden = true;
  deleteDialog.showModal();
  $("delete-cancel").focus();
}

$("delete-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!deleting) return;
  const name = "/" + deleting.shortcut;
  whileBusy($("delete-confirm"), async () => {
    try {
      await postJson("/api/canned/" + deleting.id + "/delete", {}, t("Deleting"));
      announceChange();
      opener = null;
      deleteDialog.close();
      await load();
      statusBox.textContent = t("Deleted {name}.", { name });
    } catch (err) {
      showError(err, $("delete-error"), false);
    }
  });
});
$("delete-cancel").addEventListener("click", () => deleteDialog.close());
deleteDialog.addEventListener("close", () => {
  deleting = null;
  if (opener && opener.isConnected) opener.focus();
  else $("new-response").focus();
});

window.addEventListener("focus", load);
load();
