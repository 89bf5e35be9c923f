// "Resubmit for review" on a video a reviewer sent back: posts to the API, then reloads to show the new state.
(function () {
  "use strict";
  const button = document.querySelector("[data-resubmit]");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const r = await xl.api("POST", `/api/v1/videos/${button.dataset.resubmit}/resubmit`);
    if (!r.ok) { xl.showErrors(button.closest("section"), r.data); button.disabled = false; return; }
    location.reload();
  });
})();
