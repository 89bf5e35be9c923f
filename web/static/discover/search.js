// Suggestions as you type (ARIA combobox + listbox, arrow keys, Enter, Escape), and facet filters that apply as
// soon as one is ticked. Without this script the page still works: the form and the facets are plain GET forms.
(function () {
  "use strict";
  const {api} = window.xl;
  const form = document.getElementById("search-form");
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  const typeField = form.querySelector('input[name="type"]');
  const TYPE_OF = {video: "videos", product: "products", artist: "artists"};
  let timer = 0;
  let asked = 0;
  let active = -1;

  const options = () => Array.from(list.querySelectorAll('[role="option"]'));

  function close() {
    list.hidden = true;
    list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(i) {
    const opts = options();
    if (!opts.length) return;
    active = (i + opts.length) % opts.length;
    opts.forEach((o, j) => o.setAttribute("aria-selected", String(j === active)));
    input.setAttribute("aria-activedescendant", opts[active].id);
    opts[active].scrollIntoView({block: "nearest"});
  }

  function choose(option) {
    input.value = option.dataset.text;
    typeField.value = TYPE_OF[option.dataset.kind] || typeField.value;
    close();
    form.requestSubmit();
  }

  function show(items) {
    list.textContent = "";
    active = -1;
    items.forEach((s, i) => {
      const li = document.createElement("li");
      li.id = `suggestion-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.text = s.text;
      li.dataset.kind = s.kind;
      li.textContent = s.text;
      const kind = document.createElement("span");
      kind.className = "ds-kind";
      kind.textContent = {video: window.xl.t("视频", "video"), product: window.xl.t("商品", "product"),
                          artist: window.xl.t("艺人", "artist")}[s.kind] || "";
      li.appendChild(kind);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(li); });  // before the input blurs
      list.appendChild(li);
    });
    list.hidden = !items.length;
    input.setAttribute("aria-expanded", String(items.length > 0));
  }

  async function fetchSuggestions() {
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) { close(); return; }
    const r = await api("GET", `/api/v1/suggest?q=${encodeURIComponent(q)}&limit=8`);
    if (mine !== asked) return;  // a newer keystroke already asked again
    if (r.ok) show(r.data); else close();
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(fetchSuggestions, 150); });
  input.addEventListener("keydown", (e) => {
    if (list.hidden) { if (e.key === "ArrowDown") fetchSuggestions(); return; }
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(options()[active]); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));

  const facets = document.getElementById("facets");
  if (facets) facets.addEventListener("change", () => facets.requestSubmit());
})();
