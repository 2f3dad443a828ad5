// The admin's Widget page (/admin/widget): the live preview. The frame holds the real widget
// (/admin/widget/preview/<site>, which opens no socket); this script posts the form's values to it
// as they change, before anything is saved, and once more whenever the frame says it is ready
// (after loading, or after "Preview language" reloaded it). Messages go to this origin only.
// Also: the colour picker and the text field of "Accent colour" kept in step, and the colour's
// contrast ratio with white text shown as it is typed (the server checks it again on Save).
// No inline script (CSP).
import { t, formatNumber } from "../i18n.js";

const COLOUR = /^#[0-9a-fA-F]{6}$/;
const MIN_CONTRAST = 4.5;

const form = document.getElementById("widget-form");
const frame = document.getElementById("widget-preview-frame");
const text = document.getElementById("f-accent-color");
const picker = document.getElementById("f-accent-picker");
const contrast = document.getElementById("f-accent-contrast");
const language = document.getElementById("f-preview-lang");

// WCAG 2 relative luminance and contrast ratio (as app/services/widget_settings.py computes them).
function luminance(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}
const ratioWithWhite = (hex) => 1.05 / (luminance(hex) + 0.05);

function values() {
  const data = new FormData(form);
  const get = (name) => String(data.get(name) || "");
  return {
    accent_color: get("accent_color").trim(),
    launcher_position: get("launcher_position"),
    title: { en: get("title_en").trim(), "zh-CN": get("title_zh").trim() },
    greeting: { en: get("greeting_en").trim(), "zh-CN": get("greeting_zh").trim() },
    prechat: { name: get("prechat_name"), email: get("prechat_email") },
    topics: data.get("topics") === "on",
    offline_form: data.get("offline_form") === "on",
  };
}

function send() {
  if (frame && frame.contentWindow) {
    frame.contentWindow.postMessage({ type: "switchboard-preview", widget: values() }, location.origin);
  }
}

function showContrast() {
  if (!contrast) return;
  const colour = text.value.trim();
  if (!COLOUR.test(colour)) {
    contrast.textContent = "";
    return;
  }
  const ratio = Math.floor(ratioWithWhite(colour) * 100) / 100;
  const shown = formatNumber(ratio, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  contrast.textContent = ratio >= MIN_CONTRAST
    ? t("Contrast with white text: {ratio}:1.", { ratio: shown })
    : t("Contrast with white text: {ratio}:1, too low — it needs at least {least}:1.", { ratio: shown, least: formatNumber(MIN_CONTRAST) });
}

if (form && frame) {
  form.addEventListener("input", (event) => {
    if (event.target === picker) text.value = picker.value;
    else if (event.target === text && COLOUR.test(text.value.trim())) picker.value = text.value.trim().toLowerCase();
    showContrast();
    send();
  });
  form.addEventListener("change", send);
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== location.origin || event.source !== frame.contentWindow) return;
    if (data && data.type === "switchboard-preview-ready") send();
  });
  if (picker) picker.hidden = false;
  if (language) {
    document.getElementById("widget-preview-tools").hidden = false;
    language.addEventListener("change", () => {
      frame.src = `${frame.getAttribute("data-src")}?lang=${encodeURIComponent(language.value)}`;
    });
  }
  showContrast();
  send(); // in case the frame was ready before this script ran (it says so again otherwise)
}
