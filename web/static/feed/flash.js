// The 秒杀 flash-sale card, the same in the feed (on a video whose product has a sale) and in the product sheet:
// a countdown to the start (on the server's clock), then "立即抢购" with the units left, then sold out. Grabbing
// asks the flash-sale API for a place; an admitted buyer goes on to the ordinary checkout at the sale price.
// Text from the API goes in through textContent only.
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

  function hms(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const two = (n) => String(n).padStart(2, "0");
    return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  }

  // sale: a FlashSaleStatusOut; opts: {videoId, click} carried on to checkout for attribution.
  function card(sale, opts) {
    opts = opts || {};
    let skew = Date.parse(sale.server_time) - Date.now();
    let phase = sale.phase;
    let admission = sale.admission;
    let refreshing = false;
    const box = el("section", "flash-card");
    box.dataset.flashSale = String(sale.id);
    box.setAttribute("aria-label", t("秒杀", "Flash sale"));
    const head = el("p", "flash-head");
    head.append(el("span", "flash-tag", t("秒杀", "Flash sale")), " ", el("strong", "flash-price", xl.yuan(sale.price_fen)));
    const countdown = el("p", "flash-countdown", "");
    countdown.dataset.flashCountdown = "";
    const left = el("p", "flash-left", "");
    left.dataset.flashLeft = "";
    const grab = el("button", "btn-flash", "");
    grab.type = "button";
    const message = el("p", "flash-message", "");
    message.setAttribute("role", "status");
    box.append(head, countdown, left, grab, message);

    function checkout() {
      const q = new URLSearchParams({product: String(sale.product_id), sku: String(sale.sku_id), qty: String(admission.quantity)});
      if (opts.videoId) q.set("video", String(opts.videoId));
      if (opts.click) q.set("click", opts.click);
      if (en) q.set("lang", "en");
      location.href = "/checkout?" + q.toString();
    }

    // The server's word on the units left and the caller's place (when the sale opens, and after a refusal).
    async function refresh() {
      if (refreshing) return;
      refreshing = true;
      const r = await xl.api("GET", "/api/v1/flash-sales/" + sale.id);
      refreshing = false;
      if (!r.ok) return;
      skew = Date.parse(r.data.server_time) - Date.now();
      sale.remaining = r.data.remaining;
      phase = r.data.phase;
      admission = r.data.admission;
      render();
    }

    function render() {
      const now = Date.now() + skew;
      const starts = Date.parse(sale.starts_at);
      const ends = Date.parse(sale.ends_at);
      if (phase === "upcoming" && now >= starts) { phase = "live"; refresh(); }
      if (now >= ends) phase = "ended";
      countdown.textContent = phase === "upcoming" ? t("距开始 ", "Starts in ") + hms(starts - now)
        : phase === "ended" ? t("已结束", "Ended") : t("距结束 ", "Ends in ") + hms(ends - now);
      left.textContent = phase === "ended" ? "" : phase === "upcoming" ? t(`限量 ${sale.quantity} 件`, `${sale.quantity} units`)
        : t(`剩 ${sale.remaining} 件`, `${sale.remaining} left`);
      box.classList.toggle("flash-sold-out", phase === "sold_out" && !admission);
      box.dataset.phase = phase;
      if (admission && admission.status === "admitted") {
        grab.textContent = t("去支付", "Pay now");
        grab.disabled = false;
        const by = new Date(Date.parse(admission.pay_deadline) - skew).toLocaleTimeString(en ? "en" : "zh-CN");
        message.textContent = t(`已抢到，请在 ${by} 前支付`, `You are in: pay before ${by}`);
      } else if (admission) {
        grab.textContent = t("已参与", "Taken part");
        grab.disabled = true;
      } else {
        grab.textContent = phase === "live" ? t("立即抢购", "Grab now") : phase === "upcoming" ? t("即将开始", "Coming soon")
          : phase === "sold_out" ? t("已抢光", "Sold out") : t("已结束", "Ended");
        grab.disabled = phase !== "live";
      }
    }

    grab.addEventListener("click", async (e) => {
      e.stopPropagation();
      if (admission && admission.status === "admitted") { checkout(); return; }
      grab.disabled = true;
      const a = await xl.api("POST", "/api/v1/flash-sales/" + sale.id + "/admission", {quantity: 1});
      if (a.status === 401) { xl.toLogin(); return; }
      if (a.ok) { admission = a.data; checkout(); return; }
      message.textContent = (a.data && a.data.title) || t("请稍后再试", "Please try again");
      if (a.data && a.data.code === "sold_out") { phase = "sold_out"; sale.remaining = 0; }
      render();
      if (a.data && a.data.code === "already_admitted") refresh();
    });
    render();
    const timer = setInterval(() => { if (!box.isConnected) { clearInterval(timer); return; } render(); }, 1000);
    return box;
  }

  window.xlFlash = {card};
})();
