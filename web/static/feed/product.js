// The product page: the same product and share sheets as the feed.
(function () {
  "use strict";
  const root = document.getElementById("product-page");
  const id = Number(root.dataset.productId);
  const buy = root.querySelector("[data-open-sheet]");
  if (buy) buy.addEventListener("click", () => xlSheet.product({productId: id, click: root.dataset.click, coupons: false}));
  // Claim buttons: the coupon goes into the wallet and is offered at checkout.
  root.querySelectorAll("[data-claim]").forEach((button) => button.addEventListener("click", async () => {
    if (!root.dataset.user) { xl.toLogin(); return; }
    button.disabled = true;
    const r = await xl.api("POST", `/api/v1/coupons/${button.dataset.claim}/claim`);
    const strip = button.closest(".coupon-strip");
    if (r.ok) { button.textContent = xl.t("已领取", "Claimed"); xl.showErrors(strip, {}); strip.querySelector("[data-errors]").textContent = ""; return; }
    button.disabled = false;
    xl.showErrors(strip, r.data);
  }));
  root.querySelector("[data-share]").addEventListener("click", () => {
    if (!root.dataset.user) { xl.toLogin(); return; }
    xlSheet.share({target: "product", targetId: id});
  });
})();
