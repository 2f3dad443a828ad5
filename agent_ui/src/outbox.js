// Unacknowledged outgoing messages. Kept in sessionStorage so that a page reload
// (e.g. to renew an expired socket token) does not lose what the agent typed; each
// entry keeps its original client_id, so resending is idempotent on the server.

const PREFIX = "switchboard.outbox.";

export class Outbox {
  constructor(userId) {
    this.key = PREFIX + (userId || "anon");
    /** @type {Array<{client_id: string, conversation_id: number, body: string, created_at: string, state: string, error?: string}>} */
    this.entries = [];
    this.load();
  }

  load() {
    try {
      const raw = window.sessionStorage.getItem(this.key);
      const list = raw ? JSON.parse(raw) : [];
      if (Array.isArray(list)) {
        this.entries = list
          .filter(
            (e) =>
              e &&
              typeof e.client_id === "string" &&
              typeof e.body === "string" &&
              Number.isInteger(e.conversation_id),
          )
          .map((e) => ({
            client_id: e.client_id,
            conversation_id: e.conversation_id,
            body: e.body,
            created_at: typeof e.created_at === "string" ? e.created_at : new Date().toISOString(),
            state: "queued",
          }));
      }
    } catch (e) {
      this.entries = [];
    }
  }

  save() {
    try {
      // Failed entries are shown until discarded/retried but not kept across reloads.
      const keep = this.entries
        .filter((e) => e.state !== "failed")
        .map((e) => ({ client_id: e.client_id, conversation_id: e.conversation_id, body: e.body, created_at: e.created_at }));
      if (keep.length) window.sessionStorage.setItem(this.key, JSON.stringify(keep));
      else window.sessionStorage.removeItem(this.key);
    } catch (e) {
      /* storage full or disabled: the in-memory outbox still works */
    }
  }

  add(entry) {
    this.entries.push(entry);
    this.save();
  }

  get(clientId) {
    return this.entries.find((e) => e.client_id === clientId) || null;
  }

  remove(clientId) {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.client_id !== clientId);
    if (this.entries.length !== before) this.save();
  }

  forConversation(conversationId) {
    return this.entries.filter((e) => e.conversation_id === conversationId);
  }

  conversationIds() {
    return Array.from(new Set(this.entries.map((e) => e.conversation_id)));
  }
}
