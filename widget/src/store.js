// First-party persistence in the host page's localStorage, keys "sb:<siteKey>:<name>", values
// JSON. Falls back to memory when storage is blocked (private mode, sandboxed frames, storage
// disabled) — except the visitor token, which then goes into one first-party cookie,
// "sb_<siteKey>_t" (SameSite=Lax, path=/, two years, Secure on https), so that a returning
// visitor is still recognised. That is the only cookie the widget ever sets, and only then.
export function createStore(siteKey) {
  const memory = {};
  const prefix = `sb:${siteKey}:`;
  let storage = null;
  try {
    storage = window.localStorage;
    storage.setItem(prefix + "probe", "1");
    storage.removeItem(prefix + "probe");
  } catch (e) {
    storage = null;
  }

  const cookieName = `sb_${siteKey}_t`;
  const cookie = !storage;

  // A site whose key was rotated (docs/admin.md): the page's new snippet finds nothing under the
  // new key, so the token kept under the one other key of this origin comes along (the server
  // checks it is this site's; if not, the widget starts over as a new visitor).
  const carryOver = () => {
    try {
      const found = [];
      if (storage) {
        for (let i = 0; i < storage.length; i++) {
          const m = /^sb:(.+):token$/.exec(storage.key(i));
          if (m && m[1] !== siteKey) found.push(storage.getItem(m[0]));
        }
        if (found.length === 1 && storage.getItem(prefix + "token") == null) storage.setItem(prefix + "token", found[0]);
      } else if (!readCookie()) {
        for (const part of document.cookie.split(/;\s*/)) {
          const m = /^sb_(.+)_t=(.+)$/.exec(part);
          if (m && m[1] !== siteKey) found.push(decodeURIComponent(m[2]));
        }
        if (found.length === 1) memory.token = JSON.stringify(found[0]);
      }
    } catch (e) {
      /* storage blocked meanwhile: a new visitor */
    }
  };
  const readCookie = () => {
    for (const part of document.cookie.split(/;\s*/)) {
      const i = part.indexOf("=");
      if (part.slice(0, i) === cookieName) return decodeURIComponent(part.slice(i + 1));
    }
    return null;
  };
  const writeCookie = (value, maxAge) => {
    try {
      document.cookie = `${cookieName}=${encodeURIComponent(value)}; Max-Age=${maxAge}; Path=/; SameSite=Lax` +
        (location.protocol === "https:" ? "; Secure" : "");
    } catch (e) {
      /* cookies blocked too (sandboxed frame): memory only */
    }
  };

  const get = (name, fallback = null) => {
    try {
      if (cookie && name === "token" && memory.token == null) {
        const token = readCookie();
        if (token) return token;
      }
      const raw = storage ? storage.getItem(prefix + name) : memory[name];
      return raw == null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  };

  const set = (name, value) => {
    const raw = JSON.stringify(value);
    try {
      if (storage) storage.setItem(prefix + name, raw);
      else memory[name] = raw;
      if (cookie && name === "token" && typeof value === "string") writeCookie(value, 63072000);
    } catch (e) {
      memory[name] = raw; // quota exceeded: keep it for this page at least
    }
  };

  const remove = (name) => {
    try {
      if (storage) storage.removeItem(prefix + name);
      if (cookie && name === "token") writeCookie("", 0);
    } catch (e) {
      /* ignore */
    }
    delete memory[name];
  };

  // Another tab of the same site changed `name` (the `storage` event never fires in the writer).
  const onChange = (name, fn) => {
    window.addEventListener("storage", (e) => {
      if (e.key === prefix + name) fn(get(name));
    });
  };

  carryOver();
  return { get, set, remove, onChange, persistent: Boolean(storage) };
}
