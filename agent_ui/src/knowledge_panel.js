// The knowledge panel beside the chat (region "Knowledge"; docs/protocol.md "Knowledge in the
// console"): with nothing typed, the articles "Suggested" for the selected chat's latest visitor
// message (again when the visitor writes, and for every chat selected); a "Search articles" box
// (as you type, or Enter); on each article "Insert link" (public articles of the chat's site only)
// and "Insert text", which put it into the reply box — never sent by themselves — and tell the
// server (the content reports count inserts); "Preview" shows the article as the server rendered
// and sanitised it (app/knowledge/render.py: the one piece of HTML set as markup here).
//
// It also adds "Before the chat" to the visitor sidebar: what the visitor searched and read in the
// widget before they asked for the chat, read once per chat. Everything else is text (textContent).
// See extensions.js for `api`.
import { clear, el } from "./dom.js";
import { t, tn } from "./i18n.js";
import { getJson, postJson } from "./work_orders.js";

const TYPING_MS = 250; // search once typing pauses
const MESSAGE_MS = 300; // a burst of visitor messages asks for suggestions once
const MAX_QUERY = 200;
const LANGUAGE_LABELS = { en: "English", zh: "中文" };

export function initKnowledgePanel({ api, showError, toast }) {
  try {
    const root = document.getElementById("knowledge-panel");
    if (root) new KnowledgePanel(root, { api, showError, toast }).start();
    api.visitorSections.push(beforeTheChat());
  } catch (err) {
    console.error(err); // the panel's fault never stops the console
  }
}

class KnowledgePanel {
  constructor(root, { api, showError, toast }) {
    this.root = root;
    this.api = api;
    this.showError = showError;
    this.toast = toast;
    this.chat = null; // the selected chat's summary (extensions.js), or null
    this.ticket = 0; // the newest request: older answers are dropped
    this.typingTimer = null;
    this.messageTimer = null;
    this.details = new Map(); // "chat:article" → the insert endpoint's answer (a promise)
    this.rendered = 0;
    this.build();
  }

  build() {
    const root = this.root;
    clear(root);
    root.setAttribute("aria-label", t("Knowledge")); // the region's name, in the page's language
    root.appendChild(el("h3", { class: "section-title", text: t("Knowledge") }));
    this.input = el("input", {
      class: "kb-query",
      attrs: { type: "search", id: "kb-query", maxlength: MAX_QUERY, autocomplete: "off", spellcheck: "false" },
    });
    this.form = el("form", { class: "kb-search", attrs: { role: "search", "aria-label": t("Articles") } }, [
      el("label", { class: "kb-label", text: t("Search articles"), attrs: { for: "kb-query" } }),
      this.input,
    ]);
    root.appendChild(this.form);
    this.hint = el("p", { class: "kb-hint muted" });
    root.appendChild(this.hint);
    this.heading = el("h4", { class: "kb-list-title", text: t("Suggested"), attrs: { id: "kb-list-title" } });
    root.appendChild(this.heading);
    this.status = el("div", { class: "kb-status", attrs: { role: "status", "aria-live": "polite" } });
    root.appendChild(this.status);
    this.list = el("ul", { class: "kb-results", attrs: { "aria-labelledby": "kb-list-title" } });
    root.appendChild(this.list);

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.typingTimer);
      this.refresh();
    });
    this.input.addEventListener("input", () => {
      clearTimeout(this.typingTimer);
      if (!this.query()) this.refresh();
      else this.typingTimer = setTimeout(() => this.refresh(), TYPING_MS);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.input.value) {
        event.preventDefault();
        event.stopPropagation();
        this.input.value = "";
        clearTimeout(this.typingTimer);
        this.refresh();
      }
    });
    // Whatever the console did meanwhile (a chat closed and removed), the panel acts on the chat shown.
    this.root.addEventListener("focusin", () => this.follow());
  }

  start() {
    this.api.on("select", (summary) => this.select(summary));
    this.api.on("loaded", () => this.follow());
    this.api.on("message", (summary, message) => {
      if (this.follow()) return;
      if (!summary || !this.chat || summary.id !== this.chat.id) return;
      if (!message || message.sender !== "visitor" || this.query()) return;
      clearTimeout(this.messageTimer);
      this.messageTimer = setTimeout(() => this.refresh(), MESSAGE_MS);
    });
    this.select(this.api.current());
  }

  query() {
    return this.input.value.trim().slice(0, MAX_QUERY);
  }

  /** Another chat (or none) is shown: the panel follows it. */
  select(summary) {
    this.chat = summary || null;
    this.details.clear();
    this.refresh();
  }

  /** Select the console's current chat if it is not the panel's; true when it changed. */
  follow() {
    const now = this.api.current();
    const same = now ? this.chat && this.chat.id === now.id : !this.chat;
    if (same) {
      if (now) this.chat = now; // canReply may have changed
      return false;
    }
    this.select(now);
    return true;
  }

  /** Suggestions (nothing typed) or the search's results, for the selected chat. */
  async refresh() {
    const query = this.query();
    const chat = this.chat;
    const ticket = ++this.ticket;
    this.hint.textContent = chat ? "" : t("Select a chat to insert articles.");
    this.hint.hidden = !!chat;
    this.heading.textContent = query ? t("Results") : t("Suggested");
    if (!query && !chat) {
      this.show([], t("Select a chat to see suggested articles."));
      return;
    }
    this.loading();
    const params = new URLSearchParams();
    if (query) params.set("q", query);
    if (chat) params.set("conversation_id", String(chat.id));
    let answer;
    try {
      answer = await getJson((query ? "/api/kb/search?" : "/api/kb/suggestions?") + params.toString(), t("Loading articles"));
    } catch (err) {
      if (ticket === this.ticket) this.failed(err);
      return;
    }
    if (ticket !== this.ticket) return;
    const articles = Array.isArray(answer.articles) ? answer.articles.filter(isHit) : [];
    const empty = query
      ? t("No articles found")
      : answer.has_message
        ? t("No articles match the visitor's last message.")
        : t("Suggestions appear when the visitor writes.");
    this.show(articles, empty);
  }

  loading() {
    this.list.setAttribute("aria-busy", "true");
    clear(this.status);
    this.status.className = "kb-status";
    this.status.textContent = t("Loading…");
  }

  failed(err) {
    this.list.removeAttribute("aria-busy");
    clear(this.list);
    clear(this.status);
    this.status.className = "kb-status kb-error";
    const retry = el("button", { class: "link-button", text: t("Try again"), attrs: { type: "button" } });
    retry.addEventListener("click", () => this.refresh());
    this.status.appendChild(el("span", { text: t("Articles could not be loaded: {reason}", { reason: (err && err.message) || t("error") }) + " " }));
    this.status.appendChild(retry);
  }

  show(articles, emptyText) {
    this.list.removeAttribute("aria-busy");
    clear(this.list);
    clear(this.status);
    this.status.className = "kb-status";
    if (!articles.length) {
      this.status.textContent = emptyText;
      return;
    }
    this.status.textContent = tn("{n} article", "{n} articles", articles.length);
    for (const hit of articles) this.list.appendChild(this.item(hit));
  }

  item(hit) {
    const key = "kb-r-" + ++this.rendered;
    const zh = hit.language === "zh";
    const canInsert = !!this.chat && !!this.chat.canReply;
    const title = el("span", { class: "kb-result-title", text: hit.title, attrs: { id: key + "-title", lang: zh ? "zh-Hans" : null, translate: "no" } });
    const tags = el("span", { class: "kb-tags" }, [
      hit.audience === "internal" ? el("span", { class: "kb-badge kb-badge-internal", text: t("Internal") }) : null,
      LANGUAGE_LABELS[hit.language] && hit.language !== "en"
        ? el("span", { class: "kb-badge", text: LANGUAGE_LABELS[hit.language] })
        : null,
    ]);
    const linkButton = el("button", {
      class: "btn btn-small",
      text: t("Insert link"),
      attrs: {
        type: "button",
        disabled: !canInsert || !hit.linkable,
        title: hit.audience === "internal" ? t("Internal articles are never sent as links")
          : !hit.linkable ? t("This article has no public link for this chat") : null,
      },
    });
    const textButton = el("button", { class: "btn btn-small", text: t("Insert text"), attrs: { type: "button", disabled: !canInsert } });
    const preview = el("div", { class: "kb-preview", attrs: { id: key + "-preview", hidden: true } });
    const previewButton = el("button", {
      class: "link-button",
      text: t("Preview"),
      attrs: { type: "button", "aria-expanded": "false", "aria-controls": key + "-preview", disabled: !this.chat },
    });
    linkButton.addEventListener("click", () => this.insert(hit, "link", linkButton));
    textButton.addEventListener("click", () => this.insert(hit, "text", textButton));
    previewButton.addEventListener("click", () => this.togglePreview(hit, previewButton, preview));
    return el("li", { class: "kb-result", attrs: { "aria-labelledby": key + "-title" } }, [
      el("div", { class: "kb-result-head" }, [title, tags]),
      hit.excerpt ? el("p", { class: "kb-excerpt", text: hit.excerpt, attrs: { lang: zh ? "zh-Hans" : null, translate: "no" } }) : null,
      el("div", { class: "kb-actions" }, [linkButton, textButton, previewButton]),
      preview,
    ]);
  }

  /** The article as the chat may use it (`text`, `link`, `html`), asked once per chat and article. */
  detailsOf(chatId, articleId) {
    const key = chatId + ":" + articleId;
    if (!this.details.has(key)) {
      const asked = getJson(
        "/api/kb/articles/" + encodeURIComponent(articleId) + "/insert?conversation_id=" + encodeURIComponent(chatId),
        t("Loading the article"),
      );
      asked.catch(() => this.details.delete(key));
      this.details.set(key, asked);
    }
    return this.details.get(key);
  }

  async insert(hit, how, button) {
    this.follow();
    const chat = this.chat;
    if (!chat) {
      this.toast(t("Select a chat first."));
      return;
    }
    if (!chat.canReply) {
      this.toast(t("You cannot reply in this chat."));
      return;
    }
    // Busy, yet focused still (aria-disabled: a disabled button would drop the focus).
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
    let got;
    try {
      got = await this.detailsOf(chat.id, hit.id);
    } catch (err) {
      this.showError(err);
      return;
    } finally {
      button.removeAttribute("aria-busy");
      button.removeAttribute("aria-disabled");
    }
    const now = this.api.current();
    if (!now || now.id !== chat.id) return; // another chat was selected meanwhile: not into its reply
    const piece = how === "link" ? got.link : got.text;
    if (typeof piece !== "string" || !piece) {
      this.toast(how === "link" ? t("This article has no public link for this chat.") : t("This article has no text."));
      return;
    }
    if (!this.api.insert(spaced(this.api.reply, piece, how))) {
      this.toast(t("You cannot reply in this chat."));
      return;
    }
    postJson("/api/kb/inserted", { conversation_id: chat.id, article_id: hit.id, how }, t("Noting the insert")).catch(
      (err) => this.showError(err),
    );
  }

  async togglePreview(hit, button, preview) {
    const open = button.getAttribute("aria-expanded") === "true";
    if (open) {
      button.setAttribute("aria-expanded", "false");
      preview.hidden = true;
      return;
    }
    const chat = this.chat;
    if (!chat) return;
    button.setAttribute("aria-expanded", "true");
    preview.hidden = false;
    clear(preview);
    preview.appendChild(el("p", { class: "muted", text: t("Loading…") }));
    try {
      const got = await this.detailsOf(chat.id, hit.id);
      // Rendered by markdown-it and cleaned by nh3 on the server (app/knowledge/render.py).
      preview.innerHTML = typeof got.html === "string" ? got.html : "";
      preview.setAttribute("translate", "no"); // the article itself: data
    } catch (err) {
      clear(preview);
      preview.removeAttribute("translate");
      preview.appendChild(el("p", { class: "kb-error", text: t("The article could not be loaded: {reason}", { reason: err.message }) }));
    }
  }
}

function isHit(hit) {
  return hit && typeof hit === "object" && Number.isInteger(hit.id) && typeof hit.title === "string";
}

/** `piece` with what separates it from the text before the caret: a space before a link, a new line before text. */
function spaced(box, piece, how) {
  if (!box || !box.value) return piece;
  const before = box.value.slice(0, box.selectionStart ?? box.value.length);
  if (!before || /\s$/.test(before)) return piece;
  return (how === "link" ? " " : "\n") + piece;
}

// ---- "Before the chat" in the visitor sidebar ---------------------------------------------------

/** The sidebar section: what the visitor searched and read before the chat (nothing when neither). */
function beforeTheChat() {
  const known = new Map(); // chat id → null (loading) | "error" | {searched, read}

  function section(summary) {
    if (!summary || !Number.isInteger(summary.id)) return null;
    const id = summary.id;
    if (!known.has(id)) {
      known.set(id, null);
      getJson("/api/kb/self-service?conversation_id=" + encodeURIComponent(id), t("Loading"))
        .then(
          (got) => known.set(id, {
            searched: Array.isArray(got.searched) ? got.searched.filter((q) => typeof q === "string") : [],
            read: Array.isArray(got.read) ? got.read.filter((a) => a && typeof a.title === "string") : [],
          }),
          () => known.set(id, "error"),
        )
        .then(() => {
          // Only this section is redrawn: the rest of the sidebar stays as it is. The sidebar may
          // have been drawn again meanwhile: the section shown now is the one replaced.
          const shown = node.isConnected ? node : document.querySelector(`section.kb-before[data-chat="${id}"]`);
          if (!shown) return;
          const filled = section(summary);
          if (filled) shown.replaceWith(filled);
          else shown.remove();
        });
    }
    const got = known.get(id);
    const node = el("section", { class: "kb-before", attrs: { "aria-labelledby": "kb-before-title", "data-chat": String(id) } });
    if (got === null) {
      node.hidden = true; // nothing to show until we know there is something
      return node;
    }
    if (got !== "error" && !got.searched.length && !got.read.length) return null;
    node.appendChild(el("h3", { class: "section-title", text: t("Before the chat"), attrs: { id: "kb-before-title" } }));
    if (got === "error") {
      node.appendChild(el("p", { class: "empty", text: t("What the visitor looked up could not be loaded.") }));
      return node;
    }
    if (got.searched.length) {
      node.appendChild(el("p", { class: "kb-searched" }, [
        document.createTextNode(t("Searched:") + " "),
        el("span", { text: got.searched.map((q) => t("“{query}”", { query: q })).join(t(", ")), attrs: { translate: "no" } }),
      ]));
    }
    if (got.read.length) {
      node.appendChild(el("p", { class: "kb-read-label", text: t("Read:") }));
      node.appendChild(el("ul", { class: "kb-read" }, got.read.map((a) => el("li", { text: a.title, attrs: { translate: "no" } }))));
    }
    return node;
  }

  return section;
}
