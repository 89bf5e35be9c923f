// The console's holds, disputes and bans: each button posts its decision (with the note typed beside it) to the
// API and says what happened, or shows the API's problem in words next to it.
(function () {
  "use strict";
  const root = document.getElementById("admin-cases");
  if (!root) return;
  const t = (zh, en) => xl.t(zh, en);

  async function send(scope, url, body, done) {
    scope.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const r = await xl.api("POST", url, body, {idempotent: true});
    if (!r.ok) {
      xl.showErrors(scope, r.data);
      scope.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      return;
    }
    scope.querySelector("[data-errors]").textContent = "";
    scope.querySelector("[data-outcome]").textContent = done;
  }

  root.addEventListener("click", (e) => {
    const hold = e.target.closest("[data-hold-approve]");
    if (hold) {
      const card = hold.closest("[data-hold]");
      const approve = hold.dataset.holdApprove === "true";
      send(card, `/api/v1/admin/holds/${card.dataset.hold}/decision`,
        {approve, reason: card.querySelector("[data-hold-reason]").value},
        approve ? t("已放行，佣金照常结算", "Released: the commissions settle as usual")
          : t("已没收，佣金归品牌", "Forfeited: the commissions go to the brand"));
      return;
    }
    const dispute = e.target.closest("[data-dispute-decision]");
    if (dispute) {
      const card = dispute.closest("[data-dispute]");
      const approve = dispute.dataset.disputeDecision === "approve";
      send(card, `/api/v1/disputes/${card.dataset.dispute}/${dispute.dataset.disputeDecision}`,
        {note: card.querySelector("[data-dispute-note]").value},
        approve ? t("已支持买家：退款并追回佣金", "Decided for the buyer: refunded, commissions clawed back")
          : t("已驳回", "Turned down"));
      return;
    }
    const ban = e.target.closest("[data-ban]");
    if (ban) {
      const card = ban.closest("[data-user]");
      send(card, `/api/v1/admin/users/${card.dataset.user}/${ban.dataset.ban}`,
        {reason: card.querySelector("[data-ban-reason]").value},
        ban.dataset.ban === "ban" ? t("已封禁，该账号已在所有设备上退出", "Banned: the account is signed out everywhere")
          : t("已解除封禁", "The ban is lifted"));
    }
  });
})();
