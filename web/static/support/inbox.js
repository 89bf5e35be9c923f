// The agents' inbox: the brand's conversations, kept live by the brand socket (/ws/inbox/<brand>, SSE fallback);
// choosing one opens its thread (static/support/chat.js, fed by this socket) with the cart and coupon composers.
(function () {
  "use strict";
  const t = xl.t;
  const root = document.getElementById("inbox");
  if (!root) return;
  const brand = Number(root.dataset.brand);
  const list = root.querySelector("[data-conversations]");
  const pane = root.querySelector("[data-pane]");
  const status = root.querySelector("[data-live-status]");
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const rows = new Map();
  let open = null;
  let chat = null;

  function row(c) {
    let li = rows.get(c.id);
    if (!li) {
      li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button"; b.className = "sp-item"; b.dataset.conversation = String(c.id);
      const name = document.createElement("span"); name.className = "sp-name";
      const badge = document.createElement("span"); badge.className = "sp-badge"; badge.dataset.unread = "";
      b.append(name, badge);
      b.addEventListener("click", () => show(c.id));
      li.appendChild(b);
      rows.set(c.id, li);
    }
    const b = li.firstChild;
    b.querySelector(".sp-name").textContent = c.buyer_name + (c.agent_name ? "" : " · " + t("待接待", "waiting"));
    b.dataset.name = c.buyer_name;
    const unread = open === c.id ? 0 : c.agent_unread;
    const badge = b.querySelector("[data-unread]");
    badge.textContent = String(unread);
    badge.hidden = !unread;
    if (open === c.id) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    list.prepend(li);  // latest activity first
  }

  function show(id) {
    if (chat) chat.stop();
    pane.querySelector("[data-thread]").textContent = "";
    open = id;
    pane.hidden = false;
    const li = rows.get(id);
    pane.querySelector("[data-pane-title]").textContent = li ? li.firstChild.dataset.name : "";
    chat = xlChat.mount(pane, {conversationId: id, side: "agent", live: false, status});
    rows.forEach((_, key) => { const b = rows.get(key).firstChild; if (key === id) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current"); });
    if (li) { const badge = li.querySelector("[data-unread]"); badge.hidden = true; badge.textContent = "0"; }
  }

  function receive(event) {
    if (event.conversation) row(event.conversation);
    if (chat && event.type === "message" && event.message.conversation_id === open) chat.receive(event);
  }

  async function load() {
    const r = await xl.api("GET", `/api/v1/brands/${brand}/inbox`);
    if (!r.ok) return;
    r.data.slice().reverse().forEach(row);
  }

  function sse() {
    const stream = new EventSource(`/sse/inbox/${brand}`);
    stream.addEventListener("ready", () => { status.textContent = t("已连接（SSE）", "Connected (SSE)"); load(); });
    stream.addEventListener("message", (e) => receive(JSON.parse(e.data)));
    stream.addEventListener("conversation", (e) => receive(JSON.parse(e.data)));
    stream.addEventListener("read", (e) => receive(JSON.parse(e.data)));
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let opened = false;
    const ws = new WebSocket(`${proto}//${location.host}/ws/inbox/${brand}?csrf=${encodeURIComponent(csrf())}`);
    ws.onmessage = (e) => {
      const event = JSON.parse(e.data);
      if (event.type === "ready") { opened = true; status.dataset.state = "live"; status.textContent = t("已连接", "Connected"); load(); return; }
      receive(event);
    };
    ws.onclose = () => { if (!opened) { sse(); return; } status.textContent = t("重新连接中…", "Reconnecting…"); setTimeout(connect, 2000); };
  }
  if ("WebSocket" in window) connect(); else sse();

  async function tool(form, body) {
    const errors = form.querySelector("[data-errors]");
    errors.textContent = "";
    if (!chat) return;
    const r = await chat.send(body);
    if (!r.ok) xl.showErrors(form, r.data);
  }
  const cartForm = root.querySelector("[data-cart-form]");
  cartForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(cartForm);
    tool(cartForm, {kind: "cart", items: [{sku_id: Number(f.get("sku_id")), quantity: Number(f.get("quantity"))}]});
  });
  const couponForm = root.querySelector("[data-coupon-form]");
  if (couponForm) couponForm.addEventListener("submit", (e) => {
    e.preventDefault();
    tool(couponForm, {kind: "coupon", coupon_id: Number(new FormData(couponForm).get("coupon_id"))});
  });
  const duty = root.querySelector("[data-availability]");
  if (duty) duty.addEventListener("change", () => xl.api("PUT", `/api/v1/brands/${brand}/support/availability`, {available: duty.checked}));

  const deskForm = document.querySelector("[data-desk-form]");
  if (deskForm) deskForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(deskForm);
    const pct = String(f.get("agent_fee_pct") || "0").trim();
    const body = {routing: f.get("routing"), agent_fee_bp: Math.round(Number(pct) * 100)};
    if (!/^\d+(\.\d{1,2})?$/.test(pct)) body.agent_fee_bp = -1;  // the API says why, next to the field
    const r = await xl.api("PATCH", `/api/v1/brands/${brand}/support`, body);
    if (r.ok) { xl.refresh("[data-performance]"); return; }
    xl.showErrors(deskForm, r.data);
  });
  const appoint = document.querySelector("[data-appoint-form]");
  if (appoint) appoint.addEventListener("submit", async (e) => {
    e.preventDefault();
    const uid = String(new FormData(appoint).get("user_id") || "").trim();
    const r = await xl.api("PUT", `/api/v1/brands/${brand}/support/agents/${encodeURIComponent(uid) || 0}`);
    if (r.ok) { location.reload(); return; }
    xl.showErrors(appoint, r.data);
  });
})();
