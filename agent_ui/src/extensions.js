// Console extensions: the panels beside a chat (knowledge, canned responses) hear what the console
// does through this one small interface, so they live in modules of their own.
//
//   consoleApi.reply          the reply box (a <textarea>)
//   consoleApi.current()      the selected chat as a summary (below), or null
//   consoleApi.on(kind, fn)   "select" (summary|null): another chat is shown;
//                             "message" (summary, message): a message arrived in a chat;
//                             "loaded" (summary): a chat's transcript and visitor were read
//   consoleApi.insert(text)   put text into the reply box at the caret (editable before sending)
//   consoleApi.visitorSections: functions (summary) => Node|null, appended to the visitor sidebar
//
// A summary: { id, visitorId, visitorName, canReply, lastVisitorMessage, loaded } (the chat's site is
// looked up by the server from the conversation id).
const listeners = { select: [], message: [], loaded: [] };

export const consoleApi = {
  reply: null,
  current: () => null,
  visitorSections: [],
  on(kind, fn) {
    if (listeners[kind]) listeners[kind].push(fn);
  },
  emit(kind, ...args) {
    for (const fn of listeners[kind] || []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(err); // an extension's fault never breaks the console
      }
    }
  },
  insert(text) {
    const box = consoleApi.reply;
    if (!box || box.disabled) return false;
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    const caret = start + text.length;
    box.focus();
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  },
};
