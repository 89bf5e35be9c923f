// Checkout: place the order through the API (with the share click the visitor landed with), then go to pay.
(function () {
  "use strict";
  const form = document.getElementById("checkout-form");
  // One key per order as typed: a retry after a lost response replays it (no second order); a corrected form
  // is a new request, which the server would refuse under the old key.
  let sent = null;
  let key = null;
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
    const json = JSON.stringify(body);
    if (json !== sent) { sent = json; key = xl.newKey(); }
    const r = await xl.api("POST", "/api/v1/checkouts", body, {key});
    if (r.ok && r.data.pay_url) { location.href = r.data.pay_url; return; }
    button.disabled = false;
    xl.showErrors(form, r.data);
  });
})();
