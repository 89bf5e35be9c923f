// 砍价: the product sheet's bargain card (the offer's disclosed terms and a "砍价" button that starts the buyer's
// bargain) and the bargain page (/bargain/<id>): friends help with one button, nothing to post; the buyer copies
// the link and buys at the price reached. Text from the API goes in through textContent only.
(function () {
  "use strict";
  const t = xl.t;
  const en = document.documentElement.lang === "en";

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function go(id) { location.href = "/bargain/" + id + (en ? "?lang=en" : ""); }

  // offer: a BargainOfferStatusOut.
  function card(offer) {
    const box = el("section", "bargain-card");
    box.dataset.bargainOffer = String(offer.id);
    box.setAttribute("aria-label", t("砍价", "Bargain"));
    const head = el("p", "flash-head");
    head.append(el("span", "flash-tag", t("砍价", "Bargain")), " ",
      el("strong", "flash-price", t(`最低 ${xl.yuan(offer.floor_fen)}`, `down to ${xl.yuan(offer.floor_fen)}`)));
    const cuts = offer.schedule;
    const each = cuts[0] === cuts[cuts.length - 1] ? xl.yuan(cuts[0]) : `${xl.yuan(cuts[cuts.length - 1])}–${xl.yuan(cuts[0])}`;
    const terms = el("p", "", t(`${offer.max_helpers} 位好友助力砍到底价，每刀 ${each}，不随机、无需转发`,
      `${offer.max_helpers} friends' helps reach the floor, ${each} each: nothing random, nothing to post`));
    terms.dataset.bargainTerms = "";
    const start = el("button", "btn-flash", offer.my_bargain_id ? t("查看我的砍价", "My bargain") : t("砍价", "Bargain"));
    start.type = "button";
    start.disabled = offer.phase !== "live" && !offer.my_bargain_id;
    if (offer.phase === "upcoming") start.textContent = t("即将开始", "Coming soon");
    const message = el("p", "flash-message", "");
    message.setAttribute("role", "status");
    start.addEventListener("click", async (e) => {
      e.stopPropagation();
      if (offer.my_bargain_id) { go(offer.my_bargain_id); return; }
      start.disabled = true;
      const r = await xl.api("POST", "/api/v1/bargain-offers/" + offer.id + "/start");
      if (r.status === 401) { xl.toLogin(); return; }
      if (r.ok) { go(r.data.id); return; }
      start.disabled = false;
      message.textContent = (r.data && r.data.title) || t("请稍后再试", "Please try again");
    });
    box.append(head, terms, start, message);
    return box;
  }

  // The bargain page.
  const page = document.getElementById("bargain-page");
  if (page) {
    const message = page.querySelector("[data-message]");
    const help = page.querySelector("[data-help]");
    if (help) help.addEventListener("click", async () => {
      if (!page.dataset.user) { xl.toLogin(); return; }
      help.disabled = true;
      const r = await xl.api("POST", "/api/v1/bargains/" + page.dataset.bargainId + "/help");
      if (r.status === 401) { xl.toLogin(); return; }
      if (r.ok) { location.reload(); return; }
      message.textContent = (r.data && r.data.title) || t("请稍后再试", "Please try again");
      if (!(r.data && r.data.code === "bargain_already_helped")) help.disabled = false;
    });
    const copy = page.querySelector("[data-copy]");
    if (copy) copy.addEventListener("click", async () => {
      const link = page.querySelector("[data-help-link]");
      try { await navigator.clipboard.writeText(link.value); }
      catch (e) { link.select(); document.execCommand("copy"); }
      message.textContent = t("已复制，发给好友帮你砍价", "Copied: send it to friends to help");
    });
  }

  window.xlBargain = {card};
})();
