// Notes visitors left when nobody could chat: listed for the CSRs of their queue, each a work order
// ("Open WO-…": answered from its thread), then marked done. Pushed: `offline_messages.changed` → re-read `offline_messages`.
import { el, clear, formatTime, focusFirst, whileBusy } from "./dom.js";
import { t, formatNumber } from "./i18n.js";

export function initNotes({ socket, request, showError }) {
  const list = document.getElementById("notes-list");
  const empty = document.getElementById("notes-empty");
  const count = document.getElementById("notes-count");
  if (!list) return;
  let reading = false;
  let again = false;

  async function read() {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const res = await request("offline_messages", {});
        if (res.ok) render(Array.isArray(res.messages) ? res.messages : []);
      } while (again);
    } finally {
      reading = false;
    }
  }

  function render(notes) {
    // A note done (here or by a colleague) leaves the list: the focus it had goes to the same
    // control of the note now in its place, else to what the empty list says.
    const had = list.contains(document.activeElement) ? document.activeElement : null;
    const hadItem = had && had.closest("li");
    const hadIndex = hadItem ? Array.prototype.indexOf.call(list.children, hadItem) : -1;
    const hadKey = hadItem ? hadItem.getAttribute("data-id") : null;
    const hadAction = had ? had.getAttribute("data-action") : null;
    clear(list);
    count.textContent = notes.length ? "(" + formatNumber(notes.length) + ")" : "";
    empty.hidden = notes.length > 0;
    for (const n of notes) {
      const who = n.name || n.email;
      // Each name begins with the button's visible text (WCAG 2.5.3), then says whose note it is.
      const reply = el("a", { class: "btn btn-small", text: t("Reply by e-mail"),
        attrs: { "aria-label": t("Reply by e-mail to {name}", { name: who }), "data-action": "reply" } });
      reply.href = "mailto:" + encodeURIComponent(n.email).replace(/%40/g, "@");
      const done = el("button", { class: "btn btn-small", text: t("Done"),
        attrs: { type: "button", "aria-label": t("Done with the note from {name}", { name: who }), "data-action": "done" } });
      done.addEventListener("click", () => whileBusy(done, async () => {
        const res = await request("message_done", { id: n.id });
        if (!res.ok) showError(res.error);
        await read();
      }));
      list.appendChild(el("li", { class: "note", attrs: { "aria-label": t("Note from {name}", { name: who }), "data-id": n.id } }, [
        el("div", { class: "note-head" }, [
          el("span", { class: "note-who", text: who, attrs: { translate: "no" } }),
          el("time", { class: "note-time", text: formatTime(n.created_at), attrs: { datetime: n.created_at } }),
        ]),
        el("div", { class: "note-meta", text: n.email + (n.department_name ? " · " + n.department_name : ""), attrs: { translate: "no" } }),
        el("p", { class: "note-body", text: n.body, attrs: { translate: "no" } }),
        // Answered in the order's thread (tracked, mailed from the center) when there is one.
        el("div", { class: "note-actions" }, [orderLink(n) || reply, done]),
      ]));
    }
    if (had) {
      const items = list.children;
      const same = hadKey === null ? null : list.querySelector('li[data-id="' + hadKey + '"]');
      const item = same || items[Math.min(hadIndex, items.length - 1)] || null;
      focusFirst(item && item.querySelector('[data-action="' + hadAction + '"]'), item && item.querySelector("a, button"),
        empty);
    }
  }

  // Each note is a work order too (source "offline note"): its thread, SLA and the customer's mails.
  function orderLink(n) {
    const order = n.work_order;
    if (!order || typeof order.number !== "string") return null;
    const link = el("a", { class: "btn btn-small", text: t("Open {number}", { number: order.number }), attrs: { "data-action": "reply" } });
    link.href = "/work-orders/" + encodeURIComponent(order.id);
    return link;
  }

  socket.on("connect", read);
  socket.on("offline_messages.changed", read);
  // A note's order resolved, closed or reopened on its own page: `offline_messages.changed`.
}
