// The part of the widget's DOM that is on every page (widget.js): the host element, its open
// shadow root, the launcher with its badge, and a place for the invitation card. Built with
// createElement/textContent only: nothing the server or the visitor sends is parsed as markup.
import { SHELL_CSS } from "./styles.js";

// el("div", {className: "x", text: "…", "aria-label": "…"}, [children])
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

// A constructed stylesheet is not inline CSS, so a host page's strict CSP (style-src without
// 'unsafe-inline') does not block it; <style> is the fallback for older browsers.
export function addCss(root, css) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = root.adoptedStyleSheets.concat([sheet]);
  } catch (e) {
    root.appendChild(el("style", { text: css }));
  }
}

function chatIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  return svg;
}

// WCAG 2's relative luminance of "#rrggbb" (as app/services/widget_settings.py computes it).
function luminance(hex) {
  const c = [1, 3, 5].map((i) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

// The site's look (session.widget, docs/widget.md "Appearance"): the accent colour as the CSS
// custom property --sb-accent (the shadow root's rules use it), and the launcher's corner.
// Text on the accent (--sb-on-accent) is white when it reaches 4.5:1 there, as the admin's check
// makes sure of any saved colour; black otherwise (a colour the admin is trying out in the
// preview), which then reaches at least 4.6:1.
export function applyLook(shell, w) {
  if (!w) return;
  if (/^#[0-9a-f]{6}$/i.test(w.accent_color)) {
    shell.box.style.setProperty("--sb-accent", w.accent_color);
    shell.box.style.setProperty("--sb-on-accent", 1.05 / (luminance(w.accent_color) + 0.05) >= 4.5 ? "#fff" : "#000");
  }
  shell.box.classList.toggle("left", w.launcher_position === "bottom-left");
}

// {host, root, box, cards, launcher, badge}: the chat panel (widget-chat.js) goes into `box`
// before `cards`, the invitation card into `cards`.
export function buildShell(t, lang) {
  const host = el("div", { id: "switchboard-widget" });
  const root = host.attachShadow({ mode: "open" });
  addCss(root, SHELL_CSS);
  // The count is in the launcher's name (chat.js renderBadge): the badge itself is only seen.
  const badge = el("span", { className: "badge", "aria-hidden": "true", hidden: true });
  const launcher = el("button", {
    type: "button", className: "launcher", "aria-label": t.openChat, "aria-expanded": "false", "aria-controls": "sb-panel",
  }, [chatIcon(), badge]);
  const cards = el("div");
  const box = el("div", { className: "sb", lang }, [cards, launcher]);
  root.appendChild(box);
  return { host, root, box, cards, launcher, badge };
}
