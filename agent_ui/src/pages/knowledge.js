// The editors' Knowledge base list: filters (kept in the page's address) → GET /api/kb/articles →
// a table with paging, stale articles flagged; and the categories (add, rename, delete) below it.
// Every value from the server is text (textContent), never markup.
import "./knowledge_editor.css"; // → /static/knowledge.css
import { el, clear, focusFirst } from "../dom.js";
import { formatDate, formatNumber, t, tn } from "../i18n.js";
import { getJson, postJson } from "../work_orders.js";

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const STATUS = { draft: t("Draft"), published: t("Published"), archived: t("Archived") };
const LANGUAGE = { en: t("English"), zh: "简体中文" };
const AUDIENCE = { public: t("Public"), internal: t("Internal") };

const form = $("filters");
const rows = $("rows");
const table = $("articles");
const statusBox = $("kb-status");
const errorBox = $("kb-error");
const emptyBox = $("kb-empty");
const FILTERS = { status: "f-status", language: "f-language", audience: "f-audience", category: "f-category" };

let offset = 0;
let total = 0;
let generation = 0;
let categories = [];
let staleDays = 180;

// ---- the filters and the address ---------------------------------------------------------------

function setSelect(select, value) {
  select.value = value;
  if (select.value !== value) select.value = "";
}

function restore(params) {
  for (const [name, id] of Object.entries(FILTERS)) setSelect($(id), params.get(name) || "");
  $("f-stale").checked = params.get("stale") === "1";
  $("f-q").value = params.get("q") || "";
  const page = Number(params.get("page") || "1");
  offset = Number.isInteger(page) && page > 1 ? (page - 1) * PAGE : 0;
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const [name, id] of Object.entries(FILTERS)) {
    const value = $(id).value;
    if (value) q.set(name, value);
  }
  if ($("f-stale").checked) q.set("stale", "1");
  const term = $("f-q").value.trim();
  if (term) q.set("q", term);
  return q;
}

function pageAddress() {
  const q = filterQuery();
  if (offset > 0) q.set("page", String(Math.floor(offset / PAGE) + 1));
  const text = q.toString();
  return "/knowledge" + (text ? "?" + text : "");
}

function filtered() {
  return filterQuery().toString() !== "";
}

// ---- the table ---------------------------------------------------------------------------------

function badge(text, kind) {
  return el("span", { class: "kb-badge" + (kind ? " kb-badge-" + kind : ""), text });
}

function row(article) {
  const title = el("th", { attrs: { scope: "row" } }, [
    el("a", { text: article.title, attrs: { href: "/knowledge/articles/" + article.id, translate: "no" } }),
    article.stale ? badge(t("Stale"), "stale") : null,
  ]);
  if (article.stale) {
    title.lastChild.setAttribute("title", tn("Not reviewed in {n} day", "Not reviewed in {n} days", staleDays));
  }
  if (article.tags && article.tags.length) {
    title.appendChild(el("span", { class: "kb-tags", text: article.tags.join(", "), attrs: { translate: "no" } }));
  }
  const reviewed = article.reviewed_at ? formatDate(article.reviewed_at) : t("Never");
  return el("tr", { class: article.stale ? "is-stale" : "" }, [
    title,
    el("td", {}, [badge(STATUS[article.status] || article.status, article.status)]),
    el("td", { text: LANGUAGE[article.language] || article.language, attrs: { lang: article.language === "zh" ? "zh-CN" : "en" } }),
    el("td", { text: AUDIENCE[article.audience] || article.audience }),
    el("td", { text: article.category ? article.category.name : "—", attrs: { translate: "no" } }),
    el("td", { text: article.owner ? article.owner.name : "—", attrs: { translate: "no" } }),
    el("td", { text: reviewed }),
    el("td", { text: article.updated_at ? formatDate(article.updated_at) : "" }),
  ]);
}

async function load() {
  const mine = ++generation;
  const address = pageAddress();
  if (location.pathname + location.search !== address) history.replaceState(null, "", address);
  statusBox.textContent = t("Loading…");
  table.setAttribute("aria-busy", "true");
  const api = filterQuery();
  api.set("limit", String(PAGE));
  api.set("offset", String(offset));
  try {
    const data = await getJson("/api/kb/articles?" + api.toString(), t("Loading the articles"));
    if (mine !== generation) return;
    staleDays = data.stale_days;
    total = data.total;
    errorBox.hidden = true;
    clear(rows);
    for (const article of data.articles) rows.appendChild(row(article));
    const empty = data.articles.length === 0;
    emptyBox.hidden = !empty;
    $("kb-empty-text").textContent = filtered() ? t("No article matches these filters.") : t("No articles yet.");
    table.parentElement.hidden = empty;
    const paging = document.activeElement;
    $("prev").disabled = offset <= 0;
    $("next").disabled = offset + data.articles.length >= total;
    // Next on the last page (or Previous on the first) is disabled now: the focus goes to the other.
    if (paging === $("prev") || paging === $("next")) focusFirst(paging, $("prev"), $("next"));
    $("page-label").textContent = empty ? "" : t("Articles {first}–{last} of {total}", { first: formatNumber(offset + 1),
      last: formatNumber(offset + data.articles.length), total: formatNumber(total) });
    statusBox.textContent = tn("{n} article", "{n} articles", total);
  } catch (e) {
    if (mine !== generation) return;
    statusBox.textContent = "";
    errorBox.textContent = t("The articles could not be loaded: {reason}", { reason: e.message || t("try again.") });
    errorBox.hidden = false;
  } finally {
    if (mine === generation) table.setAttribute("aria-busy", "false");
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  offset = 0;
  load();
});
for (const id of [...Object.values(FILTERS), "f-stale"]) {
  $(id).addEventListener("change", () => {
    offset = 0;
    load();
  });
}
$("prev").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  load();
});
$("next").addEventListener("click", () => {
  offset += PAGE;
  load();
});
window.addEventListener("popstate", () => {
  restore(new URLSearchParams(location.search));
  load();
});

// ---- categories --------------------------------------------------------------------------------

const catError = $("cat-error");

function showCatError(message) {
  catError.textContent = message;
  catError.hidden = !message;
}

function fillCategoryFilter() {
  const select = $("f-category");
  const chosen = select.value || new URLSearchParams(location.search).get("category") || "";
  while (select.options.length > 1) select.remove(1);
  for (const c of categories) select.appendChild(el("option", { text: c.name, attrs: { value: String(c.id), translate: "no" } }));
  setSelect(select, chosen);
}

function categoryItem(c) {
  // Each control is named by a sentence with the category's name in it ("Rename Returns"): the words
  // and the name are spans the control is labelled by (aria-labelledby), the name marked as data.
  const key = "cat-" + c.id;
  const said = el("span", { attrs: { id: key + "-name", translate: "no", hidden: true }, text: c.name });
  const words = [];
  const named = (control, id, text) => {
    const ids = text.split(/(\{name\})/).filter((part) => part.trim()).map((part, i) => {
      if (part === "{name}") return key + "-name";
      words.push(el("span", { attrs: { id: key + "-" + id + "-" + i, hidden: true }, text: part.trim() }));
      return key + "-" + id + "-" + i;
    });
    control.setAttribute("aria-labelledby", ids.join(" "));
    return control;
  };
  const name = named(el("input", { attrs: { type: "text", maxlength: "100", value: c.name, "data-action": "name" } }),
    "n", t("Name of {name}"));
  const position = named(el("input", { attrs: { type: "number", value: String(c.position), min: "-10000", max: "10000",
    step: "1", "data-action": "position" } }), "p", t("Position of {name}"));
  const save = named(el("button", { class: "btn", text: t("Rename"), attrs: { type: "submit", "data-action": "rename" } }),
    "r", t("Rename {name}"));
  const remove = named(el("button", { class: "btn btn-danger", text: t("Delete"),
    attrs: { type: "button", "data-action": "delete" } }), "d", t("Delete category {name}"));
  const count = el("span", { class: "kb-muted", text: tn("{n} article", "{n} articles", c.articles) });
  const itemForm = named(el("form", { class: "kb-category-row", attrs: { novalidate: true } },
    [name, position, count, save, remove, said]), "f", t("Category {name}"));
  itemForm.append(...words);
  itemForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const data = await postJson("/api/kb/categories/" + c.id,
        { name: name.value, position: Number(position.value || "0") }, t("Renaming the category"));
      showCatError("");
      setCategories(data.categories);
      load();
    } catch (err) {
      showCatError(err.message);
    }
  });
  remove.addEventListener("click", async () => {
    const question = c.articles
      ? tn("Delete the category “{name}”? Its {n} article will have no category.",
        "Delete the category “{name}”? Its {n} articles will have no category.", c.articles, { name: c.name })
      : t("Delete the category “{name}”?", { name: c.name });
    if (!window.confirm(question)) return;
    try {
      const data = await postJson("/api/kb/categories/" + c.id + "/delete", {}, t("Deleting the category"));
      showCatError("");
      setCategories(data.categories);
      load();
    } catch (err) {
      showCatError(err.message);
    }
  });
  return el("li", { attrs: { "data-id": c.id } }, [itemForm]);
}

function setCategories(list) {
  categories = list;
  const box = $("categories");
  // Drawn anew after each change: the control that had the focus gets it back (renamed), or the
  // category now in the place of one deleted, else the new category's name.
  const had = box.contains(document.activeElement) ? document.activeElement : null;
  const hadItem = had && had.closest("li");
  const hadIndex = hadItem ? Array.prototype.indexOf.call(box.children, hadItem) : -1;
  clear(box);
  for (const c of categories) box.appendChild(categoryItem(c));
  if (had) {
    const action = '[data-action="' + had.getAttribute("data-action") + '"]';
    const same = box.querySelector('li[data-id="' + hadItem.getAttribute("data-id") + '"] ' + action);
    const near = box.children[Math.min(hadIndex, box.children.length - 1)];
    focusFirst(same, near && near.querySelector(action), $("cat-name"));
  }
  $("categories-empty").hidden = categories.length > 0;
  fillCategoryFilter();
}

$("new-category").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("cat-name");
  try {
    const data = await postJson("/api/kb/categories",
      { name: name.value, position: Number($("cat-position").value || "0") }, t("Adding the category"));
    name.value = "";
    showCatError("");
    setCategories(data.categories);
  } catch (err) {
    showCatError(err.message);
    name.focus();
  }
});

async function start() {
  try {
    const data = await getJson("/api/kb/categories", t("Loading the categories"));
    setCategories(data.categories);
  } catch (err) {
    showCatError(t("The categories could not be loaded: {reason}", { reason: err.message }));
  }
  restore(new URLSearchParams(location.search));
  load();
}

start();
