// The admin's Sites page: "Copy snippet" copies the site's <script async …> line from its read-only
// field to the clipboard. Without the clipboard API (an http:// address, an old browser, a denied
// permission) the text is selected and the page says to press Ctrl+C. No inline script (CSP).
import { t } from "../i18n.js";

function say(status, text) {
  if (status) status.textContent = text;
}

function selectAll(field) {
  field.focus();
  field.select();
  field.setSelectionRange(0, field.value.length);
}

function copyFrom(button) {
  const field = document.getElementById(button.getAttribute("data-copy"));
  const status = document.getElementById(button.getAttribute("data-copy-status"));
  if (!field) return;
  const text = field.value;
  const manual = () => {
    selectAll(field);
    const mac = /Mac|iPhone|iPad/.test(navigator.platform || "");
    say(status, t("Press {keys} to copy the selected snippet.", { keys: mac ? "⌘C" : "Ctrl+C" }));
  };
  say(status, "");
  if (navigator.clipboard && typeof navigator.clipboard.writeText === "function" && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => say(status, t("Copied to the clipboard.")), manual);
  } else {
    manual();
  }
}

document.addEventListener("click", (event) => {
  const target = event.target;
  const button = target && target.closest ? target.closest("button[data-copy]") : null;
  if (button) {
    event.preventDefault();
    copyFrom(button);
  }
});
