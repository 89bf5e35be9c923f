// Distribution pages: the brand's terms, invites, staff import and approvals; accepting an invite; picking
// products; a signed-in visitor of a shop is bound to its distributor. Everything goes through the JSON API.
(function () {
  "use strict";
  const {api, showErrors} = window.xl;
  const pctToBp = (text) => Math.round(Number(String(text || "0").trim()) * 100);

  const terms = document.getElementById("terms-form");
  if (terms) terms.addEventListener("submit", async (e) => {
    e.preventDefault();
    const val = (n) => terms.querySelector(`[name=${n}]`).value;
    const body = {binding_days: Number(val("binding_days") || 0), default_rate_bp: pctToBp(val("default_rate_pct")),
                  level2_share_bp: pctToBp(val("level2_share_pct")),
                  renew_on_purchase: terms.querySelector("[name=renew_on_purchase]").checked};
    const r = await api("PUT", `/api/v1/brands/${terms.dataset.brand}/distribution`, body);
    if (r.ok) { location.reload(); return; }
    showErrors(terms, r.data);
  });

  document.querySelectorAll("[data-invite-box]").forEach((box) => {
    box.querySelector("[data-invite-button]").addEventListener("click", async () => {
      const r = await api("POST", `/api/v1/brands/${box.dataset.brand}/distribution/invites`);
      if (!r.ok) return;
      box.querySelector("[data-invite-url]").value = r.data.url;
      box.querySelector("[data-invite-qr]").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(r.data.qr_svg);
      box.querySelector("[data-invite-result]").hidden = false;
    });
  });

  const upload = document.getElementById("import-form");
  if (upload) upload.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData();
    const file = upload.querySelector("[name=file]").files[0];
    if (file) data.append("file", file);
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    const lang = document.documentElement.lang === "en" ? "?lang=en" : "";
    const r = await fetch(`/api/v1/brands/${upload.dataset.brand}/distributors/import${lang}`,
                          {method: "POST", body: data, headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
    if (r.ok) { location.reload(); return; }
    showErrors(upload, await r.json().catch(() => null));
  });

  document.querySelectorAll("[data-decide]").forEach((b) => b.addEventListener("click", async () => {
    const brand = document.querySelector("[data-brand-id]").dataset.brandId;
    const r = await api("PATCH", `/api/v1/brands/${brand}/distributors/${b.dataset.id}`, {status: b.dataset.decide});
    if (r.ok) location.reload();
  }));

  const join = document.getElementById("join-form");
  if (join) join.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = document.getElementById("join").dataset.invite;
    const body = {invite: token, store: join.querySelector("[name=store]").value,
                  region: join.querySelector("[name=region]").value};
    const r = await api("POST", "/api/v1/distribution/join", body);
    if (r.ok) { location.href = "/me/distribution" + (document.documentElement.lang === "en" ? "?lang=en" : ""); return; }
    showErrors(join, r.data);
  });

  document.querySelectorAll("[data-pick]").forEach((b) => b.addEventListener("click", async () => {
    const on = b.dataset.on === "true";
    const r = await api(on ? "PUT" : "DELETE", `/api/v1/me/distribution/${b.dataset.distributor}/picks/${b.dataset.pick}`);
    if (r.ok) location.reload();
  }));

  const shop = document.getElementById("shop");
  if (shop && shop.dataset.signedIn === "true") {
    api("POST", `/api/v1/shops/${shop.dataset.shop}/visits`).then((r) => { shop.dataset.visited = String(r.ok); });
  }
  document.documentElement.dataset.distributionReady = "true";  // every button above now does something
})();
