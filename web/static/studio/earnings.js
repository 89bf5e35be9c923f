// The creator's funnel (views → product clicks → orders) and earnings (pending / settled) per day, drawn with
// Chart.js from the report the page was rendered with (GET /api/v1/reports/me carries the same series).
(function () {
  "use strict";
  const t = (zh, en) => xl.t(zh, en);
  const days = JSON.parse(document.getElementById("studio-report").textContent);
  const labels = days.map((d) => d.day.slice(5));
  const common = {responsive: true, maintainAspectRatio: false, animation: false, interaction: {mode: "index", intersect: false},
    plugins: {legend: {position: "bottom"}}};

  window.studioCharts = {
    funnel: new Chart(document.getElementById("funnel-chart"), {
      type: "line",
      data: {labels, datasets: [
        {label: t("播放", "Views"), data: days.map((d) => d.funnel.views), borderColor: "#2a62d6", backgroundColor: "#2a62d6", tension: 0.25},
        {label: t("商品点击", "Product clicks"), data: days.map((d) => d.funnel.product_clicks), borderColor: "#f5a623", backgroundColor: "#f5a623", tension: 0.25},
        {label: t("订单", "Orders"), data: days.map((d) => d.funnel.orders), borderColor: "#fe2c55", backgroundColor: "#fe2c55", tension: 0.25},
      ]},
      options: Object.assign({scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}, common),
    }),
    earned: new Chart(document.getElementById("earned-chart"), {
      type: "bar",
      data: {labels, datasets: [
        {label: t("待结算", "Pending"), data: days.map((d) => d.earned.pending / 100), backgroundColor: "#f5a623"},
        {label: t("已结算", "Settled"), data: days.map((d) => d.earned.settled / 100), backgroundColor: "#2bb673"},
      ]},
      options: Object.assign({scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}}, common),
    }),
  };
})();
