// Deliver a draft: upload the file with the shared resumable uploader (static/app/upload.js), private and
// unpublished, wait until it is processed, then submit it to the booking.
(function () {
  "use strict";
  const form = document.querySelector("form[data-draft-upload]");
  if (!form) return;
  const panel = document.querySelector(".bk-steps");
  const status = form.querySelector("[data-upload-status]");
  const say = (zh, en) => { status.textContent = xl.t(zh, en); };
  const pct = (sent, total) => Math.floor(100 * sent / (total || 1));
  // The campaign products ticked to show on the draft (undefined when the brief asks for none: cards stay as they are).
  const cards = (scope) => {
    const boxes = Array.from(scope.querySelectorAll('input[name="product_ids"]'));
    return boxes.length ? boxes.filter((b) => b.checked).map((b) => Number(b.value)) : undefined;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.draft_file.files[0];
    if (!file) { say("请选择视频文件", "Choose a video file"); return; }
    form.querySelector("button").disabled = true;
    try {
      say("校验文件…", "Checking the file…");
      // The title viewers will read once it is published: the artist's, else the campaign's (never a file name).
      const f = form.elements;
      const meta = {title: f.draft_title.value.trim() || form.dataset.defaultTitle, description: f.draft_caption.value,
        hashtags: f.draft_hashtags.value.split(/[,，\s#＃]+/).filter(Boolean), publish: false, visibility: "private"};
      const video = await xl.upload(file, meta, {onProgress: (sent, total) => say(`上传中 ${pct(sent, total)}%`,
        `Uploading ${pct(sent, total)}%`)});
      await xl.watchProcessing(video.id, (v) => {
        const p = v.progress && v.progress.percent != null ? ` ${Math.floor(v.progress.percent)}%` : "";
        say(`处理中${p}…`, `Processing${p}…`);
      });
      say("提交草稿…", "Submitting the draft…");
      const s = await xl.api("POST", `/api/v1/bookings/${panel.dataset.booking}/submit_draft`,
        {video_id: video.id, expected_version: Number(panel.dataset.version), product_ids: cards(form)},
        {idempotent: true});
      if (s.ok) { location.reload(); return; }
      xl.showErrors(panel, s.data);
    } catch (e) {
      if (e && e.failure) status.textContent = e.failure.message;  // processing failed: the reason
      else if (e && e.title) xl.showErrors(panel, e);  // the API refused: its problem document
      else status.textContent = String(e);
    }
    form.querySelector("button").disabled = false;
  });
})();
