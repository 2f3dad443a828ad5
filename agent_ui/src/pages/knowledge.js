// The editors' Knowledge base list: filters (kept in the page's address) → GET /api/kb/articles →
// a table with paging, stale articles flagged; and the categories (add, rename, delete) below it.
// Every value from the server is text (textContent), never markup.
import "./knowledge_editor.css"; // → /static/knowledge.css
import { el, clear, formatDate, focusFirst } from "../dom.js";
import { getJson, postJson } from "../work_orders.js";

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const STATUS = { draft: "Draft", published: "Published", archived: "Archived" };
const LANGUAGE = { en: "English", zh: "简体中文" };
const AUDIENCE = { public: "Public", internal: "Internal" };

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
    el("a", { text: article.title, attrs: { href: "/knowledge/articles/" + article.id } }),
    article.stale ? badge("Stale", "stale") : null,
  ]);
  if (article.stale) {
    title.lastChild.setAttribute("title", "Not reviewed in " + staleDays + " days");
  }
  if (article.tags && article.tags.length) {
    title.appendChild(el("span", { class: "kb-tags", text: article.tags.join(", ") }));
  }
  const reviewed = article.reviewed_at ? formatDate(article.reviewed_at) : "Never";
  return el("tr", { class: article.stale ? "is-stale" : "" }, [
    title,
    el("td", {}, [badge(STATUS[article.status] || article.status, article.status)]),
    el("td", { text: LANGUAGE[article.language] || article.language, attrs: { lang: article.language === "zh" ? "zh-CN" : "en" } }),
    el("td", { text: AUDIENCE[article.audience] || article.audience }),
    el("td", { text: article.category ? article.category.name : "—" }),
    el("td", { text: article.owner ? article.owner.name : "—" }),
    el("td", { text: reviewed }),
    el("td", { text: article.updated_at ? formatDate(article.updated_at) : "" }),
  ]);
}

async function load() {
  const mine = ++generation;
  const address = pageAddress();
  if (location.pathname + location.search !== address) history.replaceState(null, "", address);
  statusBox.textContent = "Loading…";
  table.setAttribute("aria-busy", "true");
  const api = filterQuery();
  api.set("limit", String(PAGE));
  api.set("offset", String(offset));
  try {
    const data = await getJson("/api/kb/articles?" + api.toString(), "Loading the articles");
    if (mine !== generation) return;
    staleDays = data.stale_days;
    total = data.total;
    errorBox.hidden = true;
    clear(rows);
    for (const article of data.articles) rows.appendChild(row(article));
    const empty = data.articles.length === 0;
    emptyBox.hidden = !empty;
    $("kb-empty-text").textContent = filtered() ? "No article matches these filters." : "No articles yet.";
    table.parentElement.hidden = empty;
    const paging = document.activeElement;
    $("prev").disabled = offset <= 0;
    $("next").disabled = offset + data.articles.length >= total;
    // Next on the last page (or Previous on the first) is disabled now: the focus goes to the other.
    if (paging === $("prev") || paging === $("next")) focusFirst(paging, $("prev"), $("next"));
    $("page-label").textContent = empty ? "" : "Articles " + (offset + 1) + "–" + (offset + data.articles.length) + " of " + total;
    statusBox.textContent = total === 1 ? "1 article" : total + " articles";
  } catch (e) {
    if (mine !== generation) return;
    statusBox.textContent = "";
    errorBox.textContent = "The articles could not be loaded: " + (e.message || "try again.");
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
  for (const c of categories) select.appendChild(el("option", { text: c.name, attrs: { value: String(c.id) } }));
  setSelect(select, chosen);
}

function categoryItem(c) {
  const name = el("input", { attrs: { type: "text", maxlength: "100", value: c.name, "aria-label": "Name of " + c.name,
    "data-action": "name" } });
  const position = el("input", { attrs: { type: "number", value: String(c.position), min: "-10000", max: "10000",
    step: "1", "aria-label": "Position of " + c.name, "data-action": "position" } });
  const save = el("button", { class: "btn", text: "Rename",
    attrs: { type: "submit", "aria-label": "Rename " + c.name, "data-action": "rename" } });
  const remove = el("button", { class: "btn btn-danger", text: "Delete",
    attrs: { type: "button", "aria-label": "Delete category " + c.name, "data-action": "delete" } });
  const count = el("span", { class: "kb-muted", text: c.articles === 1 ? "1 article" : c.articles + " articles" });
  const itemForm = el("form", { class: "kb-category-row", attrs: { "aria-label": "Category " + c.name, novalidate: true } },
    [name, position, count, save, remove]);
  itemForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const data = await postJson("/api/kb/categories/" + c.id,
        { name: name.value, position: Number(position.value || "0") }, "Renaming the category");
      showCatError("");
      setCategories(data.categories);
      load();
    } catch (err) {
      showCatError(err.message);
    }
  });
  remove.addEventListener("click", async () => {
    const note = c.articles ? " Its " + count.textContent + " will have no category." : "";
    if (!window.confirm("Delete the category “" + c.name + "”?" + note)) return;
    try {
      const data = await postJson("/api/kb/categories/" + c.id + "/delete", {}, "Deleting the category");
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
      { name: name.value, position: Number($("cat-position").value || "0") }, "Adding the category");
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
    const data = await getJson("/api/kb/categories", "Loading the categories");
    setCategories(data.categories);
  } catch (err) {
    showCatError("The categories could not be loaded: " + err.message);
  }
  restore(new URLSearchParams(location.search));
  load();
}

start();
