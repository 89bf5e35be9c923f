// The sign-up, phone sign-in, forgot-password and reset-password forms (one of them per page).
(function () {
  "use strict";
  const t = xl.t;

  // Problems read as sentences: the title, then each field's sentence next to its field (xl.showErrors).
  const say = (form, problem) => xl.showErrors(form, problem);

  function clear(form) { form.querySelector("[data-errors]").textContent = ""; }

  function onSubmit(form, handler) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try { await handler(new FormData(form)); } finally { button.disabled = false; }
    });
  }

  const signup = document.getElementById("signup-form");
  if (signup) onSubmit(signup, async (f) => {
    const r = await xl.api("POST", "/api/v1/auth/register", {
      display_name: f.get("display_name"), email: f.get("email"), password: f.get("password"), role: f.get("role"),
    });
    if (r.ok) { location.href = xl.safeNext(); return; }
    say(signup, r.data);
  });

  const phone = document.getElementById("phone-form");
  if (phone) {
    const send = phone.querySelector("[data-send-code]");
    const status = phone.querySelector("[data-code-status]");
    const label = send.textContent;
    let timer = null;
    const countdown = (seconds) => {
      clearInterval(timer);
      send.disabled = true;
      let left = seconds;
      const tick = () => {
        if (left <= 0) { clearInterval(timer); send.disabled = false; send.textContent = label; return; }
        send.textContent = t(`${left} 秒后重发`, `Resend in ${left} s`);
        left -= 1;
      };
      tick();
      timer = setInterval(tick, 1000);
    };
    send.addEventListener("click", async () => {
      clear(phone);
      status.textContent = "";
      send.disabled = true;
      const r = await xl.api("POST", "/api/v1/auth/sms/code", {phone: phone.elements.phone.value});
      if (r.ok) {
        status.textContent = t(`验证码已发送至 ${r.data.sent_to}，${Math.round(r.data.expires_in / 60)} 分钟内有效`,
          `Code sent to ${r.data.sent_to}, valid for ${Math.round(r.data.expires_in / 60)} minutes`);
        countdown(r.data.resend_after);
        phone.elements.code.focus();
        return;
      }
      send.disabled = false;
      say(phone, r.data);
    });
    onSubmit(phone, async (f) => {
      const code = String(f.get("code") || "").trim();
      if (phone.hasAttribute("data-bind")) {
        const r = await xl.api("POST", "/api/v1/me/phone", {phone: f.get("phone"), code});
        if (r.ok) { location.href = "/me" + (document.documentElement.lang === "en" ? "?lang=en" : ""); return; }
        say(phone, r.data);
        return;
      }
      const name = String(f.get("display_name") || "").trim();
      const r = await xl.api("POST", "/api/v1/auth/sms/login", {
        phone: f.get("phone"), code, display_name: name || null,
      });
      if (r.ok) { location.href = xl.safeNext(); return; }
      say(phone, r.data);
    });
  }

  const forgot = document.getElementById("forgot-form");
  if (forgot) onSubmit(forgot, async (f) => {
    const done = forgot.querySelector("[data-done]");
    done.textContent = "";
    const r = await xl.api("POST", "/api/v1/auth/password/forgot", {email: f.get("email")});
    if (r.ok) { clear(forgot); done.textContent = r.data.message; return; }
    say(forgot, r.data);
  });

  const reset = document.getElementById("reset-form");
  if (reset) onSubmit(reset, async (f) => {
    if (f.get("new_password") !== f.get("again")) {
      say(reset, {title: t("两次输入的密码不一样", "The two passwords differ")});
      return;
    }
    const token = new URLSearchParams(location.search).get("token") || "";
    const r = await xl.api("POST", "/api/v1/auth/password/reset", {token, new_password: f.get("new_password")});
    if (r.ok) { location.href = "/login?reset=1" + (document.documentElement.lang === "en" ? "&lang=en" : ""); return; }
    say(reset, r.data);
  });
})();
