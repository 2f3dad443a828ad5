// First-party persistence in the host page's localStorage, keys "sb:<siteKey>:<name>", values
// JSON. Falls back to memory when storage is blocked (private mode, sandboxed frames).
// No cookies, ever.
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

  const get = (name, fallback = null) => {
    try {
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
    } catch (e) {
      memory[name] = raw; // quota exceeded: keep it for this page at least
    }
  };

  const remove = (name) => {
    try {
      if (storage) storage.removeItem(prefix + name);
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

  return { get, set, remove, onChange };
}
