// The article editor (/knowledge/new, /knowledge/articles/{id}): the fields, a live Preview of the
// HTML the server renders and sanitises (POST /api/kb/preview), Save draft / Publish / Archive /
// Mark reviewed / Delete, image upload (its Markdown goes in at the cursor) and the Versions list,
// where a version is viewed and restored. Server strings are text (textContent); the only markup
// set is article HTML the server rendered with app/knowledge/render.py (markdown-it, then nh3).
import "./knowledge_editor.css";
import { el, clear, meta, focusFirst } from "../dom.js";
import { formatDateTime, t, tn } from "../i18n.js";
import { dataSpan, getJson, postForm, postJson, sentence } from "../work_orders.js";

const $ = (id) => document.getElementById(id);
const STATUS = { draft: t("Draft"), published: t("Published"), archived: t("Archived") };
const PREVIEW_DELAY = 300;

const form = $("article-form");
const errorBox = $("kb-error");
const noticeBox = $("kb-notice");
const stateBox = $("article-state");
const body = $("a-body");

let articleId = Number(meta("kb-article")) || null;
let article = null;
let dirty = false;
let busy = false;
let shownVersion = null;

// ---- messages and field errors -------------------------------------------------------------------

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
  if (message) noticeBox.hidden = true;
}

function showNotice(message) {
  noticeBox.textContent = message || "";
  noticeBox.hidden = !message;
}

function clearFieldErrors() {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showFieldError(field, message) {
  const box = form.querySelector('[data-field="' + field + '"]');
  if (!box) return false;
  const control = box.querySelector("input, select, textarea");
  const id = "err-" + field;
  const note = el("p", { class: "field-error", text: message, attrs: { id } });
  box.appendChild(note);
  if (control) {
    control.setAttribute("aria-invalid", "true");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== id);
    control.setAttribute("aria-describedby", [...described, id].join(" "));
    control.focus();
  }
  return true;
}

// ---- pickers -------------------------------------------------------------------------------------

function fill(select, items, chosen) {
  while (select.options.length > 1) select.remove(1);
  for (const item of items) select.appendChild(el("option", { text: item.name, attrs: { value: String(item.id), translate: "no" } }));
  select.value = chosen == null ? "" : String(chosen);
}

function fillSites(sites, chosen) {
  const box = $("a-sites");
  clear(box);
  if (!sites.length) {
    box.appendChild(el("p", { class: "kb-muted", text: t("No sites yet.") }));
    return;
  }
  for (const site of sites) {
    const input = el("input", { attrs: { type: "checkbox", name: "site_ids", value: String(site.id) } });
    input.checked = chosen.includes(site.id);
    input.addEventListener("change", () => { dirty = true; });
    box.appendChild(el("label", { class: "kb-check" }, [input, document.createTextNode(" "), dataSpan(site.name),
      site.disabled ? document.createTextNode(" " + t("(disabled)")) : null]));
  }
}

let options = { categories: [], staff: [], sites: [] };

async function loadOptions() {
  options = await getJson("/api/kb/options", t("Loading the categories, sites and staff"));
  fill($("a-category"), options.categories, article ? article.category_id : null);
  fill($("a-owner"), options.staff, article ? article.owner_id : options.me);
  fillSites(options.sites, article ? article.site_ids : []);
}

// ---- the article ---------------------------------------------------------------------------------

function values() {
  const category = $("a-category").value;
  const owner = $("a-owner").value;
  return {
    title: $("a-title").value,
    body: body.value,
    category_id: category ? Number(category) : null,
    tags: $("a-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    language: $("a-language").value,
    audience: $("a-audience").value,
    owner_id: owner ? Number(owner) : null,
    site_ids: Array.from(document.querySelectorAll('input[name="site_ids"]:checked')).map((i) => Number(i.value)),
    note: $("a-note").value,
  };
}

/** The article's state line: status, version, stale, reviewed, author (the name: data). */
function describe(a) {
  const parts = [[document.createTextNode(STATUS[a.status] || a.status)],
    [document.createTextNode(t("version {n}", { n: a.version }))]];
  if (a.stale) parts.push([document.createTextNode(tn("stale: not reviewed in {n} day", "stale: not reviewed in {n} days", a.stale_days))]);
  if (a.reviewed_at) parts.push([document.createTextNode(t("reviewed {time}", { time: formatDateTime(a.reviewed_at) }))]);
  if (a.author) parts.push(sentence(t("written by {name}"), { name: a.author.name }));
  return parts.flatMap((part, i) => (i ? [document.createTextNode(" · "), ...part] : part));
}

function showState(nodes) {
  clear(stateBox);
  stateBox.append(...nodes);
}

function showArticle(a) {
  article = a;
  articleId = a.id;
  $("a-title").value = a.title;
  body.value = a.body;
  $("a-tags").value = (a.tags || []).join(", ");
  $("a-language").value = a.language;
  $("a-audience").value = a.audience;
  $("a-note").value = "";
  fill($("a-category"), options.categories, a.category_id);
  fill($("a-owner"), options.staff, a.owner_id);
  fillSites(options.sites, a.site_ids);
  $("editor-title").textContent = t("Edit article");
  document.title = "Switchboard · " + a.title;
  showState(describe(a));
  stateBox.classList.toggle("is-stale", !!a.stale);
  $("archive").hidden = a.status === "archived";
  $("reviewed").hidden = false;
  $("delete").hidden = false;
  const links = $("public-list");
  clear(links);
  for (const p of a.public || []) {
    links.appendChild(el("li", {}, [el("a", { text: p.site + ": " + p.path, attrs: { href: p.path, target: "_blank", rel: "noopener", translate: "no" } })]));
  }
  $("public-links").hidden = !(a.public && a.public.length);
  setPreview(a.html);
  dirty = false;
  $("versions-section").hidden = false;
}

/** Save the form: `how` is "draft", "publish" or "archive". */
async function save(how) {
  if (busy) return;
  busy = true;
  clearFieldErrors();
  showError("");
  const data = values();
  const creating = !articleId;
  let url;
  if (creating) {
    url = "/api/kb/articles";
    data.status = how === "publish" ? "published" : how === "archive" ? "archived" : "draft";
  } else if (how === "draft") {
    url = "/api/kb/articles/" + articleId;
    data.status = "draft";
  } else {
    url = "/api/kb/articles/" + articleId + "/" + how;
  }
  stateBox.textContent = t("Saving…");
  try {
    const reply = await postJson(url, data, t("Saving the article"));
    const wasNew = creating;
    showArticle(reply.article);
    if (wasNew) history.replaceState(null, "", "/knowledge/articles/" + reply.article.id);
    const done = { draft: t("Saved as a draft (version {n})."), publish: t("Published (version {n})."),
      archive: t("Archived (version {n}).") }[how];
    showNotice(done.replace("{n}", String(reply.article.version)));
    loadVersions();
  } catch (err) {
    showState(article ? describe(article) : [document.createTextNode(t("Not saved yet"))]);
    if (!(err.field && showFieldError(err.field, err.message))) showError(err.message);
    else showError(t("Nothing was saved: {reason}", { reason: err.message }));
  } finally {
    busy = false;
  }
}

$("save-draft").addEventListener("click", () => save("draft"));
$("publish").addEventListener("click", () => save("publish"));
$("archive").addEventListener("click", () => save("archive"));
form.addEventListener("submit", (e) => {
  e.preventDefault();
  save("draft");
});

$("reviewed").addEventListener("click", async () => {
  try {
    const reply = await postJson("/api/kb/articles/" + articleId + "/reviewed", {}, t("Marking it reviewed"));
    const keep = values();
    showArticle(reply.article);
    restoreFields(keep);
    showNotice(t("Marked reviewed."));
  } catch (err) {
    showError(err.message);
  }
});

/** Put back what was typed (marking an article reviewed does not save the form). */
function restoreFields(v) {
  $("a-title").value = v.title;
  body.value = v.body;
  $("a-tags").value = v.tags.join(", ");
  $("a-language").value = v.language;
  $("a-audience").value = v.audience;
}

$("delete").addEventListener("click", async () => {
  if (!window.confirm(t("Delete “{title}” and all its versions? This cannot be undone.", { title: article ? article.title : "" }))) return;
  try {
    await postJson("/api/kb/articles/" + articleId + "/delete", {}, t("Deleting the article"));
    dirty = false;
    location.href = "/knowledge";
  } catch (err) {
    showError(err.message);
  }
});

// ---- the preview ---------------------------------------------------------------------------------

const previewBox = $("preview");
let previewTimer = null;
let previewGeneration = 0;

function setPreview(html) {
  // Server-rendered, nh3-sanitised article HTML (app/knowledge/render.py): the one markup this page sets.
  previewBox.innerHTML = html || "";
  $("preview-empty").hidden = !!(html && html.trim());
}

async function refreshPreview() {
  const mine = ++previewGeneration;
  previewBox.setAttribute("aria-busy", "true");
  try {
    const reply = await postJson("/api/kb/preview", { body: body.value }, t("The preview"));
    if (mine === previewGeneration) setPreview(reply.html);
  } catch (err) {
    if (mine === previewGeneration) {
      clear(previewBox);
      previewBox.appendChild(el("p", { class: "field-error", text: t("No preview: {reason}", { reason: err.message }) }));
    }
  } finally {
    if (mine === previewGeneration) previewBox.setAttribute("aria-busy", "false");
  }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(refreshPreview, PREVIEW_DELAY);
}

body.addEventListener("input", () => {
  dirty = true;
  schedulePreview();
});
for (const id of ["a-title", "a-tags", "a-note", "a-category", "a-language", "a-audience", "a-owner"]) {
  $(id).addEventListener("input", () => { dirty = true; });
}
window.addEventListener("beforeunload", (e) => {
  if (dirty) {
    e.preventDefault();
    e.returnValue = "";
  }
});

// ---- images --------------------------------------------------------------------------------------

function insertAtCursor(text) {
  const start = body.selectionStart ?? body.value.length;
  const end = body.selectionEnd ?? body.value.length;
  const before = body.value.slice(0, start);
  const gap = before && !before.endsWith("\n") ? "\n" : "";
  body.value = before + gap + text + "\n" + body.value.slice(end);
  const caret = start + gap.length + text.length + 1;
  body.focus();
  body.setSelectionRange(caret, caret);
  body.dispatchEvent(new Event("input", { bubbles: true }));
}

$("a-image").addEventListener("change", async (e) => {
  const input = e.target;
  const file = input.files && input.files[0];
  if (!file) return;
  const status = $("image-status");
  status.textContent = t("Uploading {name}…", { name: file.name });
  const data = new FormData();
  data.append("file", file);
  try {
    const reply = await postForm("/api/kb/images", data, t("The upload"));
    insertAtCursor(reply.markdown);
    status.textContent = t("{name} is added to the body.", { name: file.name });
  } catch (err) {
    status.textContent = "";
    showError(t("The image was not added: {reason}", { reason: err.message }));
  } finally {
    input.value = "";
  }
});

// ---- versions ------------------------------------------------------------------------------------

async function loadVersions() {
  if (!articleId) return;
  const list = $("versions");
  const status = $("versions-status");
  status.textContent = t("Loading the versions…");
  try {
    const data = await getJson("/api/kb/articles/" + articleId + "/versions", t("Loading the versions"));
    clear(list);
    for (const v of data.versions) {
      const current = article && v.number === article.version;
      const words = [formatDateTime(v.created_at), STATUS[v.status] || v.status];
      const view = el("button", { class: "btn btn-ghost", text: t("View version {n}", { n: v.number }), attrs: { type: "button" } });
      view.addEventListener("click", () => showVersion(v.id, view));
      list.appendChild(el("li", { class: current ? "is-current" : "", attrs: { value: String(v.number) } }, [
        el("span", { class: "kb-version-name", text: current ? t("Version {n} (current)", { n: v.number }) : t("Version {n}", { n: v.number }) }),
        el("span", { class: "kb-muted" }, [document.createTextNode(" · " + words.join(" · ")),
          v.author ? document.createTextNode(" · ") : null, v.author ? dataSpan(v.author.name) : null]),
        v.note ? el("span", { class: "kb-version-note", text: " — " + v.note, attrs: { translate: "no" } }) : null,
        document.createTextNode(" "),
        view,
      ]));
    }
    status.textContent = tn("{n} version", "{n} versions", data.versions.length);
  } catch (err) {
    status.textContent = t("The versions could not be loaded: {reason}", { reason: err.message });
  }
}

let versionOpener = null; // the "View version" button the shown version was opened with

async function showVersion(versionId, opener) {
  versionOpener = opener;
  try {
    const data = await getJson("/api/kb/articles/" + articleId + "/versions/" + versionId, t("Loading the version"));
    const v = data.version;
    shownVersion = v;
    const heading = $("version-heading");
    clear(heading);
    heading.append(...sentence(t("Version {n}: {title}"), { n: document.createTextNode(String(v.number)), title: v.title }));
    const words = [formatDateTime(v.created_at), STATUS[v.status] || v.status, v.language === "zh" ? "简体中文" : t("English"),
      v.audience === "internal" ? t("Internal") : t("Public")];
    const meta = $("version-meta");
    meta.textContent = words.join(" · ");
    if (v.author) meta.append(" · ", ...sentence(t("by {name}"), { name: v.author.name }));
    if (v.note) meta.append(" · ", dataSpan(v.note));
    // Server-rendered, nh3-sanitised article HTML of that version.
    $("version-html").innerHTML = v.html;
    $("restore").disabled = !!(article && v.number === article.version);
    $("version-view").hidden = false;
    $("version-heading").focus();
  } catch (err) {
    showError(err.message);
  }
}

$("version-close").addEventListener("click", () => {
  $("version-view").hidden = true;
  shownVersion = null;
  // Back to the version's button (or the list's first, when the list was drawn anew meanwhile).
  focusFirst(versionOpener, $("versions").querySelector("button"), $("a-title"));
});

$("restore").addEventListener("click", async () => {
  if (!shownVersion) return;
  if (dirty && !window.confirm(t("Your unsaved changes will be replaced by version {n}. Restore it?", { n: shownVersion.number }))) return;
  try {
    const reply = await postJson("/api/kb/articles/" + articleId + "/restore", { version_id: shownVersion.id },
      t("Restoring the version"));
    const number = shownVersion.number;
    showArticle(reply.article);
    $("version-view").hidden = true;
    shownVersion = null;
    showNotice(t("Version {n} is restored as version {version}.", { n: number, version: reply.article.version }));
    loadVersions();
    $("a-title").focus();
  } catch (err) {
    showError(err.message);
  }
});

// ---- start ---------------------------------------------------------------------------------------

async function start() {
  try {
    if (articleId) {
      const [opts, data] = await Promise.all([
        getJson("/api/kb/options", t("Loading the categories, sites and staff")),
        getJson("/api/kb/articles/" + articleId, t("Loading the article")),
      ]);
      options = opts;
      showArticle(data.article);
      loadVersions();
    } else {
      await loadOptions();
      $("a-title").focus();
    }
  } catch (err) {
    showError(err.message);
    stateBox.textContent = "";
  }
}

start();
