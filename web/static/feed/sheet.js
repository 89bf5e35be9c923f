// Bottom sheets, loaded on first use: the product sheet (images, SKU picker by attributes, price, stock, buy), the
// share sheet (signed link, QR code, copy) and the comments sheet. Text from the API goes in through textContent only.
(function () {
  "use strict";
  const t = xl.t;
  const en = document.documentElement.lang === "en";
  const yuan = xl.yuan;

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function open(title, onClose) {
    const back = el("div", "sheet-backdrop");
    const sheet = el("section", "sheet");
    sheet.setAttribute("role", "dialog");
    sheet.setAttribute("aria-modal", "true");
    sheet.setAttribute("aria-label", title);
    const close = el("button", "sheet-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", t("关闭", "Close"));
    const body = el("div", "sheet-body");
    sheet.append(close, body);
    back.appendChild(sheet);
    const done = () => { back.remove(); document.removeEventListener("keydown", onKey); if (onClose) onClose(); };
    const onKey = (e) => { if (e.key === "Escape") done(); };
    close.addEventListener("click", done);
    back.addEventListener("click", (e) => { if (e.target === back) done(); });
    document.addEventListener("keydown", onKey);
    (document.getElementById("sheet-root") || document.body).appendChild(back);
    close.focus();
    return body;
  }

  // -- product ----------------------------------------------------------------------------------------------

  async function product(opts) {
    const body = open(t("商品", "Product"), opts.onClose);
    body.closest(".sheet").classList.add("sheet-product");
    body.appendChild(el("p", "sheet-loading", t("加载中…", "Loading…")));
    const r = await xl.api("GET", "/api/v1/products/" + opts.productId);
    body.textContent = "";
    if (!r.ok) { body.appendChild(el("p", "sheet-error", (r.data && r.data.title) || t("商品不可用", "Product unavailable"))); return; }
    const p = r.data;
    const skus = p.skus.filter((s) => s.is_active);

    const gallery = el("div", "sheet-gallery");
    p.images.forEach((image, i) => {
      const img = el("img");
      img.src = image.urls["540"] || Object.values(image.urls)[0];
      img.alt = t("商品图 ", "Product image ") + (i + 1);
      gallery.appendChild(img);
    });
    const name = el("h2", "sheet-title", p.name);
    name.dataset.productName = "";
    const brand = el("p", "sheet-brand", p.brand_name);
    const price = el("p", "sheet-price");
    const now = el("strong", "", "");
    now.dataset.price = "";
    const list = el("s", "sheet-list-price", "");
    price.append(now, " ", list);
    const stock = el("p", "sheet-stock", "");
    stock.dataset.stock = "";

    // One radio group per attribute; the chosen values pick the SKU.
    const names = [];
    skus.forEach((s) => Object.keys(s.attributes).forEach((k) => { if (!names.includes(k)) names.push(k); }));
    const chosen = {};
    const preset = skus.find((s) => s.id === opts.skuId) || skus.find((s) => s.stock > 0) || skus[0];
    if (preset) Object.assign(chosen, preset.attributes);
    const picker = el("div", "sheet-picker");
    names.forEach((attr) => {
      const group = el("fieldset", "sheet-attr");
      group.appendChild(el("legend", "", attr));
      const values = [...new Set(skus.map((s) => s.attributes[attr]).filter(Boolean))];
      values.forEach((value) => {
        const label = el("label", "chip");
        const input = el("input");
        input.type = "radio"; input.name = "attr-" + names.indexOf(attr); input.value = value;
        input.checked = chosen[attr] === value;
        input.addEventListener("change", () => { chosen[attr] = value; update(); });
        label.append(input, el("span", "", value));
        group.appendChild(label);
      });
      picker.appendChild(group);
    });
    const qtyLabel = el("label", "sheet-qty", t("数量 ", "Quantity "));
    const qty = el("input");
    qty.type = "number"; qty.min = "1"; qty.max = "99"; qty.value = "1"; qty.name = "quantity";
    qtyLabel.appendChild(qty);
    const buy = el("button", "btn-buy", t("立即购买", "Buy now"));
    buy.type = "button";
    const desc = el("p", "sheet-desc", p.description);

    function current() { return skus.find((s) => names.every((k) => s.attributes[k] === chosen[k])) || null; }

    function update() {
      const sku = current();
      now.textContent = sku ? yuan(sku.price_fen) : (p.price_min_fen === null ? "" : yuan(p.price_min_fen));
      list.textContent = sku && sku.list_price_fen && sku.list_price_fen > sku.price_fen ? yuan(sku.list_price_fen) : "";
      stock.textContent = !sku ? t("请选择规格", "Choose an option") : sku.stock > 0 ? t("库存 ", "In stock: ") + sku.stock : t("已售罄", "Sold out");
      buy.disabled = !sku || sku.stock <= 0 || p.status !== "active";
      qty.max = String(Math.min(99, sku ? Math.max(1, sku.stock) : 99));
    }
    update();

    buy.addEventListener("click", () => {
      const sku = current();
      if (!sku) return;
      const q = new URLSearchParams({product: String(p.id), sku: String(sku.id), qty: String(Math.max(1, Number(qty.value) || 1))});
      if (opts.videoId) q.set("video", String(opts.videoId));
      if (opts.click) q.set("click", opts.click);
      if (en) q.set("lang", "en");
      location.href = "/checkout?" + q.toString();
    });
    // Ask the brand (客服): opens the buyer's chat with it, the product sent as a card.
    const ask = el("button", "btn-quiet sheet-chat", t("联系客服", "Ask the brand"));
    ask.type = "button";
    ask.dataset.contactBrand = String(p.brand_id);
    ask.addEventListener("click", async () => {
      ask.disabled = true;
      const r = await xl.api("POST", "/api/v1/conversations", {brand_id: p.brand_id, product_id: p.id});
      if (r.status === 401) { xl.toLogin(); return; }
      if (r.ok) { location.href = "/chat/" + r.data.id + (en ? "?lang=en" : ""); return; }
      ask.disabled = false;
      stock.textContent = (r.data && r.data.title) || t("请稍后再试", "Please try again");
    });
    body.append(gallery, name, brand, price, stock, picker, qtyLabel, buy, ask, desc);
    flashCard(p, opts).then((card) => { if (card) price.after(card); });
    if (p.status === "active") bargainCard(p).then((card) => { if (card) price.after(card); });
    groupCard(p, opts).then((card) => { if (card) buy.after(card); });
    if (opts.coupons !== false) couponStrip(p).then((strip) => { if (strip) price.after(strip); });
  }

  // The coupons the product offers (a video card's sheet): claim one into the wallet; checkout offers it.
  async function couponStrip(p) {
    const r = await xl.api("GET", "/api/v1/products/" + p.id + "/coupons");
    if (!r.ok || !r.data.length) return null;
    const strip = el("section", "coupon-strip");
    strip.setAttribute("aria-label", t("优惠券", "Coupons"));
    const message = el("p", "flash-message", "");
    r.data.forEach((c) => {
      const chip = el("div", "coupon-chip");
      chip.dataset.coupon = String(c.id);
      const full = c.held >= c.per_user_limit;
      const kind = c.funded_by === "platform" ? t("平台券", "Platform") : t("品牌券", "Brand");
      const claim = el("button", "btn-quiet", full ? t("已领取", "Claimed") : t("领取", "Claim"));
      claim.type = "button";
      claim.disabled = full;
      claim.addEventListener("click", async () => {
        claim.disabled = true;
        const a = await xl.api("POST", "/api/v1/coupons/" + c.id + "/claim");
        if (a.status === 401) { xl.toLogin(); return; }
        if (a.ok) { claim.textContent = t("已领取", "Claimed"); message.textContent = ""; return; }
        claim.disabled = false;
        message.textContent = (a.data && a.data.title) || t("请稍后再试", "Please try again");
      });
      chip.append(el("span", "", kind + " · " + c.label), claim);
      strip.appendChild(chip);
    });
    strip.appendChild(message);
    return strip;
  }

  // Marketing cards' scripts beside this one, loaded on first need: flash.js (window.xlFlash), bargain.js (xlBargain).
  const libBase = (document.currentScript && document.currentScript.src || "").replace(/sheet\.js(\?.*)?$/, "");
  const libs = {};
  function loadLib(file, name) {
    if (window[name]) return Promise.resolve(window[name]);
    if (!libs[file]) {
      libs[file] = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = libBase + file; s.onload = () => resolve(window[name]); s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return libs[file];
  }

  // A flash sale (秒杀) on the product: the same countdown card as the feed's (flash.js).
  async function flashCard(p, opts) {
    const r = await xl.api("GET", "/api/v1/products/" + p.id + "/flash-sales");
    if (!r.ok || !r.data.length) return null;
    const lib = await loadLib("flash.js", "xlFlash");
    return lib.card(r.data[0], {videoId: opts.videoId, click: opts.click});
  }

  // A 砍价 offer on the product: its disclosed terms and the button that starts the buyer's bargain (bargain.js).
  async function bargainCard(p) {
    const r = await xl.api("GET", "/api/v1/products/" + p.id + "/bargains");
    if (!r.ok || !r.data.length) return null;
    const lib = await loadLib("bargain.js", "xlBargain");
    return lib.card(r.data[0]);
  }

  // 拼团 on the product: open a group at the group price (then the ordinary checkout), or join one still waiting.
  async function groupCard(p, opts) {
    const r = await xl.api("GET", "/api/v1/products/" + p.id + "/group-buys");
    const offer = r.ok && r.data.find((o) => o.phase === "live");
    if (!offer) return null;
    const box = el("section", "group-sheet");
    box.dataset.groupBuy = String(offer.id);
    box.setAttribute("aria-label", t("拼团", "Group buy"));
    const head = el("p", "group-head");
    head.append(el("span", "flash-tag", t("拼团", "Group buy")), " ", el("strong", "", yuan(offer.price_fen)), " ",
                el("span", "", t(`${offer.group_size} 人团`, `groups of ${offer.group_size}`)));
    const start = el("button", "btn-group", t("拼团 ", "Group buy ") + yuan(offer.price_fen));
    start.type = "button";
    const message = el("p", "flash-message", "");
    message.setAttribute("role", "status");
    box.append(head, start);
    offer.open_groups.forEach((g) => {
      const link = el("a", "group-join", t(`还差 ${g.size - g.members} 人，去参团`, `${g.size - g.members} more needed: join`));
      link.href = "/group/" + g.id + (en ? "?lang=en" : "");
      box.appendChild(link);
    });
    box.appendChild(message);
    start.addEventListener("click", async () => {
      start.disabled = true;
      const a = await xl.api("POST", "/api/v1/group-buys/" + offer.id + "/groups");
      if (a.status === 401) { xl.toLogin(); return; }
      if (!a.ok) { start.disabled = false; message.textContent = (a.data && a.data.title) || t("请稍后再试", "Please try again"); return; }
      const q = new URLSearchParams({product: String(p.id), sku: String(offer.sku_id), qty: "1"});
      if (opts.videoId) q.set("video", String(opts.videoId));
      if (opts.click) q.set("click", opts.click);
      if (en) q.set("lang", "en");
      location.href = "/checkout?" + q.toString();
    });
    return box;
  }

  // -- share ------------------------------------------------------------------------------------------------

  async function share(opts) {
    const body = open(t("分享", "Share"), opts.onClose);
    body.closest(".sheet").classList.add("sheet-share");
    body.appendChild(el("h2", "sheet-title", t("分享给好友", "Share with friends")));
    const status = el("p", "sheet-loading", t("生成链接…", "Creating link…"));
    body.appendChild(status);
    const r = await xl.api("POST", "/api/v1/share-links", {target: opts.target, target_id: opts.targetId});
    if (!r.ok) { status.textContent = (r.data && r.data.title) || t("无法生成链接", "Could not create a link"); return; }
    status.remove();
    if (opts.target === "video") {
      xl.api("POST", "/api/v1/engagement/events", {events: [{kind: "share", video_id: opts.targetId}]});
    }
    const qr = el("img", "share-qr");
    qr.src = "/share/qr.svg?u=" + encodeURIComponent(r.data.url);
    qr.alt = t("分享链接二维码", "QR code of the share link");
    const hint = el("p", "share-hint", t("保存二维码发到朋友圈，好友下单你可获得佣金", "Post the QR code; you earn commission when friends buy"));
    const label = el("label", "share-link-label", t("分享链接", "Share link"));
    const link = el("input", "share-link");
    link.readOnly = true; link.value = r.data.url; link.dataset.shareUrl = "";
    label.appendChild(link);
    const copy = el("button", "btn-copy", t("复制链接", "Copy link"));
    copy.type = "button";
    const copied = el("p", "share-copied", "");
    copied.setAttribute("role", "status");
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(link.value); }
      catch (e) { link.select(); document.execCommand("copy"); }
      copied.textContent = t("已复制", "Copied");
    });
    body.append(qr, hint, label, copy, copied);
  }

  // -- comments ---------------------------------------------------------------------------------------------

  async function comments(opts) {
    const body = open(t("评论", "Comments"), opts.onClose);
    body.closest(".sheet").classList.add("sheet-comments");
    let count = opts.count;
    let cursor = null;
    const setCount = (n) => { count = Math.max(0, n); heading.textContent = t(`评论 ${count}`, `Comments ${count}`); opts.onCount(count); };
    const heading = el("h2", "sheet-title", "");
    const list = el("ul", "comment-list");
    const empty = el("p", "comment-empty", t("还没有评论，来说第一句", "No comments yet. Say something first"));
    empty.hidden = true;
    const more = el("button", "btn-more", t("更多评论", "More comments"));
    more.type = "button";
    more.hidden = true;
    const form = el("form", "comment-form");
    const label = el("label", "sr-only", t("写评论", "Write a comment"));
    label.htmlFor = "comment-body";
    const input = el("input");
    Object.assign(input, {id: "comment-body", name: "body", maxLength: 300, required: true, autocomplete: "off",
                          placeholder: t("说点什么…", "Add a comment…")});
    const send = el("button", "btn-send", t("发送", "Send"));
    send.type = "submit";
    const error = el("p", "sheet-error", "");
    error.setAttribute("role", "alert");
    form.append(label, input, send);
    body.append(heading, list, empty, more, error, form);
    setCount(count);

    function item(c) {
      const li = el("li", "comment");
      li.dataset.commentId = String(c.id);
      const when = el("time", "comment-time", new Date(c.created_at).toLocaleString(en ? "en" : "zh-CN"));
      when.dateTime = c.created_at;
      li.append(el("span", "comment-author", c.author_name), when, el("p", "comment-body", c.body));
      if (!c.removable) {
        const report = el("button", "comment-report", t("举报", "Report"));
        report.type = "button";
        report.dataset.reportSubject = "comment";
        report.dataset.reportId = String(c.id);
        report.setAttribute("aria-label", t("举报这条评论", "Report this comment"));
        li.appendChild(report);
      }
      if (c.removable) {
        const remove = el("button", "comment-remove", t("删除", "Remove"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("删除这条评论", "Remove this comment"));
        remove.addEventListener("click", async () => {
          const r = await xl.api("DELETE", "/api/v1/comments/" + c.id);
          if (!r.ok) { error.textContent = (r.data && r.data.title) || t("删除失败", "Could not remove it"); return; }
          li.remove();
          setCount(count - 1);
          empty.hidden = list.children.length > 0;
        });
        li.appendChild(remove);
      }
      return li;
    }

    async function load() {
      more.hidden = true;
      const q = new URLSearchParams({limit: "20"});
      if (cursor) q.set("cursor", cursor);
      const r = await xl.api("GET", `/api/v1/videos/${opts.videoId}/comments?${q}`);
      if (!r.ok) { error.textContent = (r.data && r.data.title) || t("评论加载失败", "Could not load comments"); return; }
      r.data.items.forEach((c) => list.appendChild(item(c)));
      cursor = r.data.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    }

    more.addEventListener("click", load);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!opts.signedIn) { opts.toLogin(); return; }  // reading needs no account, writing does
      const text = input.value.trim();
      if (!text) return;
      send.disabled = true;
      error.textContent = "";
      const r = await xl.api("POST", `/api/v1/videos/${opts.videoId}/comments`, {body: text}, {idempotent: true});
      send.disabled = false;
      if (!r.ok) {
        const field = r.data && r.data.errors && r.data.errors[0];
        error.textContent = field ? field.message : (r.data && r.data.title) || t("发送失败，请重试", "Could not send; please retry");
        return;
      }
      input.value = "";
      list.prepend(item(r.data));
      empty.hidden = true;
      setCount(count + 1);
    });
    await load();
  }

  window.xlSheet = {product, share, comments};
})();
