"""Init scripts that record what a page does with browser APIs a test cannot watch from outside.

Playwright injects init scripts outside the page's Content Security Policy, before the page's
own scripts run. They record and still call the real APIs.
"""

# Desktop notifications (window.__notifications) and Web Audio tones (window.__tones).
RECORD_ALERTS = """
(() => {
  window.__notifications = [];
  window.__tones = 0;
  const Real = window.Notification;
  if (Real) {
    function Recording(title, options) {
      window.__notifications.push({ title: String(title), body: (options && options.body) || "" });
      return new Real(title, options);
    }
    Recording.requestPermission = (...args) => Real.requestPermission(...args);
    Object.defineProperty(Recording, "permission", { get: () => Real.permission });
    window.Notification = Recording;
  }
  const Audio = window.AudioContext || window.webkitAudioContext;
  if (Audio) {
    const createOscillator = Audio.prototype.createOscillator;
    Audio.prototype.createOscillator = function (...args) {
      window.__tones += 1;
      return createOscillator.apply(this, args);
    };
  }
})();
"""

# Content Security Policy violations the page reports (window.__csp).
RECORD_CSP_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""
