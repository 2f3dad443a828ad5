// Canned responses in the reply box. Typing "/" at the start of the box or after a space (then a
// shortcut's letters: "/ref") opens a list above the box — listbox "Canned responses", the reply box
// a textbox that offers it (aria-autocomplete, aria-controls, aria-activedescendant; a textarea may
// not be a combobox, so no aria-expanded: the status line says what the list holds) — filtered as
// the CSR types:
// shortcuts that start with what was typed first, then titles that contain it.
//
// Keys while the list is open: ↓ / ↑ move, Enter or Tab insert the selected response, Escape closes
// the list (a second Escape is the page's). A click inserts too. Inserting asks the server to fill
// the response's variables for this chat (POST /api/canned/{id}/use: {visitor.name} … and counts
// the use), then replaces the typed "/shortcut" with the text: it stays in the box, editable, and
// nothing is sent. The keys are taken in the capture phase on the reply box's form, so the console's
// Enter-to-send never sees an Enter that inserts.
//
// The list is read once per page (GET /api/canned), again after a change on the Canned responses
// page (it writes CHANGED_KEY in localStorage: another tab hears it at once, this one on focus).
// Every server string is shown as text (textContent), never markup. See extensions.js for `api`.
import { el, clear, preview } from "./dom.js";
import { t, tn } from "./i18n.js";
import { getJson, postJson } from "./work_orders.js";

export const CHANGED_KEY = "switchboard.canned.changed";
const TRIGGER = /(^|\s)\/([A-Za-z0-9_-]{0,40})$/;
const SHORTCUT_CHARS = /^[A-Za-z0-9_-]*/;
const MAX_SHOWN = 50;
const SCOPE_LABELS = { personal: t("Personal"), department: t("Team"), global: t("Global") };

function changedStamp() {
  try {
    return window.localStorage.getItem(CHANGED_KEY) || "";
  } catch (e) {
    return "";
  }
}

/** The responses for what was typed after "/": shortcut prefix matches first, then title matches. */
export function matching(responses, query) {
  const q = query.toLowerCase();
  const key = (r) => r.shortcut.toLowerCase();
  const byShortcut = (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id);
  const first = responses.filter((r) => r.shortcut.toLowerCase().startsWith(q)).sort(byShortcut);
  const then = q
    ? responses.filter((r) => !r.shortcut.toLowerCase().startsWith(q) && r.title.toLowerCase().includes(q)).sort(byShortcut)
    : [];
  return first.concat(then).slice(0, MAX_SHOWN);
}

export function initCanned({ api, showError, toast }) {
  void showError; // errors of this module carry their own words: shown with `toast`
  const box = api.reply;
  if (!box) return;
  const form = box.form || box.parentElement;

  const list = el("ul", {
    class: "canned-list",
    attrs: { id: "canned-list", role: "listbox", "aria-label": t("Canned responses") },
  });
  const status = el("p", { class: "canned-status", attrs: { role: "status", "aria-live": "polite" } });
  const popup = el("div", { class: "canned-popup", attrs: { id: "canned-popup", hidden: true } }, [list, status]);
  form.classList.add("canned-host");
  form.appendChild(popup);
  box.setAttribute("aria-controls", "canned-list");
  box.setAttribute("aria-autocomplete", "list");

  let responses = null; // null until read
  let loading = null; // the read in flight
  let failed = false;
  let seenStamp = changedStamp();
  let open = false;
  let token = null; // { start, end, query }: the typed "/shortcut"
  let shown = [];
  let active = -1;
  let dismissedAt = -1; // Escape: the list stays closed for the "/shortcut" at this index
  let quiet = false; // our own input event
  let inserting = false;

  function load() {
    if (loading) return loading;
    seenStamp = changedStamp();
    loading = getJson("/api/canned", t("Loading canned responses"))
      .then((body) => {
        responses = Array.isArray(body.responses) ? body.responses : [];
        failed = false;
      })
      .catch(() => {
        failed = true;
      })
      .finally(() => {
        loading = null;
        if (open) render(true);
      });
    return loading;
  }

  function reloadIfChanged() {
    if (changedStamp() !== seenStamp) load();
  }

  // ---- the list -------------------------------------------------------------------------------

  function optionId(r) {
    return "canned-option-" + r.id;
  }

  function render(refilter) {
    if (refilter) {
      const before = active >= 0 && shown[active] ? shown[active].id : null;
      shown = responses ? matching(responses, token.query) : [];
      const kept = shown.findIndex((r) => r.id === before);
      active = kept >= 0 ? kept : shown.length ? 0 : -1;
    }
    clear(list);
    shown.forEach((r, i) => {
      const name = "/" + r.shortcut + (r.title ? " — " + r.title : ""); // data: the CSRs' own words
      const option = el("li", {
        class: "canned-option",
        attrs: { id: optionId(r), role: "option", "aria-selected": i === active ? "true" : "false" },
      }, [
        el("span", { class: "canned-option-name", text: name, attrs: { translate: "no" } }),
        r.scope !== "personal" ? el("span", { class: "canned-option-scope", text: SCOPE_LABELS[r.scope] || "" }) : null,
        el("span", { class: "canned-option-preview", text: preview(r.body, 120), attrs: { translate: "no" } }),
      ]);
      option.addEventListener("mousedown", (e) => e.preventDefault()); // the reply box keeps the focus
      option.addEventListener("click", () => choose(r));
      list.appendChild(option);
    });
    list.hidden = shown.length === 0;
    const text = responses === null && !failed ? t("Loading canned responses…")
      : responses === null ? t("Canned responses could not be loaded.")
        : shown.length === 0 ? t("No canned responses match") : "";
    // With matches the list speaks for itself on screen; a screen reader hears how many there are.
    const heard = tn("{n} canned response: ↓ ↑ to choose, Enter to insert.",
      "{n} canned responses: ↓ ↑ to choose, Enter to insert.", shown.length);
    status.textContent = text || heard;
    status.classList.toggle("visually-hidden", !text);
    if (active >= 0) {
      box.setAttribute("aria-activedescendant", optionId(shown[active]));
      const node = list.children[active];
      if (node && node.scrollIntoView) node.scrollIntoView({ block: "nearest" });
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }

  function show(found) {
    const changed = !open || !token || token.query !== found.query;
    token = found;
    if (!open) {
      open = true;
      popup.hidden = false;
      if (responses === null && !loading) load();
    }
    if (changed) render(true);
  }

  function close() {
    if (!open) return;
    open = false;
    token = null;
    shown = [];
    active = -1;
    popup.hidden = true;
    clear(list);
    box.removeAttribute("aria-activedescendant");
  }

  /** The "/shortcut" the caret is in (at the start of the box or after whitespace), or null. */
  function typedShortcut() {
    if (box.disabled || box.selectionStart !== box.selectionEnd) return null;
    const caret = box.selectionStart;
    const match = TRIGGER.exec(box.value.slice(0, caret));
    if (!match) return null;
    const rest = SHORTCUT_CHARS.exec(box.value.slice(caret))[0];
    return { start: caret - match[2].length - 1, end: caret + rest.length, query: match[2] + rest };
  }

  function update() {
    if (quiet) return;
    const found = typedShortcut();
    if (!found) {
      dismissedAt = -1;
      close();
    } else if (found.start === dismissedAt) {
      close();
    } else {
      dismissedAt = -1;
      show(found);
    }
  }

  function move(delta) {
    if (!shown.length) return;
    active = active < 0 ? 0 : (active + delta + shown.length) % shown.length;
    render(false);
  }

  // ---- inserting ------------------------------------------------------------------------------

  async function choose(r) {
    const chat = api.current();
    if (!chat || inserting || !token) return;
    const { start, end } = token;
    const typed = box.value.slice(start, end);
    close();
    inserting = true;
    box.setAttribute("aria-busy", "true");
    try {
      const body = await postJson("/api/canned/" + r.id + "/use", { conversation_id: chat.id }, t("Inserting the response"));
      const now = api.current();
      if (!now || now.id !== chat.id || box.disabled) return; // another chat is shown now: not into its box
      r.usage_count = (r.usage_count || 0) + 1;
      let from = start;
      let to = end;
      if (box.value.slice(from, to) !== typed) {
        from = box.selectionStart; // the box changed meanwhile: insert at the caret
        to = box.selectionEnd;
      }
      box.value = box.value.slice(0, from) + body.text + box.value.slice(to);
      const caret = from + body.text.length;
      box.focus();
      box.setSelectionRange(caret, caret);
      quiet = true;
      try {
        box.dispatchEvent(new Event("input", { bubbles: true })); // the console keeps the draft, says "typing"
      } finally {
        quiet = false;
      }
    } catch (err) {
      toast((err && err.message) || t("The canned response could not be inserted."));
      if (err && err.code === "not_found") load(); // deleted or moved meanwhile
    } finally {
      inserting = false;
      box.removeAttribute("aria-busy");
    }
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function consume(e) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }

  // Capture on the form: runs before the reply box's own keydown listeners (Enter sends).
  form.addEventListener("keydown", (e) => {
    if (e.target !== box || !open || e.isComposing || e.keyCode === 229) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      consume(e);
      move(e.key === "ArrowDown" ? 1 : -1);
    } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) {
      if (active >= 0 && shown[active]) {
        consume(e);
        choose(shown[active]);
      } else if (responses === null && loading && e.key === "Enter") {
        consume(e); // still loading: never send the "/shortcut" by mistake
      } else {
        close(); // nothing matches: the key is the page's (Enter sends what was typed)
      }
    } else if (e.key === "Escape") {
      consume(e);
      dismissedAt = token ? token.start : -1;
      close();
    }
  }, true);

  box.addEventListener("input", update);
  box.addEventListener("click", update);
  box.addEventListener("keyup", (e) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) update();
  });
  box.addEventListener("blur", () => close());
  box.addEventListener("focus", reloadIfChanged);
  window.addEventListener("focus", reloadIfChanged);
  window.addEventListener("storage", (e) => {
    if (e.key === CHANGED_KEY) load();
  });
  api.on("select", () => {
    dismissedAt = -1;
    close();
  });

  load();
}
