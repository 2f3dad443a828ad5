// The CSR scorecard (/quality/scorecard…): the tables are the server's; this draws the two charts of the
// metric chosen in "Metric in the charts" — the weekly trend against the team median and the tenure curve
// against the veterans' median — from /api/quality/scorecard/<id>. Every value is text, never markup.
import "./reports.css";
import "./quality_scorecard.css";
import {
  Chart, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend,
} from "chart.js";
import { t } from "../i18n.js";
import { drawChart, fetchJson } from "../report_page.js";

Chart.register(LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

const main = document.getElementById("main");
const api = main && main.dataset.api;
const charts = {};
const picker = document.getElementById("sc-metric");
const status = document.getElementById("sc-status");
const data = {};

function series(result, key, reference, label, referenceLabel, weekLabel) {
  const metric = result.metrics.find((m) => m.key === key);
  const scale = metric && metric.kind === "percent" ? 100 : 1;
  const value = (v) => (v === null || v === undefined ? null : Math.round(v * scale * 100) / 100);
  return {
    labels: result.rows.map(weekLabel),
    datasets: [
      { label: label, data: result.rows.map((r) => value(r[key])), borderColor: "#2563eb", backgroundColor: "#2563eb", spanGaps: true },
      { label: referenceLabel, data: result.rows.map((r) => value(r[key + "_" + reference])), borderColor: "#94a3b8",
        backgroundColor: "#94a3b8", borderDash: [6, 4], spanGaps: true },
    ],
  };
}

function draw() {
  const key = picker.value;
  const name = picker.options[picker.selectedIndex].textContent;
  if (data.weekly && document.getElementById("chart-weekly")) {
    const s = series(data.weekly, key, "team", name, t("{metric} (team median)", { metric: name }), (r) => r.week);
    drawChart(Chart, charts, "chart-weekly", "line", s.labels, s.datasets);
  }
  if (data.tenure && document.getElementById("chart-tenure")) {
    const s = series(data.tenure, key, "veterans", name, t("{metric} (veterans)", { metric: name }),
      (r) => t("Week {n}", { n: r.tenure_week }));
    drawChart(Chart, charts, "chart-tenure", "line", s.labels, s.datasets);
  }
}

async function load() {
  if (!api || !picker) return;
  status.textContent = t("Loading…");
  try {
    const query = main.dataset.query;
    const here = location.pathname;
    const [weekly, tenure] = await Promise.all([
      fetchJson(api + "?view=weekly&" + query, t("The scorecard"), here),
      fetchJson(api + "?view=tenure&" + query, t("The scorecard"), here),
    ]);
    data.weekly = weekly;
    data.tenure = tenure;
    draw();
    status.textContent = "";
  } catch (error) {
    status.textContent = error.message;
  }
}

if (picker) picker.addEventListener("change", draw);
load();
