// Open briefs: <button data-apply="<campaign id>"> applies with the optional fee typed in its card.
(function () {
  "use strict";
  document.querySelectorAll("[data-apply]").forEach((button) => {
    button.addEventListener("click", async () => {
      const card = button.closest("li");
      const fee = xl.fen(card.querySelector("[name=fee_yuan]").value);
      const body = fee === null ? {} : {fee_fen: Number.isNaN(fee) ? -1 : fee};
      button.disabled = true;
      const r = await xl.api("POST", `/api/v1/campaigns/${button.dataset.apply}/applications`, body, {idempotent: true});
      if (r.ok) { location.href = `/bookings/${r.data.id}`; return; }
      button.disabled = false;
      xl.showErrors(card, r.data);
    });
  });
})();
