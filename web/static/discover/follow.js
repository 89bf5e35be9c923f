// Follow buttons: <button data-follow="<creator id>" aria-pressed>; signed out, the viewer is asked to sign in first.
(function () {
  "use strict";
  document.querySelectorAll("[data-follow]").forEach((button) => {
    button.addEventListener("click", async () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      button.disabled = true;
      const r = await window.xl.api(on ? "POST" : "DELETE", `/api/v1/creators/${button.dataset.follow}/follow`);
      button.disabled = false;
      if (r.status === 401) { window.xl.toLogin(); return; }
      if (!r.ok) return;
      button.setAttribute("aria-pressed", String(r.data.following));
      button.textContent = r.data.following ? button.dataset.on : button.dataset.off;
      const count = document.querySelector("[data-followers]");
      if (count) count.textContent = String(r.data.followers);
    });
  });
})();
