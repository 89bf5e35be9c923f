// Link products by scrubbing: the player (HLS through hls.js, native HLS, or the faststart MP4), product cards whose
// time windows take the playhead ("Set start" / "Set end"), a picker of what this video may link, and the
// suggested products and hashtags to accept or dismiss. Saving PUTs every card; the API validates the windows.
(function () {
  "use strict";
  const root = document.getElementById("studio-video");
  const player = root && root.querySelector("[data-player]");
  if (!player) return;
  const t = (zh, en) => xl.t(zh, en);
  const el = xlStudio.el;
  const id = Number(root.dataset.videoId);
  const api = `/api/v1/videos/${id}`;
  const section = root.querySelector("[data-links]");
  const list = root.querySelector("[data-cards]");
  const saved = root.querySelector("[data-saved]");
  let cards = [];  // {product, sku_id, start_seconds, end_seconds}
  let hashtags = JSON.parse(root.dataset.hashtags || "[]");

  // -- the player
  xl.attachPlayer(player);
  const now = root.querySelector("[data-now]");
  player.addEventListener("timeupdate", () => { now.textContent = player.currentTime.toFixed(1); });
  const playhead = () => Math.round(player.currentTime * 10) / 10;

  // -- the cards
  const secondsOf = (input) => (input.value.trim() === "" ? null : Number(input.value));

  function windowField(card, key, label, setLabel) {
    const name = card.product.name;
    const input = el("input", {type: "number", min: "0", step: "0.1", inputmode: "decimal", name: key, "data-field": key});
    if (card[key] != null) input.value = String(card[key]);
    input.addEventListener("input", () => { card[key] = secondsOf(input); });
    const field = el("label", {}, label);
    field.appendChild(input);
    const set = el("button", {type: "button", class: "st-btn st-btn-quiet st-btn-small", "data-set": key,
      "aria-label": `${setLabel}：${name}`}, setLabel);
    set.addEventListener("click", () => { card[key] = playhead(); input.value = String(card[key]); saved.textContent = ""; });
    return [field, set];
  }

  function render() {
    list.textContent = "";
    root.querySelector("[data-no-cards]").hidden = cards.length > 0;
    cards.forEach((card, i) => {
      const li = el("li", {class: "st-linkcard", "data-card": String(card.product.id)});
      const head = el("div", {class: "st-linkcard-head"});
      head.appendChild(el("span", {class: "st-grow"}, `${i + 1}. ${card.product.name}`));
      const remove = el("button", {type: "button", class: "st-btn st-btn-quiet st-btn-small",
        "aria-label": `${t("移除", "Remove")}：${card.product.name}`}, t("移除", "Remove"));
      remove.addEventListener("click", () => { cards.splice(i, 1); render(); refreshPicker(); });
      head.appendChild(remove);
      const win = el("div", {class: "st-window"});
      win.append(...windowField(card, "start_seconds", t("开始（秒）", "Start (s)"), t("设为开始", "Set start")),
        ...windowField(card, "end_seconds", t("结束（秒）", "End (s)"), t("设为结束", "Set end")));
      li.append(head, win);
      list.appendChild(li);
    });
  }

  const fromLink = (lk) => ({product: lk.product, sku_id: lk.sku ? lk.sku.id : null,
    start_seconds: lk.start_seconds, end_seconds: lk.end_seconds});

  async function loadCards() {
    const r = await xl.api("GET", `${api}/products`);
    if (r.ok) { cards = r.data.map(fromLink); render(); }
  }

  root.querySelector("[data-save]").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    saved.textContent = "";
    const body = {links: cards.map((c) => ({product_id: c.product.id, sku_id: c.sku_id,
      start_seconds: c.start_seconds, end_seconds: c.end_seconds}))};
    const r = await xl.api("PUT", `${api}/products`, body);
    button.disabled = false;
    xl.showErrors(section, r.ok ? {title: ""} : r.data);
    if (r.ok) { cards = r.data.map(fromLink); render(); saved.textContent = t("已保存", "Saved"); section.dataset.saved = "true"; }
  });

  // -- the picker
  const picker = root.querySelector("[data-picker]");
  const query = root.querySelector("[data-picker-q]");
  let found = [];

  function productRow(p, actions) {
    const li = el("li", {"data-product": String(p.id)});
    if (p.image_url) li.appendChild(el("img", {class: "st-product-img", src: p.image_url, alt: ""}));
    const text = el("span", {class: "st-grow"}, p.name);
    text.appendChild(el("span", {class: "st-muted"}, ` · ${p.brand_name}`));
    li.appendChild(text);
    actions.forEach((a) => li.appendChild(a));
    return li;
  }

  function addCard(product) {
    cards.push({product, sku_id: null, start_seconds: playhead() || null, end_seconds: null});
    render();
    refreshPicker();
    saved.textContent = "";
  }

  function refreshPicker() {
    picker.textContent = "";
    const linked = new Set(cards.map((c) => c.product.id));
    found.forEach((p) => {
      const add = el("button", {type: "button", class: "st-btn st-btn-small", "aria-label": `${t("添加", "Add")}：${p.name}`},
        linked.has(p.id) ? t("已添加", "Added") : t("添加", "Add"));
      add.disabled = linked.has(p.id);
      add.addEventListener("click", () => addCard(p));
      picker.appendChild(productRow(p, [add]));
    });
    if (!found.length) picker.appendChild(el("li", {class: "st-muted"}, t("没有可关联的商品", "No products you may link")));
  }

  let searching = 0;
  async function search() {
    const mine = ++searching;
    const r = await xl.api("GET", `${api}/linkable_products?q=${encodeURIComponent(query.value.trim())}`);
    if (mine !== searching || !r.ok) return;  // a newer search is under way
    found = r.data;
    refreshPicker();
  }
  let timer = null;
  query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });

  // -- suggestions
  const suggestedProducts = root.querySelector("[data-suggested-products]");
  const suggestedTags = root.querySelector("[data-suggested-hashtags]");

  function button(text, label, onClick, quiet) {
    const b = el("button", {type: "button", class: `st-btn st-btn-small${quiet ? " st-btn-quiet" : ""}`, "aria-label": label}, text);
    b.addEventListener("click", async () => { b.disabled = true; await onClick(); });
    return b;
  }

  async function loadSuggestions() {
    const r = await xl.api("GET", `${api}/suggestions?limit=5`);
    if (!r.ok) return;
    suggestedProducts.textContent = "";
    suggestedTags.textContent = "";
    r.data.products.forEach(({product}) => {
      const row = productRow(product, [
        button(t("采纳", "Accept"), `${t("采纳", "Accept")}：${product.name}`, async () => {
          const a = await xl.api("POST", `${api}/suggestions/products/${product.id}/accept`, {});
          if (a.ok) { cards = cards.filter((c) => c.product.id !== product.id).concat([fromLink(a.data)]); render(); refreshPicker(); row.remove(); }
        }),
        button(t("忽略", "Dismiss"), `${t("忽略", "Dismiss")}：${product.name}`, async () => {
          if ((await xl.api("POST", `${api}/suggestions/products/${product.id}/dismiss`)).ok) row.remove();
        }, true),
      ]);
      suggestedProducts.appendChild(row);
    });
    r.data.hashtags.forEach(({tag}) => {
      const chip = el("span", {class: "st-chip", "data-hashtag": tag}, `#${tag}`);
      chip.append(
        button("＋", `${t("添加话题", "Add hashtag")} #${tag}`, async () => {
          // Accepting is recorded; the hashtag itself joins the video through an edit.
          await xl.api("POST", `${api}/suggestions/hashtags/accept`, {hashtag: tag});
          const p = await xl.api("PATCH", api, {hashtags: hashtags.concat([tag])});
          if (p.ok) { hashtags = p.data.hashtags; chip.remove(); }
        }),
        button("×", `${t("忽略话题", "Dismiss hashtag")} #${tag}`, async () => {
          if ((await xl.api("POST", `${api}/suggestions/hashtags/dismiss`, {hashtag: tag})).ok) chip.remove();
        }, true),
      );
      suggestedTags.appendChild(chip);
    });
    root.querySelector("[data-no-suggestions]").hidden = r.data.products.length + r.data.hashtags.length > 0;
  }

  loadCards().then(search);
  loadSuggestions();
})();
