// The evaluation form (agent_ui/templates/quality/evaluate.html): the Score recomputed as answers change
// (the rule of app/quality/scoring.py / docs/kpis.md "Quality score"), the draft saved as one goes,
// "Submit evaluation", and comments pinned to a message of the transcript. Answers pre-filled by an
// automatic check carry the "Automatic" mark until the evaluator changes them.
import "./evaluate.css"; // → /static/evaluate.css (the result page's transcript uses it too)
import { asData, el, whileBusy } from "../dom.js";
import { ApiError, clearFieldErrors, csrf, postJson, showFieldError } from "../work_orders.js";
import { formatNumber, t, tn } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const evaluationId = main.dataset.evaluation;
const form = $("qa-form");
const scoreBox = $("score");
const scoreNote = $("score-note");
const formError = $("form-error");
const saveStatus = $("save-status");
const criteria = Array.from(form.querySelectorAll(".qa-criterion"));
const base = "/api/quality/evaluations/" + evaluationId;
let saveTimer = null;
let submitted = false;

function valueOf(node) {
  const checked = node.querySelector('input[type="radio"]:checked');
  return checked ? checked.value : "";
}

function fraction(scale, value) {
  if (value === "na") return null;
  if (scale === "yes_no") return value === "yes" ? 1 : 0;
  return (Number(value) - 1) / 4;
}

/** The score of the answers so far, by the documented rule (over the answered criteria). */
export function liveScore(items) {
  let total = 0;
  let weight = 0;
  let failed = false;
  let open = 0;
  for (const item of items) {
    if (!item.value) {
      open += 1;
      continue;
    }
    const part = fraction(item.scale, item.value);
    if (part === null) continue;
    if (item.critical && item.value === "no") failed = true;
    total += item.weight * part;
    weight += item.weight;
  }
  if (failed) return { score: 0, failed: true, open };
  if (weight === 0) return { score: null, failed: false, open };
  return { score: roundLikePython((100 * total) / weight), failed: false, open };
}

/** Python's round(y, 1), as app/quality/scoring.py rounds: the nearest tenth of y's exact value, a tie
 * (y = ….25 or ….75, exact in binary) to the even tenth. */
export function roundLikePython(y) {
  if (Number.isInteger(y * 4) && !Number.isInteger(y * 2)) {
    const low = Math.floor(y * 10);
    return (low % 2 === 0 ? low : low + 1) / 10;
  }
  return Number(y.toFixed(1));
}

function items() {
  return criteria.map((node) => ({
    key: node.dataset.key, scale: node.dataset.scale, weight: Number(node.dataset.weight),
    critical: node.dataset.critical === "true", value: valueOf(node), automatic: node.dataset.auto === "true",
    note: node.querySelector("textarea").value,
  }));
}

function showScore() {
  const result = liveScore(items());
  scoreBox.textContent = result.score === null ? "–" : formatNumber(result.score);
  const notes = [];
  if (result.failed) notes.push(t("Critical failure"));
  if (result.open) notes.push(tn("{n} criterion left", "{n} criteria left", result.open));
  scoreNote.textContent = notes.join(" · ");
}

function payload() {
  const answers = {};
  const notes = {};
  const automatic = [];
  for (const item of items()) {
    if (item.value) answers[item.key] = item.value;
    if (item.value && item.automatic) automatic.push(item.key);
    if (item.note.trim()) notes[item.key] = item.note;
  }
  return { answers, automatic, notes };
}

async function saveDraft() {
  clearTimeout(saveTimer);
  saveTimer = null;
  if (submitted) return;
  saveStatus.textContent = t("Saving…");
  try {
    const response = await fetch(base + "/draft", {
      method: "PUT", credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(payload()),
    });
    const body = await response.json().catch(() => null);
    if (submitted) return; // submitted meanwhile: that says it all
    if (!response.ok || !body || !body.ok) throw new ApiError((body && body.error && body.error.message) || t("The draft could not be saved."));
    saveStatus.textContent = t("Draft saved");
  } catch (error) {
    if (!submitted) saveStatus.textContent = error.message || t("The draft could not be saved.");
  }
}

function scheduleSave() {
  clearTimeout(saveTimer);
  saveStatus.textContent = "";
  saveTimer = setTimeout(saveDraft, 800);
}

form.addEventListener("change", (event) => {
  const target = event.target;
  const node = target.closest(".qa-criterion");
  if (node && target.type === "radio") {
    if (node.dataset.auto === "true") {
      node.dataset.auto = "false"; // the evaluator's own answer now
      $("q-" + node.dataset.key + "-auto").hidden = true;
    }
    clearFieldErrors(node);
  }
  showScore();
  scheduleSave();
});
form.addEventListener("input", (event) => {
  if (event.target.tagName === "TEXTAREA") scheduleSave();
});
$("save").addEventListener("click", () => whileBusy($("save"), saveDraft));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(form);
  formError.hidden = true;
  const button = $("submit");
  await whileBusy(button, async () => {
    try {
      clearTimeout(saveTimer);
      const done = await postJson(base + "/submit", payload(), t("Submitting"));
      submitted = true;
      scoreBox.textContent = done.score === null ? "–" : formatNumber(done.score);
      for (const control of form.querySelectorAll("input, textarea, button")) control.disabled = true;
      const link = el("a", { text: t("See the submitted evaluation"), attrs: { href: done.url } });
      saveStatus.textContent = "";
      saveStatus.append(el("span", { text: t("Evaluation submitted.") + " " }), link);
      scoreNote.textContent = done.critical_failed ? t("Critical failure") : "";
    } catch (error) {
      const node = error instanceof ApiError && error.field ? criteria.find((n) => n.dataset.key === error.field) : null;
      if (node) {
        const group = node.querySelector('[role="radiogroup"]');
        showFieldError(group, error.message);
        const first = node.querySelector('input[type="radio"]');
        (first || group).focus();
      } else {
        formError.textContent = error.message;
        formError.hidden = false;
        formError.focus?.();
      }
    }
  });
});

// ---- comments pinned to a message -----------------------------------------------------------------------
const dialog = $("comment-dialog");
const commentBody = $("comment-body");
let commenting = null; // { id, opener }

document.addEventListener("click", (event) => {
  const button = event.target.closest(".qa-comment-open");
  if (!button) return;
  const message = button.closest(".qa-msg");
  commenting = { id: Number(button.dataset.message), opener: button, message };
  $("comment-title").textContent = button.getAttribute("aria-label");
  $("comment-quote").textContent = message.querySelector(".qa-body").textContent;
  commentBody.value = "";
  clearFieldErrors(dialog);
  dialog.showModal();
  commentBody.focus();
});

function closeComment() {
  dialog.close();
  if (commenting && commenting.opener) commenting.opener.focus();
  commenting = null;
}

$("comment-cancel").addEventListener("click", closeComment);
$("comment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!commenting) return;
  clearFieldErrors(dialog);
  await whileBusy($("comment-save"), async () => {
    try {
      const done = await postJson(base + "/comments", { message_id: commenting.id, body: commentBody.value },
        t("The comment"));
      const list = commenting.message.querySelector(".qa-comments");
      list.append(el("li", { class: "qa-comment" }, [
        asData(done.comment.author, "qa-who"), document.createTextNode(" "), asData(done.comment.body, "qa-comment-body")]));
      list.hidden = false;
      closeComment();
    } catch (error) {
      showFieldError(commentBody, error.message);
      commentBody.focus();
    }
  });
});

showScore();
// The automatic answers shown pre-filled are kept as the draft right away.
if (criteria.some((n) => n.dataset.auto === "true")) saveDraft();
