// Help: the visitor's self-service inside the chat panel (docs/widget.md, "Help"). Part of
// widget-chat.js, so nothing of it loads before the visitor opens the panel. The "Help" button in
// the panel's head swaps the conversation for a search of the site's help articles (`help_search`),
// a list of results, an article (`help_article`) and "Still need help? Chat with us", which goes back
// to the chat and marks the chat it starts as coming from Help (`from_help` on its first message).
//
// Everything is text (textContent) except one thing: the article's body, which the server rendered
// from Markdown and sanitised (app/knowledge/render.py: markdown-it with raw HTML off, then nh3).
import { el, setText } from "./ui.js";

// The knowledge base's languages (app/services/knowledge.py LANGUAGES) from the widget's.
const articleLanguage = (lang) => (lang === "zh-CN" ? "zh" : "en");

// How long a search or an article asked for while the widget connects waits for the connection.
const CONNECT_WAIT_MS = 10000;

// o: {ui, t, lang, request(event, payload), whenConnected(ms) → Promise<bool>, start(): focus the chat's first field,
//     chat(): go back to the chat and start one}
export function createHelp(o) {
  const { ui, t } = o;
  const language = articleLanguage(o.lang);
  let shown = false;
  let asked = 0; // the latest search or article asked for: an older answer is dropped
  let opened = null; // the result button whose article is open (focus goes back to it)

  // --- DOM --------------------------------------------------------------------------------------
  const field = el("input", { type: "search", id: "sb-help-q", maxlength: 200, autocomplete: "off", enterkeyhint: "search" });
  const go = el("button", { type: "submit", className: "send", text: t.helpGo });
  const form = el("form", { className: "help-search", role: "search", novalidate: true }, [
    el("label", { for: "sb-help-q", text: t.helpSearch }),
    el("div", { className: "help-row" }, [field, go]),
  ]);
  const note = el("p", { className: "help-note", role: "status", text: t.helpIntro });
  const results = el("ul", { className: "help-results", "aria-label": t.helpResults, hidden: true });
  const back = el("button", { type: "button", className: "link-btn", text: t.helpBack });
  const title = el("h3", { className: "help-title", tabindex: "-1" });
  const body = el("div", { className: "help-article-body" });
  const page = el("a", { className: "help-page", target: "_blank", rel: "noopener noreferrer", text: t.helpPage });
  const article = el("article", { className: "help-article", hidden: true }, [back, title, body, page]);
  const chat = el("button", { type: "button", className: "send", text: t.helpChat });
  const view = el("section", { className: "help", "aria-label": t.help, hidden: true }, [
    form,
    note,
    results,
    article,
    el("div", { className: "help-foot" }, [el("span", { text: t.helpStill }), chat]),
  ]);
  ui.body.parentNode.insertBefore(view, ui.body);
  const button = el("button", { type: "button", className: "icon-btn help-btn", "aria-label": t.help, "aria-pressed": "false",
    text: "?" });
  ui.minimize.parentNode.insertBefore(button, ui.minimize);

  function say(text, error = false) {
    setText(note, text);
    note.hidden = !text;
    note.classList.toggle("error", error);
  }

  function failure(ack, fallback) {
    const code = ack.error && ack.error.code;
    if (code === "rate_limited") return t.helpTooFast;
    if (code === "not_found") return t.helpGone;
    return fallback;
  }

  // --- showing --------------------------------------------------------------------------------
  function show(on) {
    shown = on;
    view.hidden = !on;
    ui.panel.classList.toggle("helping", on);
    button.setAttribute("aria-pressed", String(on));
    if (on) field.focus();
  }

  button.addEventListener("click", () => {
    show(!shown);
    if (!shown) o.start(); // back in the chat, where the visitor starts
  });

  chat.addEventListener("click", () => {
    show(false);
    o.chat();
  });

  // --- search ---------------------------------------------------------------------------------
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const query = field.value.trim();
    if (!query) return field.focus();
    const ask = ++asked;
    article.hidden = true;
    results.hidden = true;
    say(t.helpSearching);
    // Asked before the connection is up (a visitor quicker than the page's first session): wait for it.
    if (!(await o.whenConnected(CONNECT_WAIT_MS))) return ask === asked && say(t.helpError, true);
    if (ask !== asked) return;
    const ack = await o.request("help_search", { query: query.slice(0, 200), language });
    if (ask !== asked) return;
    if (!ack.ok) return say(failure(ack, t.helpError), true);
    renderResults(ack.results || [], query);
  });

  function renderResults(list, query) {
    results.textContent = "";
    for (const r of list) {
      if (!r || typeof r.id !== "number") continue;
      const open = el("button", { type: "button", className: "help-result", text: r.title });
      open.addEventListener("click", () => read(r.id, open));
      results.appendChild(el("li", {}, [open, el("p", { className: "help-excerpt", text: r.excerpt || "" })]));
    }
    results.hidden = !results.firstChild;
    say(results.firstChild ? t.helpFound(results.children.length) : t.helpNone(query));
  }

  // --- an article -----------------------------------------------------------------------------
  async function read(id, from) {
    const ask = ++asked;
    opened = from;
    say(t.helpLoading);
    if (!(await o.whenConnected(CONNECT_WAIT_MS))) return ask === asked && say(t.helpError, true);
    if (ask !== asked) return;
    const ack = await o.request("help_article", { id });
    if (ask !== asked) return;
    if (!ack.ok || !ack.article) return say(failure(ack, t.helpError), true);
    const a = ack.article;
    say("");
    results.hidden = true;
    title.textContent = a.title;
    title.lang = a.language === "zh" ? "zh-CN" : "en";
    // The one place the widget inserts HTML: the article's body as the server rendered it from
    // Markdown and sanitised it (app/knowledge/render.py, nh3). Titles, excerpts and all else are text.
    body.innerHTML = a.html;
    body.lang = title.lang;
    page.hidden = !/^https?:/.test(a.url || "");
    if (!page.hidden) page.href = a.url;
    article.hidden = false;
    title.focus();
  }

  back.addEventListener("click", () => {
    ++asked;
    article.hidden = true;
    body.textContent = "";
    results.hidden = !results.firstChild;
    say(results.firstChild ? "" : t.helpIntro);
    if (opened && opened.isConnected) opened.focus();
    else field.focus();
  });

  return { isShown: () => shown, show };
}
