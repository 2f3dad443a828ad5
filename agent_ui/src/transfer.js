// The "Transfer" dialog: pick a CSR (with state and load) or a department, add a note for the
// receiver, confirm. Uses a native <dialog> (focus trap, Escape to cancel) built with textContent.
// However it closes (Escape, Cancel, a transfer), the focus goes back to where it came from.
import { el, focusFirst, whileBusy } from "./dom.js";
import { t, formatNumber } from "./i18n.js";

const STATUS_TEXT = { available: t("Available"), away: t("Away"), offline: t("Offline") };

/**
 * @param {(event: string, payload: object) => Promise<any>} request
 * @param {number} conversationId
 * @param {{opener: HTMLElement | (() => void), onDone: () => void, onError: (error: any) => void}} hooks
 *   `opener`: the control that opened the dialog, focused again when it closes — or a function that
 *   puts the focus where it belongs then (the opener may be disabled by the transfer).
 */
export async function openTransferDialog(request, conversationId, { opener, onDone, onError }) {
  const dialog = el("dialog", { class: "transfer-dialog", attrs: { "aria-labelledby": "transfer-title" } });
  const title = el("h2", { text: t("Transfer chat"), attrs: { id: "transfer-title" } });
  const status = el("p", { class: "transfer-status", text: t("Loading…"), attrs: { role: "status" } });
  const list = el("div", { class: "transfer-targets", attrs: { role: "radiogroup", "aria-label": t("Transfer to") } });
  const noteId = "transfer-note";
  const note = el("textarea", { attrs: { id: noteId, rows: "3", maxlength: "2000", placeholder: t("What the next CSR should know") } });
  const warmId = "transfer-warm";
  const warm = el("input", { attrs: { type: "checkbox", id: warmId, disabled: true } });
  const warmRow = el("div", { class: "transfer-warm" }, [
    warm,
    el("label", { text: t("Warm transfer: stay in the chat until your colleague has taken over"), attrs: { for: warmId } }),
  ]);
  const error = el("p", { class: "transfer-error", attrs: { role: "alert" } });
  const confirm = el("button", { class: "btn btn-primary", text: t("Transfer"), attrs: { type: "submit", disabled: true } });
  const cancel = el("button", { class: "btn", text: t("Cancel"), attrs: { type: "button" } });
  const form = el("form", { attrs: { method: "dialog" } }, [
    title,
    status,
    list,
    el("label", { class: "transfer-note-label", text: t("Note for the receiver (only staff see it)"), attrs: { for: noteId } }),
    note,
    warmRow,
    error,
    el("div", { class: "transfer-actions" }, [cancel, confirm]),
  ]);
  dialog.appendChild(form);
  document.body.appendChild(dialog);
  const close = () => {
    if (dialog.open) dialog.close();
  };
  cancel.addEventListener("click", close);
  // Every way out ends here, Escape included (its `cancel` closes the dialog): the dialog stays in
  // the page until it has closed, so the focus can be handed back.
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (typeof opener === "function") opener();
    else focusFirst(opener);
  });
  dialog.showModal();
  const focusedFirst = document.activeElement;

  const res = await request("transfer_targets", { conversation_id: conversationId });
  if (!res.ok) {
    close();
    onError(res.error);
    return;
  }
  let chosen = null;
  const option = (label, detail, value, disabled) => {
    const input = el("input", { attrs: { type: "radio", name: "transfer-target", disabled } });
    input.addEventListener("change", () => {
      chosen = value;
      confirm.disabled = false;
      // Only a CSR can be transferred to warm (a department's queue has nobody to meet yet).
      warm.disabled = !value.to_agent_id;
      if (warm.disabled) warm.checked = false;
    });
    return el("label", { class: "transfer-option" + (disabled ? " is-disabled" : "") }, [
      input,
      el("span", { class: "transfer-name", text: label, attrs: { translate: "no" } }),
      el("span", { class: "transfer-detail", text: detail }),
    ]);
  };
  list.appendChild(el("h3", { class: "section-title", text: t("CSRs") }));
  if (!res.agents.length) list.appendChild(el("p", { class: "empty", text: t("No other CSRs.") }));
  for (const a of res.agents) {
    const full = a.load >= a.capacity;
    const detail = t("{status} · {load}/{capacity} chats",
      { status: STATUS_TEXT[a.status] || a.status, load: formatNumber(a.load), capacity: formatNumber(a.capacity) });
    list.appendChild(option(a.name, detail, { to_agent_id: a.id }, a.status !== "available" || full));
  }
  list.appendChild(el("h3", { class: "section-title", text: t("Departments") }));
  if (!res.departments.length) list.appendChild(el("p", { class: "empty", text: t("No departments.") }));
  for (const d of res.departments) {
    list.appendChild(option(d.name, t("{n} waiting", { n: formatNumber(d.waiting) }), { to_department_id: d.id }, false));
  }
  status.textContent = "";
  // The dialog opened before the choices came: unless the user has moved on, the focus goes to the
  // first one that can be chosen.
  const first = list.querySelector('input[type="radio"]:not(:disabled)');
  if (first && document.activeElement === focusedFirst) first.focus();

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!chosen) return;
    whileBusy(confirm, async () => {
      confirm.textContent = t("Transferring…");
      const payload = Object.assign({ conversation_id: conversationId }, chosen);
      if (note.value.trim()) payload.note = note.value.trim();
      if (warm.checked && chosen.to_agent_id) payload.warm = true;
      const done = await request("transfer", payload);
      confirm.textContent = t("Transfer");
      if (done.ok) {
        close();
        onDone();
      } else {
        error.textContent = (done.error && done.error.message) || t("The transfer failed.");
      }
    });
  });
}
