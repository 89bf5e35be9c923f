// Checkout: place the order through the API (with the share click the visitor landed with), then go to pay.
(function () {
  "use strict";
  const form = document.getElementById("checkout-form");
  // One key per order as typed: a retry after a lost response replays it (no second order); a corrected form
  // is a new request, which the server would refuse under the old key.
  let sent = null;
  let key = null;
  const item = () => {
    const it = {sku_id: Number(form.dataset.skuId), quantity: Number(form.dataset.quantity)};
    if (form.dataset.videoId) it.source_video_id = Number(form.dataset.videoId);
    return it;
  };
  // The chosen wallet coupons: one brand coupon and one platform coupon at most (one radio group each).
  const chosen = () => Array.from(form.querySelectorAll("[data-coupon-group] input:checked"))
    .map((el) => el.value).filter(Boolean).map(Number);
  const box = form.querySelector("[data-coupons]");
  const show = (sel, fen) => { const el = form.querySelector(sel); if (el) el.textContent = xl.yuan(fen); };
  // Ask the server what the order costs with these coupons: the same pricing as placing it.
  async function requote() {
    if (!box) return;
    const r = await xl.api("POST", "/api/v1/checkouts/quote", {items: [item()], coupon_ids: chosen()});
    const errors = box.querySelector("[data-coupon-errors]");
    errors.textContent = "";
    if (!r.ok) {
      const p = r.data || {};
      errors.textContent = (p.errors || []).map((e) => e.message).filter(Boolean).join(" ") || p.title || "";
      return;
    }
    const d = r.data;
    const off = d.brand_discount + d.platform_discount;
    form.querySelector("[data-discount-row]").hidden = off === 0;
    form.querySelector("[data-discount]").textContent = "−" + xl.yuan(off);
    show("[data-brand-funded]", d.brand_discount);
    show("[data-platform-funded]", d.platform_discount);
    show("[data-total]", d.total);
  }
  if (box) { box.addEventListener("change", requote); requote(); }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const body = {items: [item()], address: xl.address(form), coupon_ids: chosen()};
    if (form.dataset.click) body.click_id = form.dataset.click;
    button.disabled = true;
    const json = JSON.stringify(body);
    if (json !== sent) { sent = json; key = xl.newKey(); }
    const r = await xl.api("POST", "/api/v1/checkouts", body, {key});
    if (r.ok && r.data.pay_url) { location.href = r.data.pay_url; return; }
    button.disabled = false;
    xl.showErrors(form, r.data);
  });
})();
