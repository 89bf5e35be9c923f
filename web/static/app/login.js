// Sign-in with e-mail and password; then back to ?next= when it is a path on this origin (xl.safeNext).
(function () {
  "use strict";
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const r = await xl.api("POST", "/api/v1/auth/login", {email: f.get("email"), password: f.get("password")});
    if (r.ok) { location.href = xl.safeNext(); return; }
    document.getElementById("login-error").textContent = r.data ? r.data.title : xl.t("网络错误，请重试", "Network error, please retry");
  });
})();
