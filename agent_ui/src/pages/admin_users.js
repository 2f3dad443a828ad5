// The admin's Users page: "Copy link" copies the one-time set-password link (no inline script:
// the page's CSP allows none). Without the clipboard API the link is selected for Ctrl+C.
import { t } from "../i18n.js";

function copy(button) {
  const input = document.getElementById(button.getAttribute("data-copy"));
  const status = document.querySelector('[data-copy-status="' + button.getAttribute("data-copy") + '"]');
  if (!input) return;
  const said = (text) => {
    if (status) status.textContent = text;
  };
  const selectIt = () => {
    input.focus();
    input.select();
    said(t("Selected: press Ctrl+C (⌘C) to copy."));
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(() => said(t("Copied.")), selectIt);
  } else {
    selectIt();
  }
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", () => copy(button));
}

// "Knowledge editor" is for staff: with the role Marketer chosen the box is unticked and disabled
// (the server refuses it for marketers too).
const role = document.getElementById("f-role");
const editor = document.getElementById("f-knowledge-editor");
if (role && editor) {
  const follow = () => {
    const marketer = role.value === "marketer";
    if (marketer) editor.checked = false;
    editor.disabled = marketer;
  };
  role.addEventListener("change", follow);
  follow();
}
