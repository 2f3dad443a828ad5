// The console's queue panel: chats offered to me (accept / decline before the countdown ends)
// and the chats waiting in the queues I serve, which I can take myself (how manual / pooled
// queues work). Pushed by the server: `queue.changed` → re-read `queue` (one read in flight).
import { el, clear, focusFirst, whileBusy } from "./dom.js";
import { t, formatNumber } from "./i18n.js";

/**
 * @param {{socket: any, request: (event: string, payload: any) => Promise<any>,
 *          showError: (error: any) => void, toast: (text: string) => void, chime: () => void,
 *          focusFallback: () => void}} deps
 *   `focusFallback`: where the focus goes when the offer or waiting chat that had it is gone (taken,
 *   answered, withdrawn) and no other is left in its place.
 */
export function initQueue({ socket, request, showError, toast, chime, focusFallback }) {
  const $ = (id) => document.getElementById(id);
  const dom = { offers: $("offers"), list: $("queue-list"), empty: $("queue-empty"), count: $("queue-count") };
  if (!dom.offers || !dom.list) return;
  const offers = new Map(); // conversation id → {conv, expiresAt}
  let chats = [];
  let readAt = Date.now();
  let reading = false;
  let stale = false;

  function name(c) {
    return (c && typeof c.visitor_name === "string" && c.visitor_name) || t("Visitor");
  }

  /** Before a redraw of `box`: the control in it that has the focus, to find again after. */
  function focusIn(box) {
    const had = box.contains(document.activeElement) ? document.activeElement : null;
    if (!had) return null;
    const item = had.closest("[data-item]");
    return { item: item && item.getAttribute("data-item"), action: had.getAttribute("data-action"),
      index: item ? Array.prototype.indexOf.call(box.querySelectorAll("[data-item]"), item) : 0 };
  }

  /** After it: the same control of the same chat, else of the chat now in its place, else the fallback. */
  function refocus(box, was) {
    if (!was) return;
    const items = box.querySelectorAll("[data-item]");
    const item = box.querySelector('[data-item="' + was.item + '"]') || items[Math.min(was.index, items.length - 1)];
    if (!focusFirst(item && item.querySelector('[data-action="' + was.action + '"]'))) focusFallback();
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return formatNumber(Math.floor(s / 60)) + ":" + String(s % 60).padStart(2, "0");
  }

  // ---- offers -------------------------------------------------------------

  function renderOffers() {
    const was = focusIn(dom.offers);
    clear(dom.offers);
    dom.offers.hidden = offers.size === 0;
    for (const [id, offer] of offers) {
      const left = (offer.expiresAt - Date.now()) / 1000;
      const who = name(offer.conv);
      // Each name begins with the button's visible text (WCAG 2.5.3), in either language.
      const accept = el("button", { class: "btn btn-primary btn-small", text: t("Accept"),
        attrs: { type: "button", "aria-label": t("Accept chat from {name}", { name: who }), "data-action": "accept" } });
      const decline = el("button", { class: "btn btn-small", text: t("Decline"),
        attrs: { type: "button", "aria-label": t("Decline chat from {name}", { name: who }), "data-action": "decline" } });
      accept.addEventListener("click", () => answer(id, "accept", accept));
      decline.addEventListener("click", () => answer(id, "decline", decline));
      dom.offers.appendChild(el("div", { class: "offer", attrs: { role: "group", "aria-label": t("Chat offer from {name}", { name: who }),
        "data-item": id } }, [
        el("div", { class: "offer-title" }, [
          document.createTextNode(t("New chat:") + " "),
          el("span", { text: who, attrs: { translate: "no" } }),
        ]),
        el("div", { class: "offer-clock", text: left > 0 ? t("{time} left", { time: clock(left) }) : t("Expired"),
          attrs: { "data-offer": id } }),
        el("div", { class: "offer-actions" }, [accept, decline]),
      ]));
    }
    refocus(dom.offers, was);
  }

  function answer(id, event, button) {
    whileBusy(button, async () => {
      const res = await request(event, { conversation_id: id });
      if (!res.ok) showError(res.error);
      offers.delete(id);
      renderOffers();
    });
  }

  socket.on("conversation.offered", (conv) => {
    if (!conv || !Number.isInteger(conv.id)) return;
    const seconds = typeof conv.offer_seconds === "number" ? conv.offer_seconds : 15;
    offers.set(conv.id, { conv, expiresAt: Date.now() + seconds * 1000 });
    renderOffers();
    try {
      chime();
    } catch (e) {
      /* sound is a nicety */
    }
  });

  socket.on("conversation.offer_withdrawn", (payload) => {
    if (!payload || !offers.has(payload.conversation_id)) return;
    offers.delete(payload.conversation_id);
    renderOffers();
    if (payload.reason === "expired") toast(t("A chat offer ran out and went to a colleague."));
  });

  // ---- waiting chats ------------------------------------------------------

  async function read() {
    if (reading) {
      stale = true;
      return;
    }
    reading = true;
    try {
      do {
        stale = false;
        const res = await request("queue", {});
        if (!res.ok) break;
        chats = Array.isArray(res.chats) ? res.chats : [];
        readAt = Date.now();
        renderQueue();
      } while (stale);
    } finally {
      reading = false;
    }
  }

  function renderQueue() {
    const was = focusIn(dom.list);
    clear(dom.list);
    dom.count.textContent = chats.length ? "(" + chats.length + ")" : "";
    dom.empty.hidden = chats.length > 0;
    for (const c of chats) {
      if (offers.has(c.id)) continue;
      const take = el("button", { class: "btn btn-small", text: t("Take"),
        attrs: { type: "button", "aria-label": t("Take chat with {name}", { name: name(c) }), "data-action": "take" } });
      take.addEventListener("click", () => whileBusy(take, async () => {
        const res = await request("pick", { conversation_id: c.id });
        if (!res.ok) showError(res.error);
        await read();
      }));
      const where = c.department_name
        ? [el("span", { text: c.department_name, attrs: { translate: "no" } }), c.manual ? document.createTextNode(" · " + t("pick")) : null]
        : [document.createTextNode(t("General"))];
      dom.list.appendChild(el("li", { class: "queue-item", attrs: { "data-item": c.id } }, [
        el("span", { class: "queue-name", text: name(c), attrs: { translate: c.visitor_name ? "no" : null } }),
        el("span", { class: "queue-where" }, where),
        el("span", { class: "queue-wait", text: clock(c.waiting_seconds || 0),
          attrs: { "data-waited": c.waiting_seconds || 0, title: t("Waiting time") } }),
        take,
      ]));
    }
    refocus(dom.list, was);
  }

  setInterval(() => {
    for (const node of dom.offers.querySelectorAll("[data-offer]")) {
      const offer = offers.get(Number(node.getAttribute("data-offer")));
      if (!offer) continue;
      const left = (offer.expiresAt - Date.now()) / 1000;
      node.textContent = left > 0 ? t("{time} left", { time: clock(left) }) : t("Expired");
    }
    for (const node of dom.list.querySelectorAll("[data-waited]")) {
      node.textContent = clock(Number(node.getAttribute("data-waited")) + (Date.now() - readAt) / 1000);
    }
  }, 1000);

  socket.on("connect", read);
  socket.on("queue.changed", read);
  socket.on("conversation.assigned", read);
}
