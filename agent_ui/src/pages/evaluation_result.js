// The result of an evaluation (agent_ui/templates/quality/result.html): the page works without
// script; this only keeps a decision's "New answer" usable when "Changed" is the outcome chosen.
import "./quality_results.css"; // → /static/evaluation_result.css, linked by the disputes, calibration and coaching pages

function wire(form) {
  const select = form.querySelector('select[name="new_value"]');
  if (!select) return;
  const sync = () => {
    const picked = form.querySelector('input[name="outcome"]:checked');
    select.disabled = !(picked && picked.value === "changed");
  };
  for (const radio of form.querySelectorAll('input[name="outcome"]')) radio.addEventListener("change", sync);
  sync();
}

for (const form of document.querySelectorAll("form.qa-decide")) wire(form);
