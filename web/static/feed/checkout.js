// Checkout: place the order through the API (with the share click the visitor landed with), then go to pay.
(function () {
  "use strict";
  const form = document.getElementById("checkout-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const f = new FormData(form);
    const address = {};
    ["name", "phone", "province", "city", "district", "detail"].forEach((k) => { address[k] = String(f.get(k) || "").trim(); });
    const item = {sku_id: Number(form.dataset.skuId), quantity: Number(form.dataset.quantity)};
    if (form.dataset.videoId) item.source_video_id = Number(form.dataset.videoId);
    const body = {items: [item], address};
    if (form.dataset.click) body.click_id = form.dataset.click;
    button.disabled = true;
    const r = await xl.api("POST", "/api/v1/checkouts", body, {idempotent: true});
    if (r.ok && r.data.pay_url) { location.href = r.data.pay_url; return; }
    button.disabled = false;
    xl.showErrors(form, r.data);
  });
})();
