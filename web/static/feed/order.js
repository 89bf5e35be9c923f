// The order page's after-sale actions, each sent to the JSON API: confirm receipt, cancel, ask for a refund
// (photos are uploaded first, one request each, then named in the refund request). Errors are shown as the
// API's human sentences, never as field paths.
(function () {
  "use strict";
  const root = document.getElementById("order-page");
  if (!root) return;
  const {api, t} = window.xl;
  const orderId = root.dataset.orderId;

  function say(form, lines) {
    const box = form.querySelector("[data-errors]");
    box.textContent = "";
    lines.filter(Boolean).forEach((line) => { const p = document.createElement("div"); p.textContent = line; box.appendChild(p); });
  }

  // A problem+json as sentences: its title, then each field's message, marking the input it is about.
  function showProblem(form, problem) {
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    if (!problem) { say(form, [t("网络错误，请重试", "Network error, please retry")]); return; }
    const lines = [problem.title || problem.detail];
    (problem.errors || []).forEach((e) => {
      if (e.message && e.message !== lines[0]) lines.push(e.message);
      const input = form.querySelector(`[data-field="${e.field}"]`) || form.querySelector(`[data-field="${e.field.split(".")[0]}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    });
    say(form, lines);
  }

  async function busy(form, work) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    say(form, []);
    try {
      return await work();
    } catch (e) {
      showProblem(form, null);
      return null;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // One photo as multipart/form-data; the API checks it is an image and answers with its id.
  async function upload(file) {
    const data = new FormData();
    data.append("file", file);
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    const lang = document.documentElement.lang === "en" ? "?lang=en" : "";
    const r = await fetch(`/api/v1/orders/${orderId}/refund-photos${lang}`, {
      method: "POST", body: data, headers: {"X-CSRF-Token": csrf}, credentials: "same-origin",
    });
    let json = null;
    try { json = await r.json(); } catch (e) { json = null; }
    return {ok: r.ok, data: json};
  }

  const refundForm = document.getElementById("refund-form");
  const uploaded = new Map();  // File -> photo id: a resubmitted form does not upload the same photo twice
  if (refundForm) {
    refundForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = refundForm.elements;
      const inputs = [...refundForm.querySelectorAll("[data-line-id]")];
      const lines = [];
      inputs.forEach((input) => {
        input.removeAttribute("data-field");
        const quantity = Number(input.value || 0);
        if (quantity > 0) {
          input.dataset.field = `lines.${lines.length}.quantity`;
          lines.push({order_line_id: Number(input.dataset.lineId), quantity});
        }
      });
      const detail = f.detail.value.trim();
      const reason = f.reason.value + (f.reason.value && detail ? t("：", ": ") : "") + detail;
      busy(refundForm, async () => {
        const photoIds = [];
        for (const file of f.photos.files) {
          if (!uploaded.has(file)) {
            const r = await upload(file);
            if (!r.ok) {
              showProblem(refundForm, r.data);
              if (r.data) say(refundForm, [`${file.name}: ${(r.data.errors || [{}])[0].message || r.data.title}`]);
              f.photos.setAttribute("aria-invalid", "true");
              return;
            }
            uploaded.set(file, r.data.id);
          }
          photoIds.push(uploaded.get(file));
        }
        const r = await api("POST", `/api/v1/orders/${orderId}/refunds`, {lines, reason, photo_ids: photoIds},
                            {idempotent: true});
        if (r.ok) location.reload();
        else showProblem(refundForm, r.data);
      });
    });
  }

  document.querySelectorAll("form[data-order-action]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const action = form.dataset.orderAction;
      const body = action === "cancel" ? {reason: form.elements.reason.value} : undefined;
      busy(form, async () => {
        const r = await api("POST", `/api/v1/orders/${orderId}/${action}`, body, {idempotent: true});
        if (r.ok) location.reload();
        else showProblem(form, r.data);
      });
    });
  });
})();
