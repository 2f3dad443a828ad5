// New-chat chime made with the Web Audio API (no audio asset needed).
// Browsers only let an AudioContext start after a user gesture, so the context is
// created (or resumed) on the first click/keypress and reused afterwards.

let ctx = null;

function context() {
  if (ctx) return ctx;
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return null;
  try {
    ctx = new Ctor();
  } catch (e) {
    ctx = null;
  }
  return ctx;
}

/** Call once at start-up: unlocks audio on the first user gesture. */
export function unlockAudioOnGesture() {
  const unlock = () => {
    const c = context();
    if (c && c.state === "suspended") c.resume().catch(() => {});
    window.removeEventListener("pointerdown", unlock, true);
    window.removeEventListener("keydown", unlock, true);
  };
  window.addEventListener("pointerdown", unlock, true);
  window.addEventListener("keydown", unlock, true);
}

function tone(c, freq, start, duration, peak) {
  const osc = c.createOscillator();
  const gain = c.createGain();
  osc.type = "sine";
  osc.frequency.setValueAtTime(freq, start);
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(peak, start + 0.015);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
  osc.connect(gain);
  gain.connect(c.destination);
  osc.start(start);
  osc.stop(start + duration + 0.02);
}

/** A short, soft two-tone chime (E5 → A5). Fails silently when audio is unavailable. */
export function playChime() {
  const c = context();
  if (!c) return;
  try {
    if (c.state === "suspended") c.resume().catch(() => {});
    const t = c.currentTime + 0.01;
    tone(c, 659.25, t, 0.22, 0.18);
    tone(c, 880.0, t + 0.16, 0.34, 0.16);
  } catch (e) {
    /* ignore: sound is a nicety */
  }
}
