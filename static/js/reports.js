// The reporting dashboard: draws the period's charts (vendored Chart.js) and refreshes today's figures.
(function () {
  "use strict";

  function drawCharts() {
    const source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    const brand = getComputedStyle(document.body).getPropertyValue("--brand").trim() || "#1f5fa8";
    const common = { responsive: true, maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false } };

    new Chart(document.getElementById("chart-volume"), {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Offered", data: data.offered, backgroundColor: brand },
          { label: "Answered", data: data.answered, backgroundColor: "#1d6b36" },
          { label: "Abandoned", data: data.abandoned, backgroundColor: "#a1141b" },
        ],
      },
      options: { ...common, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    new Chart(document.getElementById("chart-sl"), {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Service level %", data: data.service_level, borderColor: brand, backgroundColor: brand, spanGaps: true },
          { label: "Target %", data: data.labels.map(() => data.target), borderColor: "#8a4b00", borderDash: [6, 4], pointRadius: 0 },
        ],
      },
      options: { ...common, scales: { y: { min: 0, max: 100 } } },
    });
  }

  function refreshToday() {
    const box = document.getElementById("today");
    if (!box || !box.dataset.liveUrl) return;
    fetch(box.dataset.liveUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((figures) => {
        box.querySelectorAll("[data-figure]").forEach((el) => {
          const value = figures[el.dataset.figure];
          if (value !== undefined) el.textContent = value;
          if (el.dataset.figure === "service_level") {
            el.classList.toggle("sl-met", figures.sl_met === true);
            el.classList.toggle("sl-missed", figures.sl_met === false);
          }
        });
        const stamp = document.getElementById("today-updated");
        if (stamp) stamp.textContent = "Last update " + new Date().toLocaleTimeString() + ".";
      })
      .catch(() => {});
  }

  document.addEventListener("DOMContentLoaded", () => {
    drawCharts();
    setInterval(() => { if (document.visibilityState === "visible") refreshToday(); }, 60000);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refreshToday(); });
  });
})();
