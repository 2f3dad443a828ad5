// What the widget looks like, scoped to its shadow root, in two parts: SHELL_CSS (launcher, badge,
// invitation card; in widget.js) and PANEL_CSS (the chat panel; in widget-chat.js, added when it
// loads). `all: initial` on the host stops the page's inherited styles at the boundary.
// build.mjs minifies every exported string of this file with esbuild's CSS minifier.
export const SHELL_CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.sb { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
  color: #1b1f24; }
button, textarea, input { font: inherit; color: inherit; }
.launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer; background: var(--sb-accent, #2563eb); color: #fff;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; position: relative; margin-left: auto; }
.launcher:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.launcher svg { width: 26px; height: 26px; fill: currentColor; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px;
  background: #dc2626; color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; }
.panel[hidden], [hidden] { display: none !important; }
.sb.left { right: auto; left: 20px; }
.sb.left .launcher { margin-left: 0; }
.sb.left .invite { margin-left: 0; }
.invite { position: relative; width: min(300px, calc(100vw - 40px)); margin: 0 0 12px auto; padding: 12px 14px; background: #fff;
  border-radius: 12px; box-shadow: 0 8px 28px rgba(0,0,0,.22); border: 1px solid #e2e8f0; }
.invite .who { margin: 0 24px 4px 0; font-weight: 650; font-size: 13.5px; }
.invite .text { margin: 0 0 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.invite .row { display: flex; gap: 8px; justify-content: flex-end; }
.invite .row button { border-radius: 8px; padding: 7px 12px; cursor: pointer; font-weight: 600; border: 1px solid #cbd5e1; background: #fff; color: #0f172a; }
.invite .row .yes { background: var(--sb-accent, #2563eb); border-color: var(--sb-accent, #2563eb); color: #fff; }
.invite .x { position: absolute; top: 6px; right: 6px; width: 26px; height: 26px; border: 0; background: none; cursor: pointer; font-size: 18px; line-height: 1; color: #64748b; border-radius: 6px; }
@media (prefers-color-scheme: dark) { .sb { color: #e2e8f0; } .invite, .invite .row button:not(.yes) { background: #1f2937; border-color: #334155; color: #e2e8f0; } }
`;

export const PANEL_CSS = `
.panel { width: min(370px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px)); margin-bottom: 12px; background: #fff;
  border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22); display: flex; flex-direction: column; overflow: hidden; }
.head { background: var(--sb-accent, #2563eb); color: #fff; padding: 12px 14px; display: flex; align-items: flex-start; gap: 8px; }
.head h2 { font-size: 16px; margin: 0; font-weight: 650; }
.head p { margin: 2px 0 0; font-size: 12.5px; opacity: .9; }
.head .grow { flex: 1; }
.icon-btn { background: transparent; border: 0; color: inherit; cursor: pointer; width: 32px; height: 32px; border-radius: 8px; font-size: 20px; line-height: 1; }
.icon-btn:hover { background: rgba(255,255,255,.15); }
.status { padding: 6px 14px; font-size: 12.5px; background: #fef3c7; color: #78350f; }
.status.error { background: #fee2e2; color: #7f1d1d; }
.body { flex: 1; overflow-y: auto; padding: 12px 14px; background: #f8fafc; }
.greeting { margin: 0 0 12px; max-width: 85%; padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.earlier { margin-bottom: 12px; }
.earlier h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #64748b; margin: 0 0 6px; }
.earlier details { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; margin-bottom: 6px; padding: 6px 8px; }
.earlier .past { display: flex; flex-direction: column; gap: 6px; margin-top: 6px; }
.earlier summary { cursor: pointer; font-size: 12.5px; color: #334155; }
.requests ul { list-style: none; margin: 0 0 10px; padding: 0; font-size: 13px; }
.requests li { padding: 3px 0; }
.request-status { color: #475569; }
.log { display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 85%; display: flex; flex-direction: column; }
.msg .who { font-size: 11.5px; color: #64748b; margin: 0 4px 2px; }
.msg .text { padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .meta { font-size: 11px; color: #94a3b8; margin: 2px 4px 0; }
.msg.visitor { align-self: flex-end; align-items: flex-end; }
.msg.visitor .text { background: var(--sb-accent, #2563eb); color: #fff; border-color: var(--sb-accent, #2563eb); }
.msg[data-state="sending"] .text { opacity: .65; }
.msg[data-state="read"] .meta { color: var(--sb-accent, #2563eb); }
.msg.system { align-self: center; align-items: center; max-width: 95%; }
.msg.system .who { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.msg .meta:empty { display: none; }
.msg.system .text { background: transparent; border: 0; color: #64748b; font-size: 12.5px; padding: 2px; text-align: center; }
.typing, .ended { font-size: 12.5px; color: #64748b; padding: 6px 2px 0; }
.ended { text-align: center; }
.rating { margin: 10px 2px 4px; padding: 10px; border: 1px solid #e2e8f0; border-radius: 10px; display: grid; gap: 8px; }
.rate-title { margin: 0; font-weight: 600; font-size: 13.5px; }
.rate-row { display: flex; gap: 6px; }
.rate-btn { flex: 1; font: inherit; font-size: 13px; padding: 6px 8px; border-radius: 8px; border: 1px solid #cbd5e1; background: #fff; color: #0f172a; cursor: pointer; }
.rate-btn[aria-pressed="true"] { background: var(--sb-accent, #1d4ed8); border-color: var(--sb-accent, #1d4ed8); color: #fff; }
.rating label { display: grid; gap: 4px; font-size: 12.5px; color: #475569; }
.rating textarea { font: inherit; font-size: 13px; border: 1px solid #cbd5e1; border-radius: 8px; padding: 6px; resize: vertical; }
.thanks { margin: 0; font-size: 12.5px; color: #15803d; }
.offline { display: grid; gap: 8px; padding: 10px 14px 12px; border-top: 1px solid #e2e8f0; }
.offline[hidden] { display: none; }
.offline-notice { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; padding: 8px 14px; font-size: 12.5px; color: #334155; background: #f8fafc; border-top: 1px solid #e2e8f0; }
.offline-notice[hidden] { display: none; }
.link-btn { font: inherit; font-size: 12.5px; background: none; border: 0; padding: 0; color: #1d4ed8; text-decoration: underline; cursor: pointer; justify-self: start; }
.offline-intro { margin: 0; font-size: 13px; color: #334155; }
.offline label { display: grid; gap: 4px; font-size: 12.5px; color: #475569; }
.offline input, .offline textarea { font: inherit; font-size: 13px; border: 1px solid #cbd5e1; border-radius: 8px; padding: 6px 8px; }
.prechat { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; padding: 8px 12px 0; background: #fff; border-top: 1px solid #e2e8f0; }
.prechat label { display: flex; flex-direction: column; font-size: 11.5px; color: #475569; gap: 2px; }
.prechat input { border: 1px solid #cbd5e1; border-radius: 8px; padding: 6px 8px; font-size: 13px; width: 100%; }
.compose { display: flex; gap: 8px; padding: 10px 12px; background: #fff; border-top: 1px solid #e2e8f0; align-items: flex-end; }
.prechat:not([hidden]) + .compose { border-top: 0; }
.compose textarea { flex: 1; resize: none; border: 1px solid #cbd5e1; border-radius: 10px; padding: 8px 10px; min-height: 40px; max-height: 120px; }
.send { border: 0; background: var(--sb-accent, #2563eb); color: #fff; border-radius: 10px; padding: 9px 14px; cursor: pointer; font-weight: 600; }
.send:disabled { opacity: .5; cursor: default; }
.alert { color: #b91c1c; font-size: 12.5px; padding: 0 12px 8px; background: #fff; }
.helping > .body, .helping > .offline-notice, .helping > .prechat, .helping > .compose, .helping > .offline, .helping > .alert { display: none !important; }
.help-btn { font-weight: 700; font-size: 17px; }
.help-btn[aria-pressed="true"] { background: rgba(255,255,255,.25); }
.help { flex: 1; overflow-y: auto; padding: 12px 14px; background: #f8fafc; display: flex; flex-direction: column; gap: 10px; }
.help-search label { display: block; font-size: 12.5px; color: #475569; margin-bottom: 4px; }
.help-row { display: flex; gap: 8px; }
.help-row input { flex: 1; min-width: 0; border: 1px solid #cbd5e1; border-radius: 10px; padding: 8px 10px; font-size: 13.5px; }
.help-note { margin: 0; font-size: 12.5px; color: #475569; }
.help-note.error { color: #b91c1c; }
.help-results { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.help-results li { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px 10px; }
.help-result { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; color: #1d4ed8; cursor: pointer; text-align: left; }
.help-excerpt { margin: 3px 0 0; font-size: 12.5px; color: #475569; overflow-wrap: anywhere; }
.help-article { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 10px 12px; overflow-wrap: anywhere; }
.help-title { font-size: 15px; margin: 8px 0; }
.help-article-body img { max-width: 100%; height: auto; }
.help-article-body pre { overflow-x: auto; }
.help-article-body table { border-collapse: collapse; }
.help-article-body th, .help-article-body td { border: 1px solid #e2e8f0; padding: 3px 6px; }
.help-page { font-size: 12.5px; color: #1d4ed8; }
.help-foot { margin-top: auto; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; justify-content: space-between; padding-top: 8px; border-top: 1px solid #e2e8f0; font-size: 13px; }
@media (prefers-color-scheme: dark) {
  .help { background: #111827; }
  .help-results li, .help-article { background: #1f2937; border-color: #334155; }
  .help-row input { background: #111827; border-color: #334155; }
  .help-note, .help-excerpt, .help-search label { color: #94a3b8; }
  .help-result, .help-page { color: #93c5fd; }
}
@media (prefers-color-scheme: dark) {
  .panel, .compose, .prechat, .alert { background: #0f172a; }
  .body { background: #111827; }
  .msg .text, .earlier details, .greeting { background: #1f2937; border-color: #334155; }
  .compose textarea, .prechat input { background: #111827; border-color: #334155; }
}
`;
