// The product page: the same product and share sheets as the feed.
(function () {
  "use strict";
  const root = document.getElementById("product-page");
  const id = Number(root.dataset.productId);
  const buy = root.querySelector("[data-open-sheet]");
  if (buy) buy.addEventListener("click", () => xlSheet.product({productId: id, click: root.dataset.click}));
  root.querySelector("[data-share]").addEventListener("click", () => {
    if (!root.dataset.user) { xl.toLogin(); return; }
    xlSheet.share({target: "product", targetId: id});
  });
})();
