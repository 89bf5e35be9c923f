// A cart card's checkout: the address, then the API places the orders (crediting the conversation's agent) and the
// buyer goes to pay. One Idempotency-Key per address as typed, as on the product checkout.
(function () {
  "use strict";
  const form = document.getElementById("card-checkout");
  if (!form) return;
  let sent = null;
  let key = null;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const body = {address: xl.address(form)};
    const json = JSON.stringify(body);
    if (json !== sent) { sent = json; key = xl.newKey(); }
    button.disabled = true;
    const url = `/api/v1/conversations/${form.dataset.conversationId}/cards/${form.dataset.messageId}/checkout`;
    const r = await xl.api("POST", url, body, {key});
    if (r.ok && r.data.pay_url) { location.href = r.data.pay_url; return; }
    button.disabled = false;
    xl.showErrors(form, r.data);
  });
})();
