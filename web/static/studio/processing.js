// Processing status of one video, live: a progress bar with the pipeline's stage and an ETA, then either
// "ready" or the failure's reason with what can be done about it (retry when processing again can help,
// otherwise upload another file: a rejected file would fail the same way).
(function () {
  "use strict";
  const t = (zh, en) => xl.t(zh, en);
  const STAGES = {
    queued: ["排队中", "Queued"], downloading: ["准备中", "Preparing"], probing: ["检查文件", "Checking the file"],
    transcoding: ["转码中", "Transcoding"], packaging: ["打包中", "Packaging"], publishing: ["发布中", "Publishing"],
    retrying: ["稍后重试", "Retrying soon"], done: ["完成", "Done"],
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text != null) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    const s = Math.max(1, Math.round(seconds));
    return s < 60 ? t(`${s} 秒`, `${s} s`) : t(`${Math.floor(s / 60)} 分 ${s % 60} 秒`, `${Math.floor(s / 60)} min ${s % 60} s`);
  }

  // The worker reports an ETA from the start (an estimate from earlier runs until it measures its own); without
  // one, estimate from how fast the percentage has been moving.
  function etaOf(video, samples) {
    const p = video.progress;
    if (p && p.eta_seconds != null) return p.eta_seconds;
    if (!p || p.percent == null) return null;
    samples.push([Date.now(), p.percent]);
    const [t0, p0] = samples[0];
    const rate = (p.percent - p0) / ((Date.now() - t0) / 1000);
    return rate > 0 ? (100 - p.percent) / rate : null;
  }

  // Render into `box` and follow video `id` until it is ready or failed. `opts.onReady(video)`, and
  // `opts.uploadAnother()` for the "upload another file" control (default: go to the studio's upload form).
  function watch(box, id, opts) {
    opts = opts || {};
    box.textContent = "";
    const panel = el("div", {class: "st-processing", "data-processing": "", "data-video-id": String(id)});
    const bar = el("progress", {max: "100", "aria-label": t("处理进度", "Processing progress")});
    const line = el("div", {class: "st-processing-line", "aria-live": "polite", "data-processing-text": ""});
    panel.append(bar, line);
    box.appendChild(panel);
    const samples = [];
    xl.watchProcessing(id, (v) => {
      const p = v.progress || {};
      const stage = STAGES[p.stage] || (v.status === "uploaded" ? STAGES.queued : STAGES.transcoding);
      const pct = p.percent != null ? Math.floor(p.percent) : null;
      if (pct != null) bar.value = pct; else bar.removeAttribute("value");
      const eta = etaOf(v, samples);
      const parts = [t(stage[0], stage[1])];
      if (pct != null) parts.push(`${pct}%`);
      // From the moment processing starts (the server's first estimate), not only once progress has moved.
      line.dataset.eta = "";
      if (v.status === "processing" && (pct == null || pct < 100)) {
        if (eta != null) { parts.push(t(`预计还需 ${duration(eta)}`, `about ${duration(eta)} left`)); line.dataset.eta = String(Math.round(eta)); }
        else parts.push(t("正在估算剩余时间", "estimating the time left"));
      }
      if (v.stalled) parts.push(t("处理似乎停住了", "processing seems stuck"));
      line.textContent = parts.join(" · ");
    }).then((v) => {
      bar.value = 100;
      panel.dataset.status = "ready";
      line.textContent = t("处理完成", "Processing finished");
      const link = el("a", {class: "st-link", href: `/studio/videos/${v.id}${location.search}`}, t("关联商品 →", "Link products →"));
      panel.appendChild(link);
      if (opts.onReady) opts.onReady(v);
    }, (v) => showFailure(panel, v, () => watch(box, id, opts), opts));
  }

  function showFailure(panel, v, again, opts) {
    panel.textContent = "";
    panel.dataset.status = "failed";
    const failure = v && v.failure;
    const box = el("div", {class: "st-failure", role: "alert", "data-failure": failure ? failure.code : "unknown"});
    box.appendChild(el("strong", {}, t("处理失败：", "Processing failed: ") + (failure ? failure.message : t("未知原因", "unknown reason"))));
    if (failure && failure.detail) box.appendChild(el("div", {class: "st-muted"}, failure.detail));
    const actions = el("div", {class: "st-actions"});
    if (failure && failure.retryable) {
      const retry = el("button", {type: "button", class: "st-btn", "data-retry": ""}, t("重试", "Retry"));
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        const r = await xl.api("POST", `/api/v1/videos/${v.id}/requeue`);
        if (r.ok) { again(); return; }
        retry.disabled = false;
        xl.showErrors(box, r.data);
      });
      actions.appendChild(retry);
    } else {
      const another = el("button", {type: "button", class: "st-btn", "data-upload-another": ""}, t("上传其他文件", "Upload another file"));
      another.addEventListener("click", () => (opts.uploadAnother ? opts.uploadAnother() : location.assign(`/studio${location.search}#upload`)));
      actions.appendChild(another);
    }
    box.append(actions, el("div", {class: "st-errors", "data-errors": ""}));
    panel.appendChild(box);
  }

  // Videos the page shows as still processing (or failed) follow along; a page that has nothing to show before
  // the video is ready reloads then.
  document.querySelectorAll("[data-processing-for]").forEach((box) => {
    watch(box, Number(box.dataset.processingFor), {onReady: () => {
      if (box.hasAttribute("data-reload-when-ready")) { location.reload(); return; }
      const badge = box.parentElement.querySelector("[data-status-badge]");
      if (badge) { badge.textContent = t("已就绪", "Ready"); badge.className = "st-badge st-s-ready"; }
    }});
  });

  window.xlStudio = Object.assign(window.xlStudio || {}, {watch, el});
})();
