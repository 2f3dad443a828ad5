// Closing a chat of a department that classifies its contacts: a small dialog asks what the contact
// was about (the work-order taxonomy). Recent choices come first (kept in this browser). Resolves to
// the chosen category id, null for "no category" (when optional), or undefined when cancelled.
import { el, focusFirst } from "./dom.js";
import { t } from "./i18n.js";

const RECENT_KEY = "switchboard.recentCategories";
const RECENT_MAX = 5;

function recent() {
  try {
    const ids = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(ids) ? ids.filter(Number.isInteger) : [];
  } catch (_) {
    return [];
  }
}

function remember(id) {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify([id, ...recent().filter((x) => x !== id)].slice(0, RECENT_MAX)));
  } catch (_) {
    /* private mode: nothing to remember */
  }
}

/**
 * @param {{classification: string, categories: {id: number, path: string}[]}} options
 * @param {HTMLElement} opener focused again when the dialog closes, whichever way (Escape, Cancel, a choice)
 * @returns {Promise<number|null|undefined>}
 */
export function askCategory(options, opener) {
  return new Promise((resolve) => {
    const required = options.classification === "required";
    const dialog = el("dialog", { class: "wo-dialog close-dialog", attrs: { "aria-labelledby": "close-dialog-title" } });
    const selectId = "close-category";
    const select = el("select", { attrs: { id: selectId, required: required ? "" : null } });
    select.appendChild(el("option", { text: required ? t("Choose…") : t("(no category)"), attrs: { value: "" } }));
    const byId = new Map(options.categories.map((c) => [c.id, c]));
    const recentOnes = recent().filter((id) => byId.has(id));
    if (recentOnes.length) {
      const group = el("optgroup", { attrs: { label: t("Recent") } });
      for (const id of recentOnes) group.appendChild(el("option", { text: byId.get(id).path, attrs: { value: String(id), translate: "no" } }));
      select.appendChild(group);
    }
    const all = el("optgroup", { attrs: { label: t("All categories") } });
    for (const c of options.categories) all.appendChild(el("option", { text: c.path, attrs: { value: String(c.id), translate: "no" } }));
    select.appendChild(all);
    const error = el("p", { class: "wo-error", attrs: { role: "alert" } });
    const confirm = el("button", { class: "btn btn-primary", text: t("Close chat"), attrs: { type: "submit" } });
    const cancel = el("button", { class: "btn", text: t("Cancel"), attrs: { type: "button" } });
    // novalidate: the browser's own check of `required` would stop the submit before "Choose a category."
    const form = el("form", { attrs: { novalidate: true } }, [
      el("h2", { text: t("What was this contact about?"), attrs: { id: "close-dialog-title" } }),
      el("div", { class: "wo-field" }, [el("label", { text: t("Category"), attrs: { for: selectId } }), select]),
      el("p", { class: "wo-hint", text: required ? t("This department asks for a category on every chat.") : t("Optional: it feeds the contact-category report.") }),
      error,
      el("div", { class: "wo-actions" }, [cancel, confirm]),
    ]);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    let answer;
    dialog.addEventListener("close", () => {
      dialog.remove();
      focusFirst(opener);
      resolve(answer);
    });
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!select.value) {
        if (required) {
          error.textContent = t("Choose a category.");
          select.focus();
          return;
        }
        answer = null;
      } else {
        answer = Number(select.value);
        remember(answer);
      }
      dialog.close();
    });
    dialog.showModal();
    select.focus();
  });
}
