// The campaign editor: gather the form into the API's shape (yuan to fen, Beijing time to ISO) and save it.
(function () {
  "use strict";
  const form = document.getElementById("campaign-form");
  const values = (name) => Array.from(form.querySelectorAll(`[name="${name}"]`))
    .flatMap((el) => el.multiple ? Array.from(el.selectedOptions).map((o) => o.value) : (el.checked ? [el.value] : []));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const budget = (name) => { const v = xl.fen(f[name].value); return Number.isNaN(v) ? -1 : v; };
    const body = {
      title: f.title.value,
      brief: f.brief.value,
      category: f.category.value,
      product_ids: values("product_ids").map(Number),
      audience_interests: values("audience_interests"),
      audience_regions: values("audience_regions"),
      audience_ages: values("audience_ages"),
      budget_min_fen: budget("budget_min_yuan"),
      budget_max_fen: budget("budget_max_yuan"),
      videos_count: Number(f.videos_count.value || 1),
      length_tier: f.length_tier.value,
      min_duration_s: f.min_duration_s.value ? Number(f.min_duration_s.value) : null,
      max_duration_s: f.max_duration_s.value ? Number(f.max_duration_s.value) : null,
      deadline: f.deadline.value ? f.deadline.value + ":00+08:00" : null,
      must_hashtags: f.must_hashtags.value.split(/[,，\s]+/).filter(Boolean),
      must_link_products: f.must_link_products.checked,
      max_revisions: Number(f.max_revisions.value || 0),
      status: f.status.value,
    };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const r = await xl.api(form.dataset.method, form.dataset.url, body);
    button.disabled = false;
    if (!r.ok) { xl.showErrors(form, r.data); return; }
    const lang = document.documentElement.lang === "en" ? "&lang=en" : "";
    location.href = `/match?campaign=${r.data.id}${lang}`;
  });
})();
