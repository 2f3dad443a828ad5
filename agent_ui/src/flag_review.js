// "Flag for review" (quality monitoring): a supervisor or admin puts the chat they are viewing in the
// evaluators' queue, with an optional reason (POST /api/quality/flags, docs/quality.md). The server
// checks the role and that the chat is of their queues; a CSR never sees the button.
import { el, focusFirst } from "./dom.js";
import { t } from "./i18n.js";
import { postJson } from "./work_orders.js";

const MAX_REASON = 200;

/**
 * @param {number} conversationId
 * @param {{opener: HTMLElement, onDone: (item: object) => void}} options
 */
export function openFlagDialog(conversationId, { opener, onDone }) {
  const dialog = el("dialog", { class: "wo-dialog flag-dialog", attrs: { "aria-labelledby": "flag-dialog-title" } });
  const reason = el("textarea", { attrs: { id: "flag-reason", rows: "3", maxlength: String(MAX_REASON) } });
  const error = el("p", { class: "wo-error", attrs: { role: "alert" } });
  const confirm = el("button", { class: "btn btn-primary", text: t("Flag for review"), attrs: { type: "submit" } });
  const cancel = el("button", { class: "btn", text: t("Cancel"), attrs: { type: "button" } });
  const form = el("form", { attrs: { novalidate: true } }, [
    el("h2", { text: t("Flag this chat for review"), attrs: { id: "flag-dialog-title" } }),
    el("div", { class: "wo-field" }, [el("label", { text: t("Reason (optional)"), attrs: { for: "flag-reason" } }), reason]),
    el("p", { class: "wo-hint", text: t("The chat joins the evaluators' queue on the Quality page.") }),
    error,
    el("div", { class: "wo-actions" }, [cancel, confirm]),
  ]);
  dialog.appendChild(form);
  document.body.appendChild(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    focusFirst(opener);
  });
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (reason.value.length > MAX_REASON) {
      error.textContent = t("The reason is at most {limit} characters.", { limit: MAX_REASON });
      return;
    }
    confirm.disabled = true;
    error.textContent = "";
    try {
      const body = await postJson("/api/quality/flags", { conversation_id: conversationId, reason: reason.value }, t("Flag for review"));
      dialog.close();
      onDone(body.item);
    } catch (exc) {
      error.textContent = exc.message;
      confirm.disabled = false;
    }
  });
  dialog.showModal();
  reason.focus();
}
