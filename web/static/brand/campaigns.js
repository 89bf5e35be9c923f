// The charts of a marketing page (coupons, flash sales, later kinds): Chart.js, drawn from the campaign table
// beside them, so what is charted is what the table says (fen from data-gmv / data-cost, shown in yuan).
(function () {
  "use strict";
  const {t, yuan} = window.xl;
  const box = document.querySelector("[data-campaign-charts]");
  if (!box || !window.Chart) return;
  const rows = Array.from(box.querySelectorAll("[data-campaign-table] tbody tr"));
  const labels = rows.map((r) => r.dataset.label);
  const num = (key) => rows.map((r) => Number(r.dataset[key]));
  const base = {animation: false, responsive: true, maintainAspectRatio: false};
  new window.Chart(document.getElementById("chart-campaign-people"), {
    type: "bar",
    data: {labels, datasets: [
      {label: box.dataset.takenLabel, data: num("taken"), backgroundColor: "#ffb3c1", maxBarThickness: 28},
      {label: box.dataset.paidLabel, data: num("paid"), backgroundColor: "#fe2c55", maxBarThickness: 28},
    ]},
    options: Object.assign({}, base, {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}),
  });
  const gmv = num("gmv");
  const cost = num("cost");
  new window.Chart(document.getElementById("chart-campaign-money"), {
    type: "bar",
    data: {labels, datasets: [
      {label: t("成交额（元）", "GMV (yuan)"), data: gmv.map((f) => f / 100), backgroundColor: "#2f7df6", maxBarThickness: 28},
      {label: t("成本（元）", "Cost (yuan)"), data: cost.map((f) => f / 100), backgroundColor: "#f5a623", maxBarThickness: 28},
    ]},
    options: Object.assign({}, base, {
      plugins: {tooltip: {callbacks: {label: (ctx) => ctx.dataset.label + " " + yuan((ctx.datasetIndex ? cost : gmv)[ctx.dataIndex])}}},
      scales: {y: {beginAtZero: true, ticks: {callback: (v) => "¥" + v}}},
    }),
  });
  box.dataset.drawn = "true";
})();
