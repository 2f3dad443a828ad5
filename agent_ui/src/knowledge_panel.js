// The knowledge panel beside the chat (region "Knowledge"): suggestions for the visitor's latest
// message, a search box, "Insert link" / "Insert text". See extensions.js for `api`.
export function initKnowledgePanel({ api, showError, toast }) {
  void api;
  void showError;
  void toast;
}
