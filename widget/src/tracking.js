// Visitor tracking (docs/widget.md, "Tracking"): a page view on load and on every single-page-app
// navigation, the time each page was visible, and the site's own identify/track calls.
//
// Nothing is sent before the server's `session` says how: `tracking: {enabled, strip_params, dnt}`.
// With enabled false, or dnt true and the browser asking not to be tracked (Do Not Track, Global
// Privacy Control), no page_view / page_time / track event and no beacon leaves the page.
// Form contents are never read. Query parameters named in strip_params are removed from the URL
// and the referrer before they are sent.

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const USER_HASH = /^[0-9A-Fa-f]{64}$/;
const VISIT_GAP = 30 * 60 * 1000; // a visit ends after 30 minutes without a page view
const BEACON_EVENTS = 20;
const BEACON_BYTES = 16 * 1024;

const clip = (s, n) => (s ? String(s).slice(0, n) : s);
const bytes = (s) => new Blob([s]).size;
const scalar = (v) => v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && isFinite(v));
const plain = (o) => Boolean(o) && typeof o === "object" && !Array.isArray(o);

// 22 characters of [A-Za-z0-9_-] (132 random bits).
function viewId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return btoa(String.fromCharCode.apply(null, b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "").slice(0, 22);
}

export function browserOptsOut() {
  return navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
}

// Validates Switchboard('identify', {...}) → the `identify` payload, or a reason string.
export function identifyPayload(a) {
  if (!plain(a)) return "identify expects an object";
  const out = {};
  const attributes = {};
  let n = 0;
  for (const key of Object.keys(a)) {
    const v = a[key];
    if (v === undefined) continue;
    if (key === "user_hash") {
      // Proves the id (docs/widget.md, "Identity verification"): hex HMAC-SHA256, made by the site's server.
      if (typeof v !== "string" || !USER_HASH.test(v)) return "user_hash must be 64 hexadecimal characters (HMAC-SHA256)";
      out.user_hash = v;
    } else if (key === "id") {
      if ((typeof v !== "string" && typeof v !== "number") || !String(v) || String(v).length > 128) return "id must be a string of 1-128 characters";
      out.id = String(v);
    } else if (key === "name") {
      if (typeof v !== "string" || v.trim().length > 100) return "name must be a string of at most 100 characters";
      if (v.trim()) out.name = v.trim();
    } else if (key === "email") {
      const e = typeof v === "string" ? v.trim() : null;
      if (e === null || (e && (!EMAIL.test(e) || e.length > 254))) return "email must be an e-mail address";
      if (e) out.email = e;
    } else {
      if (!NAME.test(key)) return `attribute name ${JSON.stringify(key)} is not [A-Za-z0-9_.:-]{1,64}`;
      if (!scalar(v) || (typeof v === "string" && v.length > 256)) return `attribute ${key} must be a string (at most 256 characters), number, boolean or null`;
      attributes[key] = v;
      if (++n > 30) return "at most 30 attributes";
    }
  }
  if (n) out.attributes = attributes;
  if (out.user_hash && !out.id) return "user_hash goes with the id it proves";
  return out;
}

// Validates Switchboard('track', name, props) → the `track` payload, or a reason string.
export function trackPayload(name, props) {
  if (typeof name !== "string" || !NAME.test(name)) return "the event name must be [A-Za-z0-9_.:-]{1,64}";
  if (props === undefined || props === null) props = {};
  if (!plain(props)) return "props must be an object";
  const keys = Object.keys(props);
  if (keys.length > 20) return "at most 20 props";
  for (const k of keys) if (!scalar(props[k])) return `prop ${k} must be a string, number, boolean or null`;
  if (bytes(JSON.stringify(props)) > 2048) return "props must be at most 2 KB as JSON";
  return { name, props };
}

// `send(event, payload)` → Promise of the ack; `connected()`; `onView(view)` after every new
// page view (the invitation rules re-time themselves); `onIdentified(ack)` with each identify's ack.
export function createTracker({ send, connected, store, siteKey, base, onView, onIdentified }) {
  let config = null; // from `session`: {enabled, strip_params, dnt}; null until the first one
  let on = false; // tracking allowed (known once config is)
  let calls = []; // [event, payload] waiting for a session: page_view, page_time, identify, track
  let lost = []; // page_time that could not go over the socket: sent by the next beacon
  // {id, href, title, referrer, at, active (ms), since (visible since), beaconed, report (its
  // page_view, until it has gone)}
  let view = null;

  // The visit, shared by the tabs of the site: {start, last, pages}.
  function countVisit(now) {
    let visit = store.get("visit");
    if (!visit || !(now - visit.last < VISIT_GAP)) visit = { start: now, last: now, pages: 0 };
    visit.pages += 1;
    visit.last = now;
    store.set("visit", visit);
  }

  function strip(href) {
    const names = (config && config.strip_params) || [];
    if (!href || !names.length) return href;
    try {
      const url = new URL(href);
      const drop = names.map((n) => n.toLowerCase()); // case-insensitive, as the server strips
      const found = Array.from(url.searchParams.keys()).filter((k) => drop.includes(k.toLowerCase()));
      for (const k of found) url.searchParams.delete(k);
      return found.length ? url.href : href;
    } catch (e) {
      return href;
    }
  }

  const visible = () => document.visibilityState === "visible";
  const activeMs = (v) => Math.round(v.active + (v.since != null ? performance.now() - v.since : 0));
  function pause(v) {
    if (v && v.since != null) {
      v.active += performance.now() - v.since;
      v.since = null;
    }
  }

  function pageViewPayload(v) {
    const p = { url: clip(strip(v.href), 2048), view_id: v.id };
    if (v.title) p.title = clip(v.title, 512);
    if (v.referrer) p.referrer = clip(strip(v.referrer), 2048);
    return p;
  }

  // Sends now when connected and allowed, queues for the next session otherwise.
  // `at` (ms since the epoch) is when it happened, for a beacon that carries it later.
  function emit(event, payload, at = Date.now()) {
    if (config && !on && event !== "identify") return;
    if (config && connected()) {
      send(event, payload).then((ack) => {
        if (ack.error && ack.error.code === "timeout") calls.push([event, payload, at]);
        else if (event === "identify") {
          // The site's page is wrong (an id without its user_hash, a stale hash): tell its developer.
          if (!ack.ok) console.warn(`Switchboard: identify refused (${ack.error.code}): ${ack.error.message}`);
          if (onIdentified) onIdentified(ack);
        }
      });
    } else {
      calls.push([event, payload, at]);
    }
  }

  function newView(referrer) {
    const now = Date.now();
    const previous = view;
    if (previous) {
      // Left before its page_view went (two route changes in one task): the view first, then its
      // time. A page_time for a view the server has not recorded yet may find no row to update.
      if (previous.report) previous.report();
      pause(previous);
      const active = activeMs(previous);
      if (config && on && connected()) send("page_time", { view_id: previous.id, active_ms: active });
      else lost.push({ type: "page_time", view_id: previous.id, active_ms: active });
    }
    view = { id: viewId(), href: location.href, title: "", referrer, at: now, active: 0, since: visible() ? performance.now() : null };
    countVisit(now);
    const v = view;
    let timer = null;
    v.report = () => {
      clearTimeout(timer);
      v.report = null;
      v.title = document.title;
      emit("page_view", pageViewPayload(v), v.at);
    };
    // An SPA usually sets the title right after changing the URL: read it a moment later.
    if (previous) timer = setTimeout(v.report, 0);
    else v.report();
    onView(v);
  }

  // The URL changed (pushState, replaceState, popstate, hashchange): a page view if it really did.
  function navigated() {
    if (!view || strip(location.href) === strip(view.href)) return;
    newView(view.href);
  }

  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function () {
      const result = original.apply(this, arguments);
      try {
        navigated();
      } catch (e) {
        /* never break the page's router */
      }
      return result;
    };
  }
  window.addEventListener("popstate", navigated);
  window.addEventListener("hashchange", navigated);

  // The page was hidden or is going away: its active time (and anything unsent) by beacon.
  function beacon() {
    const token = store.get("token");
    if (!config || !on || !token || !view || !navigator.sendBeacon) return;
    if (view.report) view.report(); // its page_view before its time (queued now if it cannot go)
    const events = [];
    for (const [event, p, at] of calls) {
      if (event === "page_view") events.push(Object.assign({ type: "page_view", at_ms: at }, p));
    }
    events.push(...lost);
    const active = activeMs(view);
    if (active !== view.beaconed) events.push({ type: "page_time", view_id: view.id, active_ms: active });
    if (!events.length) return;
    const url = `${base.dir}/api/track`;
    let ok = true;
    for (let i = 0; i < events.length; ) {
      let batch = events.slice(i, i + BEACON_EVENTS);
      let body = JSON.stringify({ site: siteKey, token, events: batch });
      while (batch.length > 1 && bytes(body) > BEACON_BYTES) {
        batch = batch.slice(0, -1);
        body = JSON.stringify({ site: siteKey, token, events: batch });
      }
      i += batch.length;
      ok = navigator.sendBeacon(url, new Blob([body], { type: "text/plain;charset=UTF-8" })) && ok;
    }
    if (ok) {
      calls = calls.filter(([event]) => event !== "page_view");
      lost = [];
      view.beaconed = active;
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!view) return;
    if (visible()) {
      if (view.since == null) view.since = performance.now();
    } else {
      pause(view);
      beacon();
    }
  });
  window.addEventListener("pagehide", () => {
    pause(view);
    beacon();
  });

  newView(document.referrer || "");

  return {
    // Every `session`: learn the rules, then send what waited (in order).
    session(s) {
      const tr = (s && s.tracking) || {};
      config = {
        enabled: tr.enabled !== false,
        strip_params: Array.isArray(tr.strip_params) ? tr.strip_params.filter((n) => typeof n === "string") : [],
        dnt: tr.dnt !== false,
      };
      on = config.enabled && !(config.dnt && browserOptsOut());
      const waiting = calls;
      calls = [];
      if (!on) {
        lost = [];
        // identify is the site's own statement about its user, not tracking: it still goes.
        for (const [event, p] of waiting) if (event === "identify") emit(event, p);
        return;
      }
      // Page views queued before the session carry the URL as it was: strip it now.
      for (const [event, p, at] of waiting) {
        emit(event, event === "page_view" ? pageViewPayload({ id: p.view_id, href: p.url, title: p.title, referrer: p.referrer }) : p, at);
      }
      for (const p of lost) send("page_time", { view_id: p.view_id, active_ms: p.active_ms });
      lost = [];
    },
    identify(attrs) {
      const p = identifyPayload(attrs);
      if (typeof p === "string") return void console.warn(`Switchboard: identify ignored: ${p}.`);
      emit("identify", p);
      return p;
    },
    track(name, props) {
      const p = trackPayload(name, props);
      if (typeof p === "string") return void console.warn(`Switchboard: track ignored: ${p}.`);
      emit("track", p);
    },
    view: () => view,
    visit: () => store.get("visit") || { start: Date.now(), last: Date.now(), pages: 1 },
  };
}
