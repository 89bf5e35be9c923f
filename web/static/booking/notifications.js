// Notifications: "mark all read" over the API, then the unread highlights go.
(function () {
  "use strict";
  document.getElementById("read-all").addEventListener("click", async () => {
    const r = await xl.api("POST", "/api/v1/notifications/read", {});
    if (r.ok) document.querySelectorAll(".bk-unread").forEach((li) => li.classList.remove("bk-unread"));
  });
})();
