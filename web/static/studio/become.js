// A viewer's "become a creator" button: one call to the API, then the studio again, now with the upload form.
(function () {
  "use strict";
  const button = document.querySelector("[data-become-creator]");
  if (!button) return;
  const card = button.closest("section");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const r = await xl.api("POST", "/api/v1/me/artist");
    if (r.ok) { location.reload(); return; }
    button.disabled = false;
    xl.showErrors(card, r.data);
  });
})();
