// The staffing plan's chart: forecast chats (bars) and required agents and staff (lines) per
// half hour for the next 7 days. The figures come from a JSON block the server renders into
// the page (data, never markup; no inline script runs).
import "./staffing.css";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { t, formatDate, lang } from "../i18n.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);


function readData() {
  const node = document.getElementById("staffing-data");
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch (e) {
    return null;
  }
}

/** "2026-11-23 10:00" → "Mon 10:00" / "周一 10:00" (the label is already the center's wall clock). */
function shortLabel(label) {
  const day = formatDate(label.slice(0, 10) + "T00:00:00Z", { weekday: "short", timeZone: "UTC" });
  return (day || label.slice(0, 10)) + " " + label.slice(11);
}

/** The tooltip's title: "2026-11-23 10:00" → the date in the page's language and the time. */
function longLabel(label) {
  const day = formatDate(label.slice(0, 10) + "T00:00:00Z", { weekday: "short",
    year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
  return (day || label.slice(0, 10)) + " " + label.slice(11);
}

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function draw() {
  const canvas = document.getElementById("staffing-chart");
  const loading = document.getElementById("chart-loading");
  const data = readData();
  if (!canvas) return;
  if (!data || !Array.isArray(data.labels)) {
    if (loading) loading.textContent = t("The chart could not be drawn. The tables below hold the same figures.");
    return;
  }
  const text = cssVar("--text", "#1c2330");
  const muted = cssVar("--muted", "#5d6676");
  const grid = cssVar("--border", "#dfe2e7");
  const datasets = [
    {
      type: "bar",
      label: t("Forecast chats"),
      data: data.volume,
      backgroundColor: "rgba(36, 89, 214, 0.35)",
      borderWidth: 0,
      yAxisID: "chats",
      order: 2,
    },
  ];
  if (data.can_staff) {
    datasets.push(
      {
        type: "line",
        label: t("Required agents"),
        data: data.agents,
        borderColor: "#1e8e4f",
        backgroundColor: "#1e8e4f",
        borderWidth: 2,
        pointRadius: 0,
        stepped: true,
        yAxisID: "agents",
        order: 1,
      },
      {
        type: "line",
        label: t("Staff to schedule"),
        data: data.staff,
        borderColor: "#b7791f",
        backgroundColor: "#b7791f",
        borderWidth: 2,
        borderDash: [6, 4],
        pointRadius: 0,
        stepped: true,
        yAxisID: "agents",
        order: 0,
      },
    );
  }
  new Chart(canvas, {
    data: { labels: data.labels.map(shortLabel), datasets },
    options: {
      locale: lang, // the ticks' and tooltips' numbers in the page's language
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { labels: { color: text } },
        tooltip: { callbacks: { title: (items) => (items.length ? longLabel(data.labels[items[0].dataIndex]) : "") } },
      },
      scales: {
        x: { ticks: { color: muted, autoSkip: true, maxTicksLimit: 14, maxRotation: 0 }, grid: { color: grid } },
        chats: {
          position: "left",
          beginAtZero: true,
          title: { display: true, text: t("Chats per half hour"), color: muted },
          ticks: { color: muted },
          grid: { color: grid },
        },
        agents: {
          position: "right",
          beginAtZero: true,
          display: !!data.can_staff,
          title: { display: true, text: t("Agents"), color: muted },
          ticks: { color: muted, precision: 0 },
          grid: { drawOnChartArea: false },
        },
      },
    },
  });
  if (loading) loading.hidden = true;
  canvas.setAttribute("data-drawn", "true");
}

draw();
