// The Scorecards page (agent_ui/templates/quality/scorecards.html): the list of scorecards and, for a
// supervisor or admin, the editor — sections and criteria (label, scale, weight, guidance, Critical, an
// automatic check with its parameter or phrases), added, removed and reordered — saved as JSON to
// /api/quality/scorecards (a new version when the content changed). A `qa` user reads them only.
// Errors of the form are shown beside their field. Every server string is shown as text, never markup.
import "./scorecards.css"; // → /static/scorecards.css
import { asData, el, clear, formatDateTime, parts, whileBusy } from "../dom.js";
import { ApiError, clearFieldErrors, getJson, postJson, showFieldError } from "../work_orders.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const statusBox = $("sc-status");
const errorBox = $("sc-error");
const emptyBox = $("sc-empty");
const table = $("sc-table");
const rows = $("sc-rows");
const panel = $("sc-panel");
const panelTitle = $("sc-panel-title");
const panelBody = $("sc-panel-body");
const newButton = $("new-scorecard");

const CHECK_LABELS = {
  first_response: t("First response within the department's threshold"),
  reply_gap: t("No gap without a reply while the visitor waited"),
  category: t("Closed with a contact category"),
  transfer_note: t("Every transfer has a note"),
  greeting: t("Greeting phrase present"),
  closing: t("Closing phrase present"),
};
const PHRASE_CHECKS = ["greeting", "closing"];
const PARAM_CHECKS = ["first_response", "reply_gap"];

let data = null;
let draft = null; // the scorecard being edited
let opener = null;
let uid = 0;

function nextId(prefix) {
  uid += 1;
  return prefix + "-" + uid;
}

function appliesTo(card) {
  const parts = [];
  if (card.department) parts.push(card.department);
  if (card.category) parts.push(card.category);
  return parts.length ? parts.join(" · ") : t("The whole center");
}

function appliesToNode(card) {
  return card.department || card.category ? asData(appliesTo(card)) : document.createTextNode(appliesTo(card));
}

async function load() {
  statusBox.setAttribute("aria-busy", "true");
  try {
    data = await getJson("/api/quality/scorecards", t("The scorecards"));
    errorBox.hidden = true;
    render();
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  } finally {
    statusBox.textContent = "";
    statusBox.removeAttribute("aria-busy");
  }
}

function render() {
  newButton.hidden = !data.may_create;
  clear(rows);
  emptyBox.hidden = data.scorecards.length > 0;
  table.hidden = data.scorecards.length === 0;
  if (!data.scorecards.length && data.may_create) emptyBox.textContent = t("No scorecards yet. Build the first one with “New scorecard”.");
  for (const card of data.scorecards) {
    const action = card.editable
      ? el("button", { class: "btn btn-small", text: t("Edit"), attrs: { type: "button", "aria-label": t("Edit {name}", { name: card.name }) } })
      : el("button", { class: "btn btn-small btn-ghost", text: t("View"), attrs: { type: "button", "aria-label": t("View {name}", { name: card.name }) } });
    action.addEventListener("click", () => open(card, action));
    rows.append(el("tr", null, [
      el("th", { attrs: { scope: "row" } }, [asData(card.name)]),
      el("td", null, [appliesToNode(card)]),
      el("td", { text: card.version === null ? "–" : String(card.version) }),
      el("td", { text: card.active ? t("Active") : t("Inactive") }),
      el("td", null, [action]),
    ]));
  }
}

function blankCriterion() {
  return { key: "", label: "", scale: "yes_no", weight: 1, guidance: "", critical: false, auto: null, auto_param: null, phrases: [] };
}

function open(card, from) {
  opener = from || null;
  clearFieldErrors(panel);
  if (card && !card.editable) {
    showReadOnly(card);
  } else {
    draft = card
      ? JSON.parse(JSON.stringify({ id: card.id, name: card.name, description: card.description,
        department_id: card.department_id, category_id: card.category_id, active: card.active, sections: card.sections }))
      : { id: null, name: "", description: "", department_id: null, category_id: null, active: true,
        sections: [{ title: t("Conversation"), criteria: [blankCriterion()] }] };
    for (const s of draft.sections) for (const c of s.criteria) if (!c.phrases) c.phrases = [];
    clear(panelTitle);
    if (card) panelTitle.append(...parts(t("Edit {name}"), { name: card.name }));
    else panelTitle.textContent = t("New scorecard");
    renderEditor(card);
  }
  panel.hidden = false;
  panel.focus();
}

function closePanel() {
  panel.hidden = true;
  draft = null;
  clear(panelBody);
  if (opener && document.body.contains(opener)) opener.focus();
}

// ---- read only (a qa user, or another department's scorecard) ---------------------------------------------

function scaleText(scale) {
  return scale === "five" ? t("1–5") : t("Yes / no / not applicable");
}

function showReadOnly(card) {
  clear(panelTitle);
  panelTitle.append(asData(card.name));
  clear(panelBody);
  panelBody.append(el("p", { class: "sc-muted" }, [...parts(t("Applies to: {what}"), { what: appliesToNode(card) }),
    document.createTextNode(" · " + t("Version {n}", { n: card.version }))]));
  if (card.description) panelBody.append(el("p", { attrs: { translate: "no" }, text: card.description }));
  for (const section of card.sections) {
    panelBody.append(el("h3", { class: "sc-h3", text: section.title, attrs: { translate: "no" } }));
    const list = el("ol", { class: "sc-readonly" });
    for (const c of section.criteria) {
      const bits = [scaleText(c.scale), t("Weight {n}", { n: c.weight })];
      if (c.critical) bits.push(t("Critical"));
      if (c.auto) bits.push(t("Automatic: {check}", { check: CHECK_LABELS[c.auto] || c.auto }));
      list.append(el("li", null, [asData(c.label, "sc-label"), el("span", { class: "sc-muted", text: " · " + bits.join(" · ") }),
        c.guidance ? el("p", { class: "sc-guidance", text: c.guidance, attrs: { translate: "no" } }) : null]));
    }
    panelBody.append(list);
  }
  panelBody.append(history(card));
  const close = el("button", { class: "btn", text: t("Close"), attrs: { type: "button" } });
  close.addEventListener("click", closePanel);
  panelBody.append(el("div", { class: "sc-actions" }, [close]));
}

function history(card) {
  const box = el("section", { class: "sc-history", attrs: { "aria-label": t("Version history") } }, [
    el("h3", { class: "sc-h3", text: t("Version history") })]);
  if (!card || !card.versions.length) {
    box.append(el("p", { class: "sc-muted", text: t("Not saved yet.") }));
    return box;
  }
  const list = el("ol", { class: "sc-versions", attrs: { reversed: true } });
  for (const v of card.versions) {
    list.append(el("li", null, [document.createTextNode(t("Version {n}", { n: v.number }) + " · " + formatDateTime(v.at) + " · "),
      v.by ? asData(v.by) : null, document.createTextNode((v.by ? " · " : "") + t("{n} criteria", { n: v.criteria }))]));
  }
  box.append(list);
  return box;
}

// ---- the editor ----------------------------------------------------------------------------------------

function field(labelText, control, path, hint) {
  control.id = control.id || nextId("f");
  if (path) control.dataset.field = path;
  return el("div", { class: "sc-field" }, [el("label", { text: labelText, attrs: { for: control.id } }), control,
    hint ? el("p", { class: "sc-hint", text: hint }) : null]);
}

function input(value, onInput, attrs) {
  const node = el("input", { attrs: { type: "text", ...attrs } });
  node.value = value === null || value === undefined ? "" : String(value);
  node.addEventListener("input", () => onInput(node.value));
  return node;
}

function select(options, value, onChange) {
  const node = el("select");
  for (const [v, text] of options) {
    const option = el("option", { text, attrs: { value: v } });
    if (String(v) === String(value === null || value === undefined ? "" : value)) option.selected = true;
    node.append(option);
  }
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function checkbox(labelText, checked, onChange, path) {
  const box = el("input", { attrs: { type: "checkbox", id: nextId("f") } });
  box.checked = !!checked;
  if (path) box.dataset.field = path;
  box.addEventListener("change", () => onChange(box.checked));
  return el("div", { class: "sc-check" }, [box, el("label", { text: labelText, attrs: { for: box.id } })]);
}

function smallButton(text, label, onClick, disabled) {
  const b = el("button", { class: "btn btn-small", text, attrs: { type: "button", "aria-label": label, disabled: !!disabled } });
  b.addEventListener("click", onClick);
  return b;
}

function renderEditor(card) {
  clear(panelBody);
  const form = el("form", { attrs: { novalidate: true, id: "sc-form" } });
  const top = el("div", { class: "sc-grid" });
  top.append(field(t("Name"), input(draft.name, (v) => { draft.name = v; }, { maxlength: 100 }), "name"));
  // A supervisor of departments builds theirs only: no "whole center" choice (the server refuses it).
  if (!data.may_center && draft.department_id === null && data.departments.length) draft.department_id = data.departments[0].id;
  const departments = (data.may_center ? [["", t("Whole center (every department)")]] : [])
    .concat(data.departments.map((d) => [d.id, d.site ? d.name + " · " + d.site : d.name]));
  top.append(field(t("Department"), select(departments, draft.department_id,
    (v) => { draft.department_id = v ? Number(v) : null; }), "department_id"));
  const categories = [["", t("Any contact category")]].concat(data.categories.map((c) => [c.id, c.name]));
  top.append(field(t("Contact category"), select(categories, draft.category_id,
    (v) => { draft.category_id = v ? Number(v) : null; }), "category_id"));
  form.append(top);
  const description = el("textarea", { attrs: { rows: 2, maxlength: 500 } });
  description.value = draft.description || "";
  description.addEventListener("input", () => { draft.description = description.value; });
  form.append(field(t("Description"), description, "description"));
  form.append(checkbox(t("Active (used for new evaluations)"), draft.active, (v) => { draft.active = v; }, "active"));
  const sectionsBox = el("div", { class: "sc-sections", attrs: { "data-field": "sections", tabindex: "-1" } });
  form.append(sectionsBox);
  draft.sections.forEach((section, i) => sectionsBox.append(renderSection(section, i)));
  const addSection = el("button", { class: "btn", text: t("Add section"), attrs: { type: "button" } });
  addSection.addEventListener("click", () => {
    draft.sections.push({ title: "", criteria: [blankCriterion()] });
    renderEditor(card);
    const titles = panelBody.querySelectorAll("[data-field$='.title']");
    titles[titles.length - 1].focus();
  });
  form.append(el("div", { class: "sc-actions" }, [addSection]));
  const formError = el("div", { class: "sc-error", attrs: { role: "alert", id: "sc-form-error", hidden: true } });
  const save = el("button", { class: "btn btn-primary", text: t("Save scorecard"), attrs: { type: "submit" } });
  const cancel = el("button", { class: "btn", text: t("Cancel"), attrs: { type: "button" } });
  cancel.addEventListener("click", closePanel);
  const saved = el("span", { class: "sc-muted", attrs: { role: "status", id: "sc-saved" } });
  form.append(formError, el("div", { class: "sc-actions" }, [save, cancel, saved]));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(save, () => submit(form, formError, saved));
  });
  panelBody.append(form, history(card));
}

function renderSection(section, i) {
  const box = el("fieldset", { class: "sc-section" }, [el("legend", { text: t("Section {n}", { n: i + 1 }) })]);
  const head = el("div", { class: "sc-section-head" });
  head.append(field(t("Section title"), input(section.title, (v) => { section.title = v; }, { maxlength: 100 }),
    "sections." + i + ".title"));
  const remove = smallButton(t("Remove section"), t("Remove section {n}", { n: i + 1 }), () => {
    draft.sections.splice(i, 1);
    rerender();
  }, draft.sections.length === 1);
  head.append(remove);
  box.append(head);
  const list = el("ol", { class: "sc-criteria", attrs: { "data-field": "sections." + i + ".criteria", tabindex: "-1" } });
  section.criteria.forEach((c, j) => list.append(renderCriterion(section, i, c, j)));
  box.append(list);
  const add = smallButton(t("Add criterion"), t("Add criterion to section {n}", { n: i + 1 }), () => {
    section.criteria.push(blankCriterion());
    rerender();
    const groups = panelBody.querySelectorAll(".sc-section")[i].querySelectorAll("[data-field$='.label']");
    groups[groups.length - 1].focus();
  });
  box.append(add);
  return box;
}

function rerender() {
  const card = draft.id ? data.scorecards.find((c) => c.id === draft.id) : null;
  renderEditor(card);
}

function renderCriterion(section, i, c, j) {
  const path = "sections." + i + ".criteria." + j + ".";
  const n = j + 1;
  const item = el("li", { class: "sc-criterion" });
  const group = el("fieldset", null, [el("legend", { text: t("Criterion {n}", { n }) })]);
  const grid = el("div", { class: "sc-grid" });
  let tools = null;
  grid.append(field(t("Label"), input(c.label, (v) => {
    c.label = v;
    if (tools) nameTools(tools, c.label || t("Criterion {n}", { n }));
  }, { maxlength: 200 }), path + "label"));
  grid.append(field(t("Scale"), select([["yes_no", t("Yes / no / not applicable")], ["five", t("1–5")]], c.scale,
    (v) => { c.scale = v; }), path + "scale"));
  grid.append(field(t("Weight"), input(c.weight, (v) => { c.weight = v; }, { inputmode: "decimal", size: 5 }), path + "weight"));
  const checks = [["", t("None")]].concat(data.checks.map((k) => [k, CHECK_LABELS[k] || k]));
  grid.append(field(t("Automatic check"), select(checks, c.auto, (v) => {
    c.auto = v || null;
    if (!PARAM_CHECKS.includes(c.auto)) c.auto_param = null;
    if (!PHRASE_CHECKS.includes(c.auto)) c.phrases = [];
    rerender();
  }), path + "auto"));
  if (PARAM_CHECKS.includes(c.auto)) {
    const hint = c.auto === "reply_gap" ? t("Default: {n} seconds", { n: data.default_gap })
      : t("Default: the department's service-level threshold");
    grid.append(field(t("Seconds"), input(c.auto_param, (v) => {
      const trimmed = v.trim();
      c.auto_param = trimmed === "" ? null : (Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed);
    }, { inputmode: "numeric", size: 6 }), path + "auto_param", hint));
  }
  group.append(grid);
  const guidance = el("textarea", { attrs: { rows: 2, maxlength: 1000 } });
  guidance.value = c.guidance || "";
  guidance.addEventListener("input", () => { c.guidance = guidance.value; });
  group.append(field(t("Guidance"), guidance, path + "guidance"));
  if (PHRASE_CHECKS.includes(c.auto)) {
    const phrases = el("textarea", { attrs: { rows: 3 } });
    phrases.value = (c.phrases || []).join("\n");
    phrases.addEventListener("input", () => { c.phrases = phrases.value.split("\n"); });
    const defaults = data.phrases[c.auto] || {};
    const hint = t("One phrase a line; empty: the default phrases — English: {en}; Chinese: {zh}",
      { en: (defaults.en || []).join(", "), zh: (defaults["zh-CN"] || []).join("、") });
    group.append(field(t("Phrases"), phrases, path + "phrases", hint));
  }
  group.append(checkbox(t("Critical (a “no” fails the whole evaluation)"), c.critical, (v) => { c.critical = v; }, path + "critical"));
  tools = el("div", { class: "sc-tools" }, [
    smallButton(t("Move up"), "", () => { swap(section, j, j - 1); }, j === 0),
    smallButton(t("Move down"), "", () => { swap(section, j, j + 1); }, j === section.criteria.length - 1),
    smallButton(t("Remove criterion"), "", () => {
      section.criteria.splice(j, 1);
      rerender();
    }, section.criteria.length === 1),
  ]);
  nameTools(tools, c.label || t("Criterion {n}", { n }));
  group.append(tools);
  item.append(group);
  return item;
}

/** The buttons of a criterion say which one they move or remove. */
function nameTools(tools, name) {
  const [up, down, remove] = tools.querySelectorAll("button");
  up.setAttribute("aria-label", t("Move {name} up", { name }));
  down.setAttribute("aria-label", t("Move {name} down", { name }));
  remove.setAttribute("aria-label", t("Remove {name}", { name }));
}

function swap(section, a, b) {
  const list = section.criteria;
  [list[a], list[b]] = [list[b], list[a]];
  rerender();
}

function payload() {
  return {
    name: draft.name, description: draft.description, department_id: draft.department_id, category_id: draft.category_id,
    active: draft.active,
    sections: draft.sections.map((s) => ({ title: s.title, criteria: s.criteria.map((c) => {
      const out = { key: c.key || "", label: c.label, scale: c.scale, weight: c.weight, guidance: c.guidance,
        critical: c.critical, auto: c.auto || null, auto_param: c.auto_param === "" ? null : c.auto_param };
      if (PHRASE_CHECKS.includes(c.auto)) out.phrases = (c.phrases || []).filter((p) => p.trim());
      return out;
    }) })),
  };
}

async function submit(form, formError, saved) {
  clearFieldErrors(form);
  formError.hidden = true;
  saved.textContent = "";
  try {
    const url = draft.id ? "/api/quality/scorecards/" + draft.id : "/api/quality/scorecards";
    const done = await postJson(url, payload(), t("Saving the scorecard"));
    const id = done.scorecard.id;
    data = await getJson("/api/quality/scorecards", t("The scorecards"));
    render();
    const card = data.scorecards.find((c) => c.id === id);
    open(card, rows.querySelector("button"));
    const status = $("sc-saved");
    if (status) status.textContent = t("Saved: version {n}", { n: done.scorecard.version });
  } catch (error) {
    const target = error instanceof ApiError && error.field ? form.querySelector('[data-field="' + CSS.escape(error.field) + '"]') : null;
    if (target) {
      showFieldError(target, error.message);
      target.focus();
    } else {
      formError.textContent = error.message;
      formError.hidden = false;
    }
  }
}

newButton.addEventListener("click", () => open(null, newButton));
load();
