// Matching: <button data-invite data-campaign data-artist> invites that artist to the campaign.
(function () {
  "use strict";
  document.querySelectorAll("[data-invite]").forEach((button) => {
    button.addEventListener("click", async () => {
      const card = button.closest(".bk-match");
      button.disabled = true;
      const r = await xl.api("POST", `/api/v1/campaigns/${button.dataset.campaign}/invitations`,
        {artist_id: Number(button.dataset.artist)}, {idempotent: true});
      if (r.ok) { button.replaceWith(xl.badge(xl.t("已邀请", "Invited"))); return; }
      button.disabled = false;
      xl.showErrors(card, r.data);
    });
  });
})();
