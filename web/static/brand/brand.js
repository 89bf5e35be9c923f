// Brand dashboard forms: every <form data-api="METHOD /api/v1/..."> is sent to the JSON API.
// Field names nest on dots ("skus.0.price_yuan"); "*_yuan" fields are sent as "*_fen", "*_pct" as "*_bp";
// data-type="int|bool|attrs|status" converts; empty fields are left out. data-upload="field" sends the file as
// multipart instead. After success: data-done="reload", data-next="/url/{id}", or data-done="import" (summary).
(function () {
  "use strict";
  const {api, showErrors, t, fen} = window.xl;

  function set(obj, path, value) {
    const keys = path.split(".");
    let cur = obj;
    keys.forEach((key, i) => {
      if (i === keys.length - 1) { cur[key] = value; return; }
      if (cur[key] === undefined) cur[key] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      cur = cur[key];
    });
  }

  // "颜色:红;尺码:M" -> {"颜色": "红", "尺码": "M"}; full-width punctuation is fine too.
  function attrs(text) {
    const out = {};
    text.split(/[;；]/).map((p) => p.trim()).filter(Boolean).forEach((pair) => {
      const [k, ...rest] = pair.split(/[:：]/);
      out[k.trim()] = rest.join(":").trim();
    });
    return out;
  }

  function convert(el) {
    const v = el.value.trim();
    switch (el.dataset.type) {
      case "int": return v === "" ? undefined : Number(v);
      case "bool": return v === "true";
      case "attrs": return v === "" ? undefined : attrs(v);
      case "status": return el.checked ? el.value : undefined;
      default: return v === "" ? undefined : v;
    }
  }

  function jsonBody(form) {
    const body = {};
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach((el) => {
      if (el.type === "file" || "query" in el.dataset) return;
      let name = el.name;
      let value = convert(el);
      if (value === undefined) return;
      if (name.endsWith("_yuan")) { name = name.replace(/_yuan$/, "_fen"); value = fen(value); }
      else if (name.endsWith("_pct")) {
        name = name.replace(/_pct$/, "_bp");
        value = fen(value);  // a percentage with up to two decimals is a whole number of basis points
      }
      set(body, name, value);
    });
    return body;
  }

  function query(form) {
    const params = [];
    form.querySelectorAll("[data-query]").forEach((el) => { if (el.checked) params.push(`${el.name}=true`); });
    if (document.documentElement.lang === "en") params.push("lang=en");
    return params.length ? "?" + params.join("&") : "";
  }

  async function upload(url, form) {
    const data = new FormData();
    const input = form.querySelector(`input[type=file][name="${form.dataset.upload}"]`);
    if (input.files[0]) data.append("file", input.files[0]);
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    const r = await fetch(url + query(form), {method: "POST", body: data, headers: {"X-CSRF-Token": csrf},
                                              credentials: "same-origin"});
    let json = null;
    try { json = await r.json(); } catch (e) { json = null; }
    return {ok: r.ok, status: r.status, data: json};
  }

  // The import's counts, kept on the page: created, updated, and skipped (rows exactly as the catalog has them).
  function importSummary(form, d) {
    const box = form.querySelector("[data-result]");
    box.textContent = (d.dry_run ? t("检查通过，可以导入：", "Checked, ready to import: ") : t("导入成功：", "Imported: ")) +
      t(`商品新建 ${d.products_created}、更新 ${d.products_updated}、未变跳过 ${d.products_unchanged}；` +
        `规格新建 ${d.skus_created}、更新 ${d.skus_updated}、未变跳过 ${d.skus_unchanged}`,
        `products: ${d.products_created} created, ${d.products_updated} updated, ${d.products_unchanged} skipped (unchanged); ` +
        `SKUs: ${d.skus_created} created, ${d.skus_updated} updated, ${d.skus_unchanged} skipped (unchanged)`);
  }

  async function send(form, submitter) {
    const spec = (submitter && submitter.dataset.apiAlt) || form.dataset.api;
    const [method, url] = spec.split(" ");
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    const result = form.querySelector("[data-result]");
    if (result) result.textContent = "";
    try {
      const r = form.dataset.upload ? await upload(url, form)
        : await api(method, url, method === "DELETE" ? undefined : jsonBody(form), {idempotent: "idempotent" in form.dataset});
      if (!r.ok) { showErrors(form, r.data); return; }
      showErrors(form, {title: ""});
      if (form.dataset.next) { location.href = form.dataset.next.replace("{id}", r.data.id); return; }
      // After an import the counts stay on screen; the product table below is taken again from the server.
      if (form.dataset.done === "import") { importSummary(form, r.data); if (!r.data.dry_run) await xl.refresh("#products"); return; }
      location.reload();
    } catch (e) {
      showErrors(form, null);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  document.addEventListener("submit", (e) => {
    const form = e.target.closest("form[data-api]");
    if (!form) return;
    e.preventDefault();
    send(form, e.submitter);
  });
})();
