// "More" appends the next page under the results already shown, keeping the scroll position and the URL, and
// moves focus to the first new result. Without this script the link is a plain link to the next page.
(function () {
  "use strict";
  const LIST = "#results .ds-grid, #results .ds-list";
  const key = (li) => {
    const a = li.querySelector("[data-video-id], [data-product-id], [data-artist-id]");
    return a ? `${a.dataset.videoId}/${a.dataset.productId}/${a.dataset.artistId}` : null;
  };

  document.addEventListener("click", async (e) => {
    const link = e.target.closest("#results a.ds-more");
    if (!link || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const list = document.querySelector(LIST);
    if (!list) return;
    e.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;  // a second tap while the page loads
    link.setAttribute("aria-busy", "true");
    let doc;
    try {
      const r = await fetch(link.href, {credentials: "same-origin", headers: {Accept: "text/html"}});
      if (!r.ok) throw new Error(String(r.status));
      doc = new DOMParser().parseFromString(await r.text(), "text/html");  // parsed inert: nothing in it runs
    } catch (err) {
      window.location.assign(link.href);  // the plain link still gets there
      return;
    }
    const seen = new Set(Array.from(list.children, key));
    // An index that changed between pages can shift a result onto the next page too: show it once.
    const fresh = Array.from(doc.querySelector(LIST)?.children || []).filter((li) => !seen.has(key(li)));
    fresh.forEach((li) => list.appendChild(document.adoptNode(li)));
    const next = doc.querySelector("#results a.ds-more");
    if (next) {
      link.href = next.getAttribute("href");
      link.removeAttribute("aria-busy");
    } else {
      link.closest("p").remove();
    }
    fresh[0]?.querySelector("a")?.focus();
  });
})();
