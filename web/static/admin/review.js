// A review in the admin console: the video (hls.js), its storyboard as a grid of frames that seek the player,
// and the decision buttons, which post to the API and show the outcome (or the API's problem, in words).
(function () {
  "use strict";
  const root = document.getElementById("admin-review");
  if (!root) return;
  const t = (zh, en) => xl.t(zh, en);
  const player = root.querySelector("[data-player]");
  const match = root.querySelector(".ad-match-player");
  if (player) xl.attachPlayer(player);
  if (match) xl.attachPlayer(match);

  const board = root.querySelector("[data-board]");
  if (player && board) {
    xl.storyboard(player.dataset.storyboard).then((cues) => {
      cues.forEach((cue) => {
        const b = document.createElement("button");
        b.type = "button";
        const scale = 72 / cue.w;
        b.style.height = Math.round(cue.h * scale) + "px";
        b.style.backgroundImage = `url("${cue.url}")`;
        b.style.backgroundSize = `auto ${Math.round(cue.h * scale)}px`;
        b.style.backgroundPosition = `-${Math.round(cue.x * scale)}px -${Math.round(cue.y * scale)}px`;
        const label = document.createElement("span");
        label.textContent = `${Math.floor(cue.start)}s`;
        b.appendChild(label);
        b.setAttribute("aria-label", t(`跳到 ${Math.floor(cue.start)} 秒`, `Jump to ${Math.floor(cue.start)} s`));
        b.dataset.start = String(cue.start);
        b.addEventListener("click", () => { player.currentTime = cue.start; });
        board.appendChild(b);
      });
      board.dataset.ready = String(cues.length);
    });
    player.addEventListener("timeupdate", () => {
      board.querySelectorAll("button").forEach((b, i, all) => {
        const next = all[i + 1];
        const on = player.currentTime >= Number(b.dataset.start) && (!next || player.currentTime < Number(next.dataset.start));
        b.setAttribute("aria-current", on ? "true" : "false");
      });
    });
  }

  const outcome = root.querySelector("[data-outcome]");
  const errors = root.querySelector("[data-errors]");
  const reason = root.querySelector("[data-reason-input]");
  const rejected = {video: t("已驳回，创作者会看到原因", "Rejected: the creator sees the reason"),
    comment: t("评论已删除", "The comment is taken down"), product: t("商品已下架", "The product is off sale"),
    artist: t("账号已封禁", "The account is banned"),
    qualification: t("未通过，品牌会看到原因", "Not approved: the brand sees the reason")};
  const approved = {video: t("已通过，视频已公开", "Approved: the video is public"),
    qualification: t("已通过，品牌可以上架该类目的商品", "Approved: the brand may sell in these categories")};
  const done = {approve: approved[root.dataset.subject] || t("已通过，内容保留", "Approved: it stays"), reject: rejected[root.dataset.subject],
    request_changes: t("已要求修改，创作者会看到原因", "Sent back for changes: the creator sees the reason")};
  root.querySelectorAll("[data-decision]").forEach((button) => {
    button.addEventListener("click", async () => {
      errors.textContent = "";
      const decision = button.dataset.decision;
      const r = await xl.api("POST", `/api/v1/admin/review-queue/${root.dataset.itemId}/decision`,
        {decision, reason: reason.value});
      if (!r.ok) { xl.showErrors(errors.closest("section"), r.data); return; }
      root.querySelectorAll("[data-decision]").forEach((b) => { b.disabled = true; });
      outcome.textContent = done[decision];
    });
  });
})();
