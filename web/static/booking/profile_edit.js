// The artist profile editor: gather the form into the API's shape (yuan to fen, counts or null) and save it.
(function () {
  "use strict";
  const form = document.getElementById("profile-form");
  const f = form.elements;
  const count = (v) => (String(v).trim() ? Number(String(v).trim()) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rates = {};
    ["s20", "s60", "s60plus"].forEach((tier) => { const v = xl.fen(f["rate_" + tier].value); rates[tier] = Number.isNaN(v) ? -1 : v; });
    const body = {
      bio: f.bio.value, tags: f.tags.value.split(/[,，\s]+/).filter(Boolean), region: f.region.value || null,
      categories: Array.from(f.categories.selectedOptions).map((o) => o.value), rates,
      accepting_bookings: f.accepting_bookings.checked, max_open_bookings: Number(f.max_open_bookings.value || 1),
      declared_followers: count(f.declared_followers.value), declared_avg_views: count(f.declared_avg_views.value),
      declared_note: f.declared_note.value,
    };
    const r = await xl.api("PATCH", "/api/v1/me/artist-profile", body);
    form.querySelector("[data-ok]").textContent = r.ok ? xl.t("已保存", "Saved") : "";
    if (!r.ok) xl.showErrors(form, r.data); else xl.showErrors(form, {title: ""});
  });
})();
