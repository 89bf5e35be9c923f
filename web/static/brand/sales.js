// Sales charts (Chart.js, loaded on this page only), drawn from the tables beside them: labels are drawn on the
// canvas as text, and the numbers are exactly the table's (fen from data-gmv, shown in yuan).
(function () {
  "use strict";
  const {t, yuan} = window.xl;

  document.querySelectorAll("[data-chart]").forEach((box) => {
    const canvas = box.querySelector("canvas");
    if (!canvas || !window.Chart) return;
    const rows = Array.from(box.querySelectorAll("tbody tr[data-gmv]"));
    const fen = rows.map((r) => Number(r.dataset.gmv));
    const byDay = box.dataset.chart === "day";
    if (!byDay) canvas.parentElement.style.height = `${Math.max(120, 48 + rows.length * 36)}px`;  // a bar per row
    new window.Chart(canvas, {
      type: byDay ? "line" : "bar",
      data: {
        labels: rows.map((r) => byDay ? r.dataset.label.slice(5) : r.dataset.label),
        datasets: [{label: t("成交额（元）", "GMV (yuan)"), data: fen.map((f) => f / 100), borderColor: "#fe2c55",
                    backgroundColor: byDay ? "rgba(254,44,85,.15)" : "#fe2c55", fill: byDay, tension: 0.2, maxBarThickness: 28}],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, indexAxis: byDay ? "x" : "y",
        plugins: {legend: {display: false},
                  tooltip: {callbacks: {label: (ctx) => yuan(fen[ctx.dataIndex])}}},
        scales: {[byDay ? "y" : "x"]: {beginAtZero: true, ticks: {callback: (v) => "¥" + v}}},
      },
    });
    box.dataset.drawn = "true";
  });
})();
