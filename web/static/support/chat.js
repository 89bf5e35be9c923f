// The customer-service chat: one conversation's thread and composer, shared by the buyer's page (/chat/<id>) and
// the agents' inbox. Messages arrive over the chat socket (/ws/chat/<id>) or, when WebSocket is refused, its SSE
// stream (/sse/chat/<id>); the inbox feeds the thread from its own brand socket instead (`live: false`).
// Everything from the API reaches the page through textContent only.
(function () {
  "use strict";
  const t = xl.t;
  const en = document.documentElement.lang === "en";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const langQ = en ? "?lang=en" : "";

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  const STATUS = {pending_payment: ["待付款", "Awaiting payment"], paid: ["已付款", "Paid"], shipped: ["已发货", "Shipped"],
                  delivered: ["已收货", "Delivered"], completed: ["已完成", "Completed"], cancelled: ["已取消", "Cancelled"],
                  refunded: ["已退款", "Refunded"]};

  function card(m, side) {
    const c = m.card || {};
    const box = el("div", "sp-card sp-card-" + m.kind);
    if (m.kind === "image") {
      const a = el("a");
      a.href = c.url; a.target = "_blank"; a.rel = "noopener";
      const img = el("img");
      img.src = c.thumb_url; img.alt = t("图片", "Image"); img.loading = "lazy";
      a.appendChild(img);
      box.appendChild(a);
    } else if (m.kind === "product") {
      const a = el("a", "sp-card-title", c.name);
      a.href = "/p/" + c.product_id + langQ;
      box.append(el("small", "sp-muted", t("咨询商品", "About this product")), a,
                 el("p", "sp-price", c.price_fen === null ? "" : xl.yuan(c.price_fen)));
    } else if (m.kind === "order") {
      const a = el("a", "sp-card-title", t("订单 #", "Order #") + c.order_id);
      a.href = "/orders/" + c.order_id + langQ;
      const st = STATUS[c.status] || [c.status, c.status];
      box.append(a, el("p", "sp-muted", (en ? st[1] : st[0]) + " · " + xl.yuan(c.total)));
    } else if (m.kind === "cart") {
      box.appendChild(el("small", "sp-muted", t("客服为你准备的购物车", "A cart picked for you")));
      const ul = el("ul", "sp-lines");
      (c.items || []).forEach((line) => {
        const attrs = Object.values(line.attributes || {}).join(" ");
        ul.appendChild(el("li", "", `${line.name} ${attrs} × ${line.quantity} · ${xl.yuan(line.unit_price * line.quantity)}`));
      });
      box.append(ul, el("p", "sp-price", t("合计 ", "Total ") + xl.yuan(c.total || 0)));
      if (side === "buyer") {
        const go = el("a", "btn-buy sp-checkout", t("一键下单", "Check out"));
        go.href = `/chat/${m.conversation_id}/cards/${m.id}/checkout${langQ}`;
        box.appendChild(go);
      }
    } else if (m.kind === "coupon") {
      box.append(el("small", "sp-muted", t("送你一张优惠券", "A coupon for you")),
                 el("p", "sp-card-title", c.name || (en ? c.label_en : c.label) || c.label),
                 el("p", "sp-muted", t("已放入你的卡包，结算时可用", "In your wallet, ready for checkout")));
    }
    return box;
  }

  function mount(root, opts) {
    const thread = root.querySelector("[data-thread]");
    const form = root.querySelector("[data-composer]");
    const status = opts.status || root.querySelector("[data-live-status]");
    const side = opts.side;
    const id = opts.conversationId;
    const seen = new Set();
    let stopped = false;
    let socket = null;
    let stream = null;

    function bubble(m) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
      const li = el("li", "sp-msg " + (m.side === side ? "sp-mine" : "sp-theirs"));
      li.dataset.messageId = String(m.id);
      li.dataset.kind = m.kind;
      li.appendChild(el("span", "sp-who", m.sender_name));
      if (m.kind === "text") li.appendChild(el("p", "sp-text", m.text));
      else li.appendChild(card(m, side));
      const when = el("time", "sp-time", new Date(m.created_at).toLocaleTimeString(en ? "en" : "zh-CN"));
      when.dateTime = m.created_at;
      li.appendChild(when);
      // Keep the thread in id order whatever order the socket and the API answers arrive in.
      const after = Array.from(thread.children).find((n) => Number(n.dataset.messageId) > m.id);
      thread.insertBefore(li, after || null);
      li.scrollIntoView({block: "end"});
    }

    function read() { xl.api("POST", `/api/v1/conversations/${id}/read`); }

    function receive(event) {
      if (event.type === "message" && event.message.conversation_id === id) {
        bubble(event.message);
        if (event.message.side !== side && !document.hidden) read();
      }
    }

    async function load() {
      const r = await xl.api("GET", `/api/v1/conversations/${id}/messages?limit=100`);
      if (!r.ok) { if (status) status.textContent = (r.data && r.data.title) || t("加载失败", "Could not load"); return; }
      r.data.items.slice().reverse().forEach(bubble);
      read();
    }

    function setLive(text) { if (status) { status.textContent = text; status.dataset.state = text ? "live" : ""; } }

    function sse() {
      if (stopped || stream) return;
      stream = new EventSource(`/sse/chat/${id}`);
      stream.addEventListener("ready", () => { setLive(t("已连接（SSE）", "Connected (SSE)")); load(); });
      stream.addEventListener("message", (e) => receive(JSON.parse(e.data)));
      stream.onerror = () => setLive(t("重新连接中…", "Reconnecting…"));
    }

    function connect() {
      if (stopped) return;
      if (!("WebSocket" in window)) { sse(); return; }
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      let opened = false;
      socket = new WebSocket(`${proto}//${location.host}/ws/chat/${id}?csrf=${encodeURIComponent(csrf())}`);
      socket.onmessage = (e) => {
        const event = JSON.parse(e.data);
        if (event.type === "ready") { opened = true; status.dataset.transport = "websocket"; setLive(t("已连接", "Connected")); load(); return; }
        receive(event);
      };
      socket.onclose = () => {
        socket = null;
        if (stopped) return;
        if (!opened) { sse(); return; }  // refused outright: the network or proxy blocks WebSocket
        setLive(t("重新连接中…", "Reconnecting…"));
        setTimeout(connect, 2000);
      };
    }

    async function send(body) {
      const r = await xl.api("POST", `/api/v1/conversations/${id}/messages`, body);
      if (r.ok) bubble(r.data);
      return r;
    }

    if (form) {
      const input = form.querySelector('[name="text"]');
      const errors = form.querySelector("[data-errors]");
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        errors.textContent = "";
        const r = await send({text});
        if (r.ok) { input.value = ""; return; }
        const field = r.data && r.data.errors && r.data.errors[0];
        errors.textContent = field ? field.message : (r.data && r.data.title) || t("发送失败，请重试", "Could not send; please retry");
      });
      const file = form.querySelector("[data-image]");
      file.addEventListener("change", async () => {
        if (!file.files.length) return;
        const data = new FormData();
        data.append("file", file.files[0]);
        errors.textContent = "";
        const r = await fetch(`/api/v1/conversations/${id}/images${langQ}`, {method: "POST", body: data,
          headers: {"X-CSRF-Token": csrf()}, credentials: "same-origin"});
        const body = await r.json().catch(() => null);
        file.value = "";
        if (r.ok) { bubble(body); return; }
        const field = body && body.errors && body.errors[0];
        errors.textContent = field ? field.message : (body && body.title) || t("图片发送失败", "Could not send the image");
      });
    }

    if (opts.live !== false) connect(); else load();
    return {
      receive, send,
      stop() { stopped = true; if (socket) socket.close(); if (stream) stream.close(); },
    };
  }

  window.xlChat = {mount};
  const page = document.getElementById("chat");
  if (page) mount(page, {conversationId: Number(page.dataset.conversationId), side: page.dataset.side});
})();
