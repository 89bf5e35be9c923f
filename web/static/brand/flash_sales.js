// The brand's flash-sale form: yuan as people type it, sent as fen; local times sent as UTC instants.
(function () {
  "use strict";
  const form = document.getElementById("flash-sale-form");
  if (!form) return;
  const val = (name) => String(form.querySelector(`[name=${name}]`).value || "").trim();
  const instant = (v) => { const d = new Date(v); return isNaN(d) ? v : d.toISOString(); };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {sku_id: Number(val("sku_id")), pay_window_seconds: Number(val("pay_window_seconds"))};
    if (val("price_yuan")) body.price_fen = xl.fen(val("price_yuan"));
    if (val("quantity")) body.quantity = Number(val("quantity"));
    if (val("starts_at")) body.starts_at = instant(val("starts_at"));
    if (val("ends_at")) body.ends_at = instant(val("ends_at"));
    if (val("per_user_limit")) body.per_user_limit = Number(val("per_user_limit"));
    const button = form.querySelector("button");
    button.disabled = true;
    const r = await xl.api("POST", `/api/v1/brands/${form.dataset.brand}/flash-sales`, body);
    button.disabled = false;
    if (r.ok) { location.reload(); return; }
    xl.showErrors(form, r.data);
  });
})();
