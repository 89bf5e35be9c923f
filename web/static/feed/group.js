// A 拼团 group page: the time left (on the server's clock), join or pay for one's seat at the group price (the
// ordinary checkout), and the caller's share link (the product's signed link with g=<group id>). Text from the API
// goes in through textContent only.
(function () {
  "use strict";
  const t = xl.t;
  const en = document.documentElement.lang === "en";
  const root = document.getElementById("group-page");
  if (!root) return;
  const d = root.dataset;
  const skew = Date.parse(d.serverTime) - Date.now();
  const expires = Date.parse(d.expiresAt);
  const left = root.querySelector("[data-group-time-left]");
  const action = root.querySelector("[data-group-action]");
  const errors = root.querySelector("[data-errors]");

  function hms(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const two = (n) => String(n).padStart(2, "0");
    return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  }

  function tick() {
    const ms = expires - (Date.now() + skew);
    left.textContent = d.phase !== "open" ? "" : ms > 0 ? t("剩余 ", "Time left ") + hms(ms) : t("已结束", "Ended");
  }

  function checkout() {
    const q = new URLSearchParams({product: d.productId, sku: d.skuId, qty: "1"});
    if (d.click) q.set("click", d.click);
    if (en) q.set("lang", "en");
    location.href = "/checkout?" + q.toString();
  }

  // What the caller can do here: pay for their seat, join, or nothing (paid, full, over).
  function render() {
    const open = d.phase === "open";
    if (open && d.seat === "seated") { action.textContent = t("去支付", "Pay now"); action.hidden = false; }
    else if (open && !d.seat && Number(d.members) < Number(d.size)) { action.textContent = t("参加拼团", "Join the group"); action.hidden = false; }
    else if (d.seat) { action.textContent = d.seat === "paid" ? t("已支付", "Paid") : t("已参团", "Joined"); action.hidden = false; action.disabled = true; }
    else action.hidden = true;
  }

  action.addEventListener("click", async () => {
    if (d.seat === "seated") { checkout(); return; }
    if (!d.user) { xl.toLogin(); return; }
    action.disabled = true;
    const r = await xl.api("POST", `/api/v1/group-buys/groups/${d.groupId}/join`);
    if (r.status === 401) { xl.toLogin(); return; }
    if (r.ok) { checkout(); return; }
    action.disabled = false;
    errors.textContent = (r.data && r.data.title) || t("请稍后再试", "Please try again");
  });

  const share = document.querySelector("[data-group-share-button]");
  share.addEventListener("click", async () => {
    if (!d.user) { xl.toLogin(); return; }
    share.disabled = true;
    const r = await xl.api("POST", `/api/v1/group-buys/groups/${d.groupId}/share-link`);
    share.disabled = false;
    if (!r.ok) { errors.textContent = (r.data && r.data.title) || t("无法生成链接", "Could not create a link"); return; }
    const input = document.querySelector("[data-group-share-url]");
    input.value = r.data.url;
    input.closest("label").hidden = false;
  });

  // Others join and pay meanwhile: when the server's word differs from the page's, show the page anew.
  async function poll() {
    if (d.phase !== "open") return;
    const r = await xl.api("GET", `/api/v1/group-buys/groups/${d.groupId}`);
    if (r.ok && (r.data.phase !== d.phase || String(r.data.members) !== d.members || String(r.data.paid) !== d.paid)) {
      location.reload();
    }
  }

  render();
  tick();
  setInterval(tick, 1000);
  setInterval(poll, 10000);
})();
