// Canned responses in the reply box: a shortcut (/refund) opens a filtered list (listbox "Canned
// responses"; arrows, Enter, Esc). See extensions.js for `api`.
export function initCanned({ api, showError, toast }) {
  void api;
  void showError;
  void toast;
}
