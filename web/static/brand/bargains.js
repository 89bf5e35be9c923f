// The brand's bargain-offer form: the floor in yuan as people type it, sent as fen; local times sent as UTC.
(function () {
  "use strict";
  const form = document.getElementById("bargain-form");
  if (!form) return;
  const val = (name) => String(form.querySelector(`[name=${name}]`).value || "").trim();
  const instant = (v) => { const d = new Date(v); return isNaN(d) ? v : d.toISOString(); };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {sku_id: Number(val("sku_id"))};
    if (val("floor_yuan")) body.floor_fen = xl.fen(val("floor_yuan"));
    ["max_helpers", "window_hours", "per_user_limit"].forEach((k) => { if (val(k)) body[k] = Number(val(k)); });
    ["starts_at", "ends_at"].forEach((k) => { if (val(k)) body[k] = instant(val(k)); });
    const button = form.querySelector("button");
    button.disabled = true;
    const r = await xl.api("POST", `/api/v1/brands/${form.dataset.brand}/bargains`, body);
    button.disabled = false;
    if (r.ok) { location.reload(); return; }
    xl.showErrors(form, r.data);
  });
})();
