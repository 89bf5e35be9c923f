// A marketing page's create form (flash sales, group buys, bargains): yuan as people type them sent as fen (`*_yuan` ->
// `*_fen`), local times as UTC instants, whole numbers as numbers; empty fields are left out, so the API names them.
// The form says where it goes: data-brand and data-endpoint (e.g. "flash-sales").
(function () {
  "use strict";
  document.querySelectorAll("form[data-endpoint]").forEach((form) => {
    const instant = (v) => { const d = new Date(v); return isNaN(d) ? v : d.toISOString(); };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {};
      form.querySelectorAll("[name]").forEach((input) => {
        const v = String(input.value || "").trim();
        if (!v) return;
        if (input.name.endsWith("_yuan")) body[input.name.replace(/_yuan$/, "_fen")] = xl.fen(v);
        else if (input.type === "datetime-local") body[input.name] = instant(v);
        else body[input.name] = /^-?\d+$/.test(v) ? Number(v) : v;
      });
      const button = form.querySelector("button");
      button.disabled = true;
      const r = await xl.api("POST", `/api/v1/brands/${form.dataset.brand}/${form.dataset.endpoint}`, body);
      button.disabled = false;
      if (r.ok) { location.reload(); return; }
      xl.showErrors(form, r.data);
    });
  });
})();
