// The booking page's step buttons: each sends its step with the version this page showed, so a click on a stale
// page is refused instead of overriding what the other side just did.
(function () {
  "use strict";
  const rating = document.getElementById("rating-form");
  if (rating) {
    rating.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await xl.api("POST", `/api/v1/bookings/${rating.dataset.booking}/rating`,
        {stars: Number(rating.elements.stars.value), comment: rating.elements.comment.value});
      if (r.ok) { location.reload(); return; }
      xl.showErrors(rating.parentElement, r.data);
    });
  }
  const panel = document.querySelector(".bk-steps");
  if (!panel) return;
  const pay = panel.querySelector("[data-pay]");
  if (pay) {
    pay.addEventListener("click", async () => {
      pay.disabled = true;
      const r = await xl.api("POST", `/api/v1/bookings/${panel.dataset.booking}/payment`, undefined, {idempotent: true});
      if (r.ok) { location.href = r.data.pay_url; return; }
      pay.disabled = false;
      xl.showErrors(panel, r.data);
    });
  }
  panel.querySelectorAll("form.bk-step").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      const body = {expected_version: Number(panel.dataset.version)};
      if (f.fee_yuan) { const v = xl.fen(f.fee_yuan.value); body.fee_fen = Number.isNaN(v) || v === null ? -1 : v; }
      if (f.note) body.note = f.note.value;
      if (f.video_id) body.video_id = f.video_id.value ? Number(f.video_id.value) : null;
      const cards = Array.from(form.querySelectorAll('input[name="product_ids"]'));
      if (cards.length) body.product_ids = cards.filter((b) => b.checked).map((b) => Number(b.value));
      if (f.artist_share_pct) body.artist_share_bp = Math.round(Number(f.artist_share_pct.value) * 100);
      panel.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      const r = await xl.api("POST", `/api/v1/bookings/${panel.dataset.booking}/${form.dataset.action}`, body,
        {idempotent: true});
      if (r.ok) { location.reload(); return; }
      panel.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      xl.showErrors(panel, r.data);
    });
  });
})();
