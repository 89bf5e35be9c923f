// Deliver a draft: upload the file through the media pipeline's resumable uploads (chunks on the embedded store,
// presigned parts on S3), private and unpublished, wait until it is processed, then submit it to the booking.
(function () {
  "use strict";
  const form = document.querySelector("form[data-draft-upload]");
  if (!form) return;
  const panel = document.querySelector(".bk-steps");
  const status = form.querySelector("[data-upload-status]");
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const say = (zh, en) => { status.textContent = xl.t(zh, en); };

  async function sha256(file) {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function state(id) { return (await xl.api("GET", `/api/v1/uploads/${id}`)).data; }

  async function sendChunks(up, file) {
    let offset = up.offset;
    while (offset < file.size) {
      const chunk = file.slice(offset, Math.min(file.size, offset + up.part_size));
      let r;
      try {
        r = await fetch(up.chunk_url, {method: "PUT", credentials: "same-origin", body: chunk,
          headers: {"Upload-Offset": String(offset), "X-CSRF-Token": csrf(), "Content-Type": "application/octet-stream"}});
      } catch (e) { r = null; }
      if (r && r.ok) { offset = (await r.json()).offset; }
      else { offset = (await state(up.id)).offset; }  // resume where the server says it is
      say(`上传中 ${Math.floor(100 * offset / file.size)}%`, `Uploading ${Math.floor(100 * offset / file.size)}%`);
    }
  }

  async function sendParts(up, file) {
    const total = Math.ceil(file.size / up.part_size);
    const have = new Set((up.parts || []).map((p) => p.part_number));
    const wanted = [];
    for (let n = 1; n <= total; n++) if (!have.has(n)) wanted.push(n);
    for (let i = 0; i < wanted.length; i += 50) {
      const batch = wanted.slice(i, i + 50);
      const urls = (await xl.api("POST", `/api/v1/uploads/${up.id}/parts`, {part_numbers: batch})).data.parts;
      for (const p of urls) {
        const start = (p.part_number - 1) * up.part_size;
        await fetch(p.url, {method: "PUT", body: file.slice(start, Math.min(file.size, start + up.part_size))});
        say(`上传中 ${Math.floor(100 * p.part_number / total)}%`, `Uploading ${Math.floor(100 * p.part_number / total)}%`);
      }
    }
  }

  async function untilProcessed(videoId) {
    for (;;) {
      const v = (await xl.api("GET", `/api/v1/videos/${videoId}`)).data;
      if (v && v.status === "ready") return v;
      if (!v || v.status === "failed") throw v && v.failure ? v.failure.message : "failed";
      const pct = v.progress && v.progress.percent != null ? ` ${Math.floor(v.progress.percent)}%` : "";
      say(`处理中${pct}…`, `Processing${pct}…`);
      await new Promise((done) => setTimeout(done, 1500));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.draft_file.files[0];
    if (!file) { say("请选择视频文件", "Choose a video file"); return; }
    form.querySelector("button").disabled = true;
    try {
      say("校验文件…", "Checking the file…");
      const r = await xl.api("POST", "/api/v1/uploads", {
        size: file.size, content_type: file.type || "video/mp4", checksum_sha256: await sha256(file),
        filename: file.name, title: form.elements.draft_title.value || file.name, publish: false, visibility: "private",
      });
      if (!r.ok) { xl.showErrors(panel, r.data); form.querySelector("button").disabled = false; return; }
      const up = r.data;
      await (up.mode === "multipart" ? sendParts(up, file) : sendChunks(up, file));
      const done = await xl.api("POST", `/api/v1/uploads/${up.id}/complete`);
      if (!done.ok) { xl.showErrors(panel, done.data); return; }
      await untilProcessed(up.video_id);
      say("提交草稿…", "Submitting the draft…");
      const s = await xl.api("POST", `/api/v1/bookings/${panel.dataset.booking}/submit_draft`,
        {video_id: up.video_id, expected_version: Number(panel.dataset.version)}, {idempotent: true});
      if (s.ok) { location.reload(); return; }
      xl.showErrors(panel, s.data);
    } catch (e) {
      status.textContent = String(e);
    }
    form.querySelector("button").disabled = false;
  });
})();
