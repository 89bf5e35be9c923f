// Small helpers every page shares: call the API with the session's CSRF token, show its errors.
// All text reaches the page through textContent, never innerHTML.
(function () {
  "use strict";
  const lang = document.documentElement.lang === "en" ? "en" : "zh";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());

  async function api(method, url, body, opts) {
    const headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf()};
    if (opts && opts.key) headers["Idempotency-Key"] = opts.key;
    else if (opts && opts.idempotent) headers["Idempotency-Key"] = newKey();
    const sep = url.includes("?") ? "&" : "?";
    const r = await fetch(lang === "en" ? url + sep + "lang=en" : url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return {ok: r.ok, status: r.status, data};
  }

  // The input a field error is about: the path itself ("skus.0.price_fen", sent from "skus.0.price_yuan"), else
  // its last name ("address.name" -> name="name"), else its first.
  function inputFor(scope, path) {
    const parts = path.split(".");
    const names = [path, parts[parts.length - 1], parts[0]];
    for (const name of names) {
      for (const n of [name, name.replace(/_fen$/, "_yuan"), name.replace(/_bp$/, "_pct")]) {
        const el = scope.querySelector(`[name="${CSS.escape(n)}"]`);
        if (el && el.type !== "hidden") return el;
      }
    }
    return null;
  }

  // A problem+json as people read it: its title and detail, then each field's sentence in a list, and the same
  // sentence next to the field it is about. The API's field paths are for programs and never shown.
  function showErrors(scope, problem) {
    const box = scope.querySelector("[data-errors]");
    scope.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    scope.querySelectorAll("[data-field-error]").forEach((el) => el.remove());
    scope.querySelectorAll('[aria-describedby^="xl-err-"]').forEach((el) => el.removeAttribute("aria-describedby"));
    if (!box) return;
    box.textContent = "";
    if (!problem) { box.textContent = t("网络错误，请重试", "Network error, please retry"); return; }
    const add = (tag, text, cls) => {
      const node = document.createElement(tag);
      if (cls) node.className = cls;
      node.textContent = text;
      return node;
    };
    if (problem.title) box.appendChild(add("div", problem.title));
    const errors = problem.errors || [];
    if (errors.length) {
      const list = add("ul", "", "xl-error-list");
      const marked = new Set();
      errors.forEach((e, i) => {
        const sentence = e.message || e.label || problem.title || "";
        if (sentence !== problem.title || errors.length > 1) {  // a lone sentence the title already says: once
          const item = add("li", sentence);
          if (e.row != null) item.dataset.row = String(e.row);
          list.appendChild(item);
        }
        const input = e.field ? inputFor(scope, e.field) : null;
        if (!input) return;
        input.setAttribute("aria-invalid", "true");
        if (marked.has(input)) { document.getElementById(input.getAttribute("aria-describedby")).textContent += " " + sentence; return; }
        marked.add(input);
        const near = add("div", sentence, "xl-field-error");
        near.dataset.fieldError = "";
        near.id = `xl-err-${Date.now().toString(36)}-${i}`;
        // After the field's label (outside it, so the field keeps its name), tied to the field for screen readers.
        (input.closest("label") || input).insertAdjacentElement("afterend", near);
        input.setAttribute("aria-describedby", near.id);
      });
      if (list.children.length) box.appendChild(list);
    }
    if (problem.detail) box.appendChild(add("div", problem.detail, "xl-error-detail"));
  }

  function t(zh, en) { return lang === "en" ? en : zh; }

  function badge(text) { const s = document.createElement("span"); s.className = "bk-badge"; s.textContent = text; return s; }

  // "12.5" -> 1250 fen, "-3" -> -300 (the API says a price cannot be negative); null when empty; NaN when not
  // an amount (the API then names the field).
  function fen(value) {
    const v = String(value || "").trim().replace(/[,，¥]/g, "").replace(/^[−－]/, "-");
    if (!v) return null;
    if (!/^-?\d+(\.\d{1,2})?$/.test(v)) return NaN;
    const sign = v.startsWith("-") ? -1 : 1;
    const [whole, part = ""] = v.replace(/^-/, "").split(".");
    return sign * (Number(whole) * 100 + Number((part + "00").slice(0, 2)));
  }

  // 1250 fen -> "¥12.50"
  function yuan(fen) { return "¥" + (fen / 100).toFixed(2); }

  // Signed out where signing in is needed: to the login page, and back here after.
  function toLogin() { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }

  // The page's ?next= if it is a path on this origin (as web.auth.safe_next_path decides), else "/":
  // never "//host", "/\\host", a scheme such as javascript:, or a control character the URL parser drops.
  function safeNext() {
    const raw = new URLSearchParams(location.search).get("next") || "";
    const ok = raw.startsWith("/") && raw[1] !== "/" && !raw.includes("\\") && raw.length <= 2000 &&
      !/[\u0000-\u001f\u007f]/.test(raw);
    return ok ? raw : "/";
  }

  // Play a <video data-hls data-mp4>: hls.js where the browser has MSE, native HLS (Safari), else the MP4.
  function attachPlayer(player) {
    const hls = player.dataset.hls, mp4 = player.dataset.mp4;
    if (hls && window.Hls && Hls.isSupported()) {
      const h = new Hls({capLevelToPlayerSize: true});
      h.on(Hls.Events.ERROR, (_e, data) => { if (data.fatal) { h.destroy(); player.src = mp4; } });
      h.loadSource(hls);
      h.attachMedia(player);
      player.dataset.engine = "hls.js";
    } else if (hls && player.canPlayType("application/vnd.apple.mpegurl")) {
      player.src = hls;
      player.dataset.engine = "native";
    } else {
      player.src = mp4;
      player.dataset.engine = "mp4";
    }
  }

  // The storyboard's WebVTT as cues {start, end, url, x, y, w, h}: one thumbnail tile per span of the video.
  const boards = {};
  function storyboard(url) {
    if (!boards[url]) {
      boards[url] = fetch(url).then((r) => r.text()).then((text) => {
        const cues = [];
        const toSec = (s) => s.split(":").reduce((acc, part) => acc * 60 + parseFloat(part), 0);
        text.split(/\r?\n\r?\n/).forEach((block) => {
          const m = block.match(/([\d:.]+)\s*-->\s*([\d:.]+)\s*\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/);
          if (m) cues.push({start: toSec(m[1]), end: toSec(m[2]), url: new URL(m[3], url).href,
            x: +m[4], y: +m[5], w: +m[6], h: +m[7]});
        });
        return cues;
      }).catch(() => []);
    }
    return boards[url];
  }


  // Take the part of the page matching `selector` again from the server's rendering (after a change), in place.
  async function refresh(selector) {
    const current = document.querySelector(selector);
    const r = await fetch(location.href, {credentials: "same-origin"});
    if (!current || !r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").querySelector(selector);
    if (fresh) current.replaceWith(document.adoptNode(fresh));
  }

  // A checkout form's delivery address (templates/feed/_address.html), trimmed, as the API takes it.
  function address(form) {
    const f = new FormData(form);
    const out = {};
    ["name", "phone", "province", "city", "district", "detail"].forEach((k) => { out[k] = String(f.get(k) || "").trim(); });
    return out;
  }

  window.xl = {api, showErrors, t, badge, fen, yuan, toLogin, newKey, safeNext, refresh, attachPlayer, storyboard,
               address};
})();
