// Proactive invitations (docs/protocol.md: `invitation`, `invitation.withdrawn`, `rule_matched`):
// a card above the launcher with the CSR's name, their message (text, never markup), "Accept" and
// "Decline". Not modal: it never takes focus from the page. Escape hides it for this page only.
// Also times the site's automatic rules (`session.invitation_rules`) and says when one is due.
import { el } from "./shell.js";

// Python's fnmatch.fnmatchcase for `*` and `?` (the rules' path patterns).
function pattern(glob) {
  const re = String(glob).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}

// send(event, payload) → Promise of the ack; busy() → a chat is open or the panel is;
// accepted(conversation) opens the chat on it; tracker gives the page view and the visit.
export function createInvitations({ shell, t, send, busy, accepted, tracker }) {
  let current = null; // the open invitation {id, message, agent: {name}}
  let hidden = 0; // the id of the invitation hidden with Escape on this page
  const seen = new Set();
  let rules = [];
  let timers = [];
  let fired = new Set(); // "<view id>:<rule id>"

  const who = el("p", { className: "who" });
  const text = el("p", { className: "text" });
  const accept = el("button", { type: "button", className: "yes", text: t.accept });
  const decline = el("button", { type: "button", text: t.decline });
  const dismiss = el("button", { type: "button", className: "x", "aria-label": t.dismiss, text: "\u00d7" });
  const card = el("div", { className: "invite", role: "dialog", "aria-label": t.invitation, hidden: true }, [
    dismiss, who, text, el("div", { className: "row" }, [decline, accept]),
  ]);
  shell.cards.appendChild(card);

  function render() {
    const show = Boolean(current) && current.id !== hidden && !busy();
    const hadFocus = card.contains(shell.root.activeElement);
    card.hidden = !show;
    // Answered, hidden or withdrawn with the visitor's focus on it: focus goes to the launcher
    // below it (Accept then moves it on into the chat).
    if (!show && hadFocus) shell.launcher.focus();
    if (!show) return;
    const name = current.agent && current.agent.name;
    who.textContent = name ? String(name) : "";
    who.hidden = !name;
    text.textContent = String(current.message || "");
    if (!seen.has(current.id)) {
      seen.add(current.id);
      send("invitation_seen", { id: current.id });
    }
  }

  function show(inv) {
    if (!inv || !Number.isInteger(inv.id)) return;
    current = inv;
    render();
  }

  function close() {
    current = null;
    render();
  }

  let accepting = false; // (Accept is not disabled meanwhile: that would drop the visitor's focus)
  accept.addEventListener("click", async () => {
    if (!current || accepting) return;
    const id = current.id;
    accepting = true;
    const ack = await send("invitation_accept", { id });
    accepting = false;
    if (current && current.id === id) close();
    if (ack.ok && ack.conversation) accepted(ack.conversation);
  });
  const no = () => {
    if (!current) return;
    send("invitation_decline", { id: current.id });
    close();
  };
  decline.addEventListener("click", no);
  dismiss.addEventListener("click", no);
  card.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && current) {
      e.stopPropagation();
      hidden = current.id;
      render();
    }
  });

  // --- automatic rules ------------------------------------------------------------------------
  function schedule() {
    timers.forEach(clearTimeout);
    timers = [];
    const view = tracker.view();
    if (!view) return;
    const path = location.pathname;
    for (const rule of rules) {
      if (!rule || !Number.isInteger(rule.id)) continue;
      const key = `${view.id}:${rule.id}`;
      if (fired.has(key)) continue;
      if (rule.url && !pattern(rule.url).test(path)) continue;
      if (rule.min_pages && tracker.visit().pages < rule.min_pages) continue;
      const now = Date.now();
      const wait = Math.max(0, (rule.min_seconds_on_page || 0) * 1000 - (now - view.at),
        (rule.min_seconds_on_site || 0) * 1000 - (now - tracker.visit().start));
      timers.push(setTimeout(() => {
        if (tracker.view() !== view || fired.has(key)) return;
        if (busy() || current) return; // tried again when the panel closes (refresh)
        fired.add(key);
        send("rule_matched", { rule_id: rule.id }); // not_eligible & co: nothing to do
      }, wait));
    }
  }

  return {
    show,
    withdrawn(x) {
      if (x && current && x.id === current.id) close();
    },
    session(s) {
      rules = Array.isArray(s.invitation_rules) ? s.invitation_rules : [];
      if (s.invitation) show(s.invitation);
      else if (current) close(); // answered, expired or withdrawn meanwhile
      schedule();
    },
    // The page changed (SPA navigation): new page view, the rules start over.
    pageChanged: schedule,
    // The panel opened or closed, a chat started or ended.
    refresh() {
      render();
      schedule();
    },
  };
}
