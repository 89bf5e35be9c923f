// "Me": signing out ends the cookie session over the API, then the feed.
(function () {
  "use strict";
  document.getElementById("sign-out").addEventListener("click", async () => {
    await xl.api("POST", "/api/v1/auth/logout");
    location.href = "/";
  });
})();
