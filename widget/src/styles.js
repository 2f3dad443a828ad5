// What the widget looks like, scoped to its shadow root, in two parts: SHELL_CSS (launcher, badge,
// invitation card; in widget.js) and PANEL_CSS (the chat panel; in widget-chat.js, added when it
// loads). `all: initial` on the host stops the page's inherited styles at the boundary.
// Contrast (WCAG 2.1 AA): text reaches 4.5:1 on its background, in the light and the dark scheme.
// The site's accent colour (--sb-accent) is only ever a background, of text in --sb-on-accent
// (shell.js applyLook picks it by contrast); small text is never in the accent colour.
// build.mjs minifies every exported string of this file with esbuild's CSS minifier.
export const SHELL_CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.sb { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
  color: #1b1f24; }
button, textarea, input { font: inherit; color: inherit; }
.launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer; background: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff);
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; position: relative; margin-left: auto; }
/* Two rings 10.4:1 apart (white inside, #1e3a8a outside): whatever the background (the page, the
   accent, the dark scheme), one of them contrasts with it by 3:1 or more. */
:focus-visible { outline: 3px solid #1e3a8a; outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }
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
.invite .row .yes { background: var(--sb-accent, #2563eb); border-color: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff); }
.invite .x { position: absolute; top: 6px; right: 6px; width: 26px; height: 26px; border: 0; background: none; cursor: pointer; font-size: 18px; line-height: 1; color: #64748b; border-radius: 6px; }
@media (prefers-color-scheme: dark) { .sb { color: #e2e8f0; } .invite, .invite .row button:not(.yes) { background: #1f2937; border-color: #334155; color: #e2e8f0; }
  .invite .x { color: #94a3b8; } }
`;

export const PANEL_CSS = `
.panel { --sb-muted: #475569; --sb-link: #1d4ed8; --sb-ok: #15803d; --sb-danger: #b91c1c;
  width: min(370px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px)); margin-bottom: 12px; background: #fff;
  border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22); display: flex; flex-direction: column; overflow: hidden; }
.head { background: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff); padding: 12px 14px; display: flex; align-items: flex-start; gap: 8px; }
.head h2 { font-size: 16px; margin: 0; font-weight: 650; }
.head p { margin: 2px 0 0; font-size: 12.5px; }
.head .grow { flex: 1; }
.icon-btn { background: transparent; border: 0; color: inherit; cursor: pointer; width: 32px; height: 32px; border-radius: 8px; font-size: 20px; line-height: 1; }
/* Hover and "pressed" are borders in the text's own colour (a tint would lower its contrast; a
   box-shadow would hide the focus ring's). */
.icon-btn:hover { border: 1px solid currentColor; }
.status { padding: 6px 14px; font-size: 12.5px; background: #fef3c7; color: #78350f; }
.status.error { background: #fee2e2; color: #7f1d1d; }
.body { flex: 1; overflow-y: auto; padding: 12px 14px; background: #f8fafc; }
.greeting { margin: 0 0 12px; max-width: 85%; padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.earlier { margin-bottom: 12px; }
.earlier h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--sb-muted); margin: 0 0 6px; }
.earlier details { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; margin-bottom: 6px; padding: 6px 8px; }
.earlier .past { display: flex; flex-direction: column; gap: 6px; margin-top: 6px; }
.earlier summary { cursor: pointer; font-size: 12.5px; }
.requests ul { list-style: none; margin: 0 0 10px; padding: 0; font-size: 13px; }
.requests li { padding: 3px 0; }
.request-status { color: var(--sb-muted); }
.log { display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 85%; display: flex; flex-direction: column; }
.msg .who { font-size: 11.5px; color: var(--sb-muted); margin: 0 4px 2px; }
.msg .text { padding: 8px 11px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .meta { font-size: 11px; color: var(--sb-muted); margin: 2px 4px 0; }
.msg.visitor { align-self: flex-end; align-items: flex-end; }
/* A message being sent says so under it ("Sending…"); it is not faded, which would lower its contrast. */
.msg.visitor .text { background: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff); border-color: var(--sb-accent, #2563eb); }
.msg.system { align-self: center; align-items: center; max-width: 95%; }
.msg.system .who, .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.msg .meta:empty { display: none; }
.msg.system .text { background: transparent; border: 0; color: var(--sb-muted); font-size: 12.5px; padding: 2px; text-align: center; }
.typing, .ended { font-size: 12.5px; color: var(--sb-muted); padding: 6px 2px 0; }
/* The end of a chat is a live region, so it stays in the page (empty, without room) until then. */
.ended { text-align: center; }
.ended:not(.on) { padding: 0; }
.rating { margin: 10px 2px 4px; padding: 10px; border: 1px solid #e2e8f0; border-radius: 10px; display: grid; gap: 8px; }
.rate-title { margin: 0; font-weight: 600; font-size: 13.5px; }
.rate-row { display: flex; gap: 6px; }
.rate-btn { flex: 1; font: inherit; font-size: 13px; padding: 6px 8px; border-radius: 8px; border: 1px solid #7c8799; background: #fff; color: #0f172a; cursor: pointer; }
.rate-btn[aria-pressed="true"] { background: var(--sb-accent, #2563eb); border-color: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff); }
.rating label { display: grid; gap: 4px; font-size: 12.5px; color: var(--sb-muted); }
/* Field borders reach 3:1 against the panel (#7c8799: 3.5:1 on white, 4.9:1 on the dark scheme's). */
.rating textarea { font: inherit; font-size: 13px; border: 1px solid #7c8799; border-radius: 8px; padding: 6px; resize: vertical; }
.thanks { margin: 0; font-size: 12.5px; color: var(--sb-ok); }
/* Thanks are live regions too: present, out of the layout while empty. */
.thanks:empty { position: absolute; }
.offline { display: grid; gap: 8px; padding: 10px 14px 12px; border-top: 1px solid #e2e8f0; }
.offline[hidden] { display: none; }
.offline-notice { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; padding: 8px 14px; font-size: 12.5px; color: var(--sb-muted); background: #f8fafc; border-top: 1px solid #e2e8f0; }
.offline-notice[hidden] { display: none; }
.link-btn { font: inherit; font-size: 12.5px; background: none; border: 0; padding: 0; color: var(--sb-link); text-decoration: underline; cursor: pointer; justify-self: start; }
.end-bar { display: flex; justify-content: flex-end; padding: 6px 14px; background: #fff; border-bottom: 1px solid #e2e8f0; font-size: 12.5px; }
.end-bar[hidden], .end-confirm[hidden] { display: none; }
.end-confirm { display: flex; flex-wrap: wrap; gap: 10px; align-items: baseline; }
.end-confirm p { margin: 0; font-weight: 600; }
.mail-row { display: grid; gap: 4px; margin: 8px 2px 0; }
.offline-intro { margin: 0; font-size: 13px; }
.offline label { display: grid; gap: 4px; font-size: 12.5px; color: var(--sb-muted); }
.offline input, .offline textarea { font: inherit; font-size: 13px; border: 1px solid #7c8799; border-radius: 8px; padding: 6px 8px; }
.prechat { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; padding: 8px 12px 0; background: #fff; border-top: 1px solid #e2e8f0; }
.prechat label { display: flex; flex-direction: column; font-size: 11.5px; color: var(--sb-muted); gap: 2px; }
.prechat input, .prechat select { border: 1px solid #7c8799; border-radius: 8px; padding: 6px 8px; font-size: 13px; width: 100%; }
.compose { display: flex; gap: 8px; padding: 10px 12px; background: #fff; border-top: 1px solid #e2e8f0; align-items: flex-end; }
.prechat:not([hidden]) + .compose { border-top: 0; }
.compose textarea { flex: 1; resize: none; border: 1px solid #7c8799; border-radius: 10px; padding: 8px 10px; min-height: 40px; max-height: 120px; }
.send { border: 0; background: var(--sb-accent, #2563eb); color: var(--sb-on-accent, #fff); border-radius: 10px; padding: 9px 14px; cursor: pointer; font-weight: 600; }
.send:disabled { opacity: .5; cursor: default; }
.alert { color: var(--sb-danger); font-size: 12.5px; padding: 0 12px 8px; background: #fff; }
.helping > .body, .helping > .offline-notice, .helping > .prechat, .helping > .compose, .helping > .offline, .helping > .alert { display: none !important; }
.help-btn { font-weight: 700; font-size: 17px; }
.help-btn[aria-pressed="true"] { border: 2px solid currentColor; }
.help { flex: 1; overflow-y: auto; padding: 12px 14px; background: #f8fafc; display: flex; flex-direction: column; gap: 10px; }
.help-search label { display: block; font-size: 12.5px; color: var(--sb-muted); margin-bottom: 4px; }
.help-row { display: flex; gap: 8px; }
.help-row input { flex: 1; min-width: 0; border: 1px solid #7c8799; border-radius: 10px; padding: 8px 10px; font-size: 13.5px; }
.help-note { margin: 0; font-size: 12.5px; color: var(--sb-muted); }
.help-note.error { color: var(--sb-danger); }
.help-results { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.help-results li { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 8px 10px; }
.help-result { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; color: var(--sb-link); cursor: pointer; text-align: left; }
.help-excerpt { margin: 3px 0 0; font-size: 12.5px; color: var(--sb-muted); overflow-wrap: anywhere; }
.help-article { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 10px 12px; overflow-wrap: anywhere; }
.help-title { font-size: 15px; margin: 8px 0; }
.help-article-body img { max-width: 100%; height: auto; }
.help-article-body pre { overflow-x: auto; }
.help-article-body table { border-collapse: collapse; }
.help-article-body th, .help-article-body td { border: 1px solid #e2e8f0; padding: 3px 6px; }
.help-article-body a, .help-page { color: var(--sb-link); }
.help-page { font-size: 12.5px; }
.help-foot { margin-top: auto; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; justify-content: space-between; padding-top: 8px; border-top: 1px solid #e2e8f0; font-size: 13px; }
@media (prefers-color-scheme: dark) {
  .panel { --sb-muted: #94a3b8; --sb-link: #93c5fd; --sb-ok: #86efac; --sb-danger: #fca5a5; }
  .panel, .compose, .prechat, .alert, .end-bar { background: #0f172a; }
  .body, .help, .offline-notice { background: #111827; }
  .msg .text, .earlier details, .greeting, .help-results li, .help-article { background: #1f2937; border-color: #334155; }
  .panel input, .panel textarea, .panel select { background: #111827; color: #e2e8f0; }
}
`;
