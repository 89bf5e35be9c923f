// "Ask the brand" buttons outside the product sheet (the order page): open the buyer's chat with the brand, the
// order (when named) sent as a card.
(function () {
  "use strict";
  document.querySelectorAll("[data-contact-brand]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const body = {brand_id: Number(button.dataset.contactBrand)};
      if (button.dataset.contactOrder) body.order_id = Number(button.dataset.contactOrder);
      const r = await xl.api("POST", "/api/v1/conversations", body);
      if (r.status === 401) { xl.toLogin(); return; }
      if (r.ok) { location.href = "/chat/" + r.data.id + (document.documentElement.lang === "en" ? "?lang=en" : ""); return; }
      button.disabled = false;
      const errors = document.querySelector("[data-contact-errors]");
      if (errors) errors.textContent = (r.data && r.data.title) || xl.t("请稍后再试", "Please try again");
    });
  });
})();
