// The studio's upload form: the shared resumable uploader drives a real progress bar (bytes the server has, plus
// the request in flight); then the processing panel follows the new video.
(function () {
  "use strict";
  const t = (zh, en) => xl.t(zh, en);

  const form = document.querySelector("form[data-studio-upload]");
  if (!form) return;
  const wrap = form.querySelector("[data-upload-progress]");
  const bar = wrap.querySelector("progress");
  const pct = wrap.querySelector("[data-upload-pct]");
  const after = document.querySelector("[data-upload-processing]");
  const button = form.querySelector("button[type=submit]");

  function focusUpload() {
    form.reset();
    form.scrollIntoView({block: "start"});
    form.elements.file.focus();
  }

  function show(sent, total) {
    const p = total ? Math.floor(100 * sent / total) : 100;
    bar.value = p;
    pct.textContent = `${p}%`;
    wrap.dataset.percent = String(p);
  }

  const hashtags = (text) => text.split(/[\s,，#]+/).map((s) => s.trim()).filter(Boolean);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    const box = form.querySelector("[data-errors]");
    // Checked here as the API checks them, with the same sentences: a video is never published as its file name.
    const title = form.elements.title.value.trim();
    const missing = [];
    if (!file) missing.push({field: "file", message: t("请选择视频文件", "Choose a video file")});
    if (!title) missing.push({field: "title", message: t("请填写视频标题（不会用文件名代替）", "Give the video a title (the file name is not used instead)")});
    if (missing.length) {
      xl.showErrors(form, {title: t("提交的数据有误", "Some fields are invalid"), errors: missing});
      (form.querySelector("[aria-invalid]") || form).focus();
      return;
    }
    xl.showErrors(form, {title: ""});
    const meta = {title, description: form.elements.description.value, hashtags: hashtags(form.elements.hashtags.value),
      visibility: form.elements.visibility.value, publish: form.elements.visibility.value === "public"};
    if (form.elements.brand_id && form.elements.brand_id.value) meta.brand_id = Number(form.elements.brand_id.value);
    button.disabled = true;
    wrap.hidden = false;
    show(0, file.size);
    after.textContent = "";
    try {
      const video = await xl.upload(file, meta, {onProgress: show});
      wrap.dataset.done = "true";
      xlStudio.watch(after, video.id, {uploadAnother: focusUpload, onReady: () => xl.refresh("[data-studio-list]")});
    } catch (e) {
      if (e && e.title) xl.showErrors(form, e);
      else box.textContent = t("上传中断，请重试", "The upload stopped; please try again");
    }
    button.disabled = false;
  });
})();
