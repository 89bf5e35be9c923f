// The watch-and-buy feed: one <video> per slide, scroll-snap for touch and wheel, arrow keys; only the current
// slide plays. HLS through native playback or hls.js (loaded on first need), the faststart MP4 when HLS fails.
// Product cards follow their time windows; the product and share sheets load on first tap (sheet.js).
// Every text from the API goes in through textContent.
(function () {
  "use strict";
  const feed = document.getElementById("feed");
  if (!feed) return;
  const t = xl.t;
  const state = {muted: true, current: null, cursor: feed.dataset.nextCursor || null, more: feed.dataset.more === "true",
    loading: false, seen: new Set(), products: new Map(), hlsLib: null};
  const signedIn = () => feed.dataset.user !== "";
  const NATIVE_HLS = document.createElement("video").canPlayType("application/vnd.apple.mpegurl") !== "";
  const staticUrl = (p) => feed.dataset.static + p;

  const {toLogin, yuan} = xl;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function hlsLib() {
    if (!state.hlsLib) state.hlsLib = loadScript(staticUrl("vendor/hls.min.js")).then(() => window.Hls);
    return state.hlsLib;
  }

  // -- playback --------------------------------------------------------------------------------------------

  function useMp4(video) {
    if (video._hls) { video._hls.destroy(); video._hls = null; }
    if (video.dataset.mp4 && video.getAttribute("src") !== video.dataset.mp4) {
      video.src = video.dataset.mp4;
      video.dataset.mode = "mp4";
      if (video.closest(".slide") === state.current) play(video);
    }
  }

  async function attach(video) {
    if (video.dataset.mode || !video.dataset.hls) return;
    video.dataset.mode = "pending";
    if (NATIVE_HLS) {
      if (!video._fallback) {
        video._fallback = () => { if (video.dataset.mode === "native-hls") useMp4(video); };
        video.addEventListener("error", video._fallback);
      }
      video.src = video.dataset.hls;
      video.dataset.mode = "native-hls";
      return;
    }
    let Hls = null;
    try { Hls = await hlsLib(); } catch (e) { Hls = null; }
    if (!Hls || !Hls.isSupported()) { useMp4(video); return; }
    const hls = new Hls({maxBufferLength: 12, capLevelToPlayerSize: true});
    video._hls = hls;
    hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) useMp4(video); });
    hls.loadSource(video.dataset.hls);
    hls.attachMedia(video);
    video.dataset.mode = "hls.js";
  }

  function detach(video) {
    if (video._hls) { video._hls.destroy(); video._hls = null; }
    if (video.dataset.mode) { video.removeAttribute("src"); video.load(); delete video.dataset.mode; }
  }

  function play(video) {
    video.muted = state.muted;
    const p = video.play();
    if (p) p.catch(() => { if (!video.muted) { state.muted = true; video.muted = true; video.play().catch(() => {}); } syncMute(); });
  }

  function syncMute() {
    feed.querySelectorAll("[data-unmute]").forEach((b) => { b.hidden = !state.muted; });
  }

  // -- slides ----------------------------------------------------------------------------------------------

  const slides = () => Array.from(feed.querySelectorAll(".slide"));

  function buildSlide(item) {
    const node = document.getElementById("slide-template").content.firstElementChild.cloneNode(true);
    node.dataset.videoId = item.id;
    node.dataset.creatorId = item.creator.id;
    node.dataset.liked = String(item.liked);
    const video = node.querySelector("video");
    if (item.playback) {
      video.poster = item.playback.poster;
      video.dataset.hls = item.playback.hls;
      video.dataset.mp4 = item.playback.mp4;
      video.dataset.storyboard = item.playback.storyboard;
    }
    const creator = node.querySelector("[data-creator]");
    creator.textContent = "@" + item.creator.name;
    creator.href = "/artists/" + item.creator.id + (document.documentElement.lang === "en" ? "?lang=en" : "");
    node.querySelector("[data-title]").textContent = item.title;
    node.querySelector("[data-desc]").textContent = item.description;
    const tags = node.querySelector("[data-tags]");
    item.hashtags.forEach((tag) => {
      const a = document.createElement("a");
      a.href = "/tag/" + encodeURIComponent(tag);
      a.textContent = "#" + tag;
      tags.append(a, " ");
    });
    node.querySelector("[data-like]").setAttribute("aria-pressed", String(item.liked));
    node.querySelector("[data-likes]").textContent = String(item.likes);
    node.querySelector("[data-comment-count]").textContent = String(item.comments);
    return node;
  }

  // Follow buttons show whom the signed-in viewer follows; their own videos have none.
  function markFollows(nodes) {
    if (!state.following) return;
    nodes.forEach((slide) => {
      const button = slide.querySelector("[data-follow]");
      const creator = Number(slide.dataset.creatorId);
      button.hidden = creator === Number(feed.dataset.user);
      const on = state.following.has(creator);
      button.setAttribute("aria-pressed", String(on));
      button.querySelector("span").textContent = on ? t("已关注", "Following") : t("关注", "Follow");
    });
  }

  function append(items) {
    const empty = feed.querySelector("[data-empty]");
    items.forEach((item) => {
      if (state.seen.has(item.id) || !item.playback) return;
      state.seen.add(item.id);
      if (empty) empty.remove();
      const node = buildSlide(item);
      feed.appendChild(node);
      observer.observe(node);
      markFollows([node]);
    });
    syncMute();
  }

  async function loadMore() {
    if (state.loading || !state.more) return;
    state.loading = true;
    const q = new URLSearchParams({limit: "10", device_id: feed.dataset.device});
    if (state.cursor) q.set("cursor", state.cursor);
    const r = await xl.api("GET", "/api/v1/feed?" + q.toString());
    state.loading = false;
    if (!r.ok) return;
    state.cursor = r.data.next_cursor;
    state.more = Boolean(state.cursor);
    append(r.data.items);
  }

  // -- views and watch time ----------------------------------------------------------------------------------

  function sendEvents(events, keepalive) {
    if (!events.length) return;
    const body = JSON.stringify({device_id: feed.dataset.device, events});
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    fetch("/api/v1/engagement/events", {method: "POST", body, keepalive: Boolean(keepalive), credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}}).catch(() => {});
  }

  // Watch time is media time that really played, not time on the slide: a video still loading, paused or
  // swiped past at once earns nothing (the server counts a view only after a real watch). A loop or a seek
  // moves currentTime by more than playback could, and is not counted. The slide shows it as data-watch-ms.
  const MAX_STEP = 1.5;

  function trackWatch(slide, video) {
    const last = video._lastTime;
    video._lastTime = video.currentTime;
    if (slide !== state.current || video.paused || video.seeking) return;
    const step = video.currentTime - last;
    if (step > 0 && step < MAX_STEP) {
      slide._watchMs = (slide._watchMs || 0) + step * 1000;
      slide.dataset.watchMs = String(Math.round(slide._watchMs));
    }
  }

  function endView(slide, keepalive) {
    if (!slide || !slide._viewing) return;
    trackWatch(slide, slide.querySelector("video"));  // what played since the last timeupdate
    slide._viewing = false;
    const watch = Math.round(slide._watchMs || 0);
    slide._watchMs = 0;
    sendEvents([{kind: "view", video_id: Number(slide.dataset.videoId), watch_ms: watch}], keepalive);
  }

  function activate(slide) {
    if (state.current === slide) return;
    const previous = state.current;
    if (previous) { endView(previous); previous.querySelector("video").pause(); }
    state.current = slide;
    slide._viewing = true;
    slide._watchMs = 0;
    delete slide.dataset.watchMs;
    const played = slide.querySelector("video");
    played._lastTime = played.currentTime;
    const list = slides();
    const i = list.indexOf(slide);
    list.forEach((s, j) => {
      const v = s.querySelector("video");
      if (Math.abs(j - i) > 1) detach(v);
    });
    const video = slide.querySelector("video");
    attach(video).then(() => { if (state.current === slide) play(video); });
    loadProducts(slide);
    const next = list[i + 1];
    if (next) {
      const nv = next.querySelector("video");
      nv.preload = "auto";
      attach(nv);  // preloads the next video's first segments
      loadProducts(next);
    }
    if (i >= list.length - 3) loadMore();
  }

  const observer = new IntersectionObserver((entries) => {
    entries.forEach((e) => { if (e.isIntersecting && e.intersectionRatio >= 0.6) activate(e.target); });
  }, {root: feed, threshold: [0.6]});

  function go(delta) {
    const list = slides();
    const i = Math.max(0, list.indexOf(state.current));
    const target = list[Math.min(list.length - 1, Math.max(0, i + delta))];
    if (target) target.scrollIntoView({behavior: "smooth", block: "start"});
  }

  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("input, textarea, select, .sheet")) return;
    if (e.key === "ArrowDown" || e.key === "PageDown") { e.preventDefault(); go(1); }
    if (e.key === "ArrowUp" || e.key === "PageUp") { e.preventDefault(); go(-1); }
  });

  // -- product cards -----------------------------------------------------------------------------------------

  function inWindow(link, time) {
    return (link.start_seconds === null || time >= link.start_seconds) && (link.end_seconds === null || time < link.end_seconds);
  }

  async function loadProducts(slide) {
    const id = slide.dataset.videoId;
    if (state.products.has(id)) return;
    state.products.set(id, []);
    const r = await xl.api("GET", "/api/v1/videos/" + id + "/products");
    if (!r.ok) return;
    const box = slide.querySelector("[data-cards]");
    const links = r.data.filter((l) => l.available);
    state.products.set(id, links);
    links.forEach((link) => {
      const card = document.createElement("button");
      card.type = "button";
      card.className = "pcard";
      card.hidden = true;
      card.dataset.productId = link.product.id;
      card.setAttribute("aria-label", t("查看商品：", "View product: ") + link.product.name);
      if (link.product.image_url) {
        const img = document.createElement("img");
        img.src = link.product.image_url; img.alt = ""; img.loading = "lazy";
        card.appendChild(img);
      }
      const text = document.createElement("span");
      const name = document.createElement("span"); name.className = "pcard-name"; name.textContent = link.product.name;
      const price = document.createElement("span"); price.className = "pcard-price";
      price.textContent = link.product.price_min_fen === null ? "" : yuan(link.product.price_min_fen);
      text.append(name, price);
      card.appendChild(text);
      card.addEventListener("click", () => {
        sendEvents([{kind: "product_click", video_id: Number(id), product_id: link.product.id}]);
        openSheet("product", {productId: link.product.id, videoId: Number(id), skuId: link.sku ? link.sku.id : null});
      });
      card._link = link;
      box.appendChild(card);
    });
    showCards(slide);
    if (links.length) { flashCard(slide, box); campaignTags(slide, box); }
  }

  // 拼团 and 砍价 on a linked product: a tag on its card (the sheet it opens has the offer itself). Live offers only.
  async function campaignTags(slide, box) {
    const id = slide.dataset.videoId;
    const [groups, cuts] = await Promise.all([
      xl.api("GET", "/api/v1/videos/" + id + "/group-buys"), xl.api("GET", "/api/v1/videos/" + id + "/bargains"),
    ]);
    const tags = [];
    if (groups.ok) groups.data.filter((o) => o.phase === "live").forEach((o) =>
      tags.push([o.product_id, "group", t(o.group_size + " 人团 ", o.group_size + "-person group ") + yuan(o.price_fen)]));
    if (cuts.ok) cuts.data.filter((o) => o.phase === "live").forEach((o) =>
      tags.push([o.product_id, "bargain", t("砍价低至 ", "Bargain down to ") + yuan(o.floor_fen)]));
    tags.forEach(([productId, kind, text]) => {
      box.querySelectorAll('.pcard[data-product-id="' + productId + '"] > span').forEach((span) => {
        if (span.querySelector('[data-pcard-tag="' + kind + '"]')) return;  // one tag of a kind per card
        const tag = document.createElement("span");
        tag.className = "pcard-tag";
        tag.dataset.pcardTag = kind;
        tag.textContent = text;
        span.appendChild(tag);
      });
    });
  }

  // A 秒杀 on a linked product: its countdown card above the product cards, for the whole video (flash.js).
  let flashLib = null;
  async function flashCard(slide, box) {
    const id = Number(slide.dataset.videoId);
    const r = await xl.api("GET", "/api/v1/videos/" + id + "/flash-sales");
    if (!r.ok || !r.data.length) return;
    if (!flashLib) flashLib = loadScript(staticUrl("feed/flash.js")).then(() => window.xlFlash);
    const lib = await flashLib;
    box.prepend(lib.card(r.data[0], {videoId: id, click: feed.dataset.click}));
  }

  function showCards(slide) {
    const time = slide.querySelector("video").currentTime;
    slide.querySelectorAll(".pcard").forEach((card) => { card.hidden = !inWindow(card._link, time); });
  }

  // -- scrubbing with storyboard thumbnails -----------------------------------------------------------------

  function storyboard(video) { return xl.storyboard(video.dataset.storyboard); }

  async function preview(slide, time) {
    const video = slide.querySelector("video");
    const thumb = slide.querySelector("[data-thumb]");
    const cues = await storyboard(video);
    const cue = cues.find((c) => time >= c.start && time < c.end) || cues[cues.length - 1];
    if (!cue) return;
    thumb.hidden = false;
    thumb.style.width = cue.w + "px";
    thumb.style.height = cue.h + "px";
    thumb.style.backgroundImage = `url("${cue.url}")`;
    thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    const range = slide.querySelector("[data-range]");
    const ratio = Number(range.value) / 1000;
    thumb.style.left = `calc(${(ratio * 100).toFixed(1)}% - ${cue.w / 2}px)`;
  }

  // -- events on slides (delegated) ---------------------------------------------------------------------------

  feed.addEventListener("timeupdate", (e) => {
    const slide = e.target.closest(".slide");
    if (!slide) return;
    showCards(slide);
    const range = slide.querySelector("[data-range]");
    const video = e.target;
    trackWatch(slide, video);
    if (!range._dragging && video.duration) range.value = String(Math.round((video.currentTime / video.duration) * 1000));
  }, true);

  feed.addEventListener("seeked", (e) => { e.target._lastTime = e.target.currentTime; }, true);

  feed.addEventListener("input", (e) => {
    if (!e.target.matches("[data-range]")) return;
    const slide = e.target.closest(".slide");
    const video = slide.querySelector("video");
    e.target._dragging = true;
    if (video.duration) preview(slide, (Number(e.target.value) / 1000) * video.duration);
  });

  feed.addEventListener("change", (e) => {
    if (!e.target.matches("[data-range]")) return;
    const slide = e.target.closest(".slide");
    const video = slide.querySelector("video");
    e.target._dragging = false;
    slide.querySelector("[data-thumb]").hidden = true;
    if (video.duration) video.currentTime = (Number(e.target.value) / 1000) * video.duration;
  });

  feed.addEventListener("click", async (e) => {
    const slide = e.target.closest(".slide");
    if (!slide) return;
    const video = slide.querySelector("video");
    if (e.target.closest("[data-unmute]")) {
      state.muted = false; video.muted = false; syncMute(); play(video); return;
    }
    if (e.target === video) {
      if (state.muted) { state.muted = false; video.muted = false; syncMute(); play(video); }
      else if (video.paused) play(video); else video.pause();
      return;
    }
    const like = e.target.closest("[data-like]");
    if (like) {
      if (!signedIn()) return toLogin();
      const on = like.getAttribute("aria-pressed") !== "true";
      like.setAttribute("aria-pressed", String(on));
      const count = like.querySelector("[data-likes]");
      count.textContent = String(Math.max(0, Number(count.textContent) + (on ? 1 : -1)));
      sendEvents([{kind: on ? "like" : "unlike", video_id: Number(slide.dataset.videoId)}]);
      return;
    }
    const follow = e.target.closest("[data-follow]");
    if (follow) {
      if (!signedIn()) return toLogin();
      const on = follow.getAttribute("aria-pressed") !== "true";
      const r = await xl.api(on ? "POST" : "DELETE", "/api/v1/creators/" + slide.dataset.creatorId + "/follow");
      if (r.ok) {
        state.following = state.following || new Set();
        state.following[r.data.following ? "add" : "delete"](r.data.creator_id);
        markFollows(feed.querySelectorAll(`.slide[data-creator-id="${r.data.creator_id}"]`));
      }
      return;
    }
    if (e.target.closest("[data-comments]")) {
      // Reading needs no account; the sheet asks for sign-in only when the viewer writes.
      const count = slide.querySelector("[data-comment-count]");
      openSheet("comments", {videoId: Number(slide.dataset.videoId), count: Number(count.textContent), signedIn: signedIn(),
                             toLogin, onCount: (n) => { count.textContent = String(n); }});
      return;
    }
    if (e.target.closest("[data-share]")) {
      if (!signedIn()) return toLogin();
      openSheet("share", {target: "video", targetId: Number(slide.dataset.videoId)});
    }
  });

  // -- sheets (loaded on first use) ----------------------------------------------------------------------------

  let sheetLib = null;
  async function openSheet(kind, opts) {
    if (!sheetLib) sheetLib = loadScript(staticUrl("feed/sheet.js")).then(() => window.xlSheet);
    const lib = await sheetLib;
    if (state.current) state.current.querySelector("video").pause();
    lib[kind](Object.assign({click: feed.dataset.click, onClose: () => state.current && play(state.current.querySelector("video"))}, opts));
  }

  window.addEventListener("pagehide", () => endView(state.current, true));
  document.addEventListener("visibilitychange", () => {
    if (!state.current) return;
    const video = state.current.querySelector("video");
    if (document.hidden) video.pause(); else play(video);
  });

  // -- start: the first slide is in the HTML; attach it at once --------------------------------------------------

  slides().forEach((s) => { state.seen.add(Number(s.dataset.videoId)); observer.observe(s); });
  syncMute();
  const first = slides()[0];
  if (first) activate(first);
  else loadMore();
  if (feed.dataset.start) loadMore();
  if (signedIn()) {
    xl.api("GET", "/api/v1/me/following").then((r) => {
      if (!r.ok) return;
      state.following = new Set(r.data.map((c) => c.id));
      markFollows(slides());
    });
  }
})();
