// The brand's coupon form: yuan and percentages as people type them, sent as fen and basis points.
(function () {
  "use strict";
  const form = document.getElementById("coupon-form");
  if (!form) return;
  const kind = form.querySelector("[name=kind]");
  const sync = () => form.querySelectorAll("[data-for-kind]").forEach((el) => {
    el.hidden = !el.dataset.forKind.split(" ").includes(kind.value);
  });
  kind.addEventListener("change", sync);
  sync();
  const val = (name) => String(form.querySelector(`[name=${name}]`).value || "").trim();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {kind: kind.value};
    if (val("name")) body.name = val("name");
    const value = kind.value === "percent" ? val("value_pct") : val("value_yuan");
    if (value) body.value = xl.fen(value);  // yuan -> fen; a percentage with two decimals -> basis points
    if (kind.value === "percent" && val("max_discount_yuan")) body.max_discount = xl.fen(val("max_discount_yuan"));
    if (val("min_subtotal_yuan")) body.min_subtotal = xl.fen(val("min_subtotal_yuan"));
    if (val("max_uses")) body.max_uses = Number(val("max_uses"));
    if (val("per_user_limit")) body.per_user_limit = Number(val("per_user_limit"));
    if (val("code")) body.code = val("code");
    if (val("ends_at")) body.ends_at = new Date(val("ends_at")).toISOString();
    const button = form.querySelector("button");
    button.disabled = true;
    const r = await xl.api("POST", `/api/v1/brands/${form.dataset.brand}/coupons`, body);
    button.disabled = false;
    if (r.ok) { location.reload(); return; }
    xl.showErrors(form, r.data);
  });
})();
