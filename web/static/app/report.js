// Report something (a video, comment, product or artist): any [data-report-subject] opens a small dialog with
// the reasons and a note; it posts to the API and says, in words, that the report arrived (or why not).
// A [data-report-subject="video"] without an id reports the video of the slide it sits in.
(function () {
  "use strict";
  const t = (zh, en) => xl.t(zh, en);
  const REASONS = [
    ["spam", t("垃圾广告", "Spam")], ["fraud", t("虚假宣传或假货", "Fake claims or counterfeit goods")],
    ["infringement", t("侵权或搬运", "Someone else's work or trademark")],
    ["inappropriate", t("低俗、暴力或仇恨内容", "Sexual, violent or hateful content")],
    ["prohibited", t("违禁商品", "Goods that may not be sold")], ["other", t("其他", "Something else")],
  ];

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  function open(subject, id) {
    const dialog = node("dialog", "rp-dialog");
    dialog.setAttribute("aria-labelledby", "rp-title");
    const form = node("form");
    form.method = "dialog";
    const title = node("h2", null, t("举报", "Report"));
    title.id = "rp-title";
    const fieldset = node("fieldset");
    fieldset.appendChild(node("legend", null, t("请选择原因", "Why are you reporting it?")));
    REASONS.forEach(([value, label], i) => {
      const row = node("label", "rp-reason");
      const radio = node("input");
      radio.type = "radio";
      radio.name = "reason";
      radio.value = value;
      radio.checked = i === 0;
      row.append(radio, document.createTextNode(" " + label));
      fieldset.appendChild(row);
    });
    const noteLabel = node("label", "rp-note", t("补充说明（可选）", "Anything else we should know (optional)"));
    const note = node("textarea");
    note.maxLength = 500;
    note.rows = 3;
    noteLabel.appendChild(note);
    const errors = node("div", "rp-errors");
    errors.setAttribute("data-errors", "");
    errors.setAttribute("role", "alert");
    const send = node("button", "btn-primary", t("提交举报", "Send the report"));
    send.type = "submit";
    const cancel = node("button", "btn-quiet", t("取消", "Cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => dialog.close());
    form.append(title, fieldset, noteLabel, errors, send, cancel);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => dialog.remove());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const reason = form.querySelector("input[name=reason]:checked").value;
      const r = await xl.api("POST", "/api/v1/reports", {subject_type: subject, subject_id: id, reason, note: note.value});
      if (r.status === 401) { xl.toLogin(); return; }
      if (!r.ok) { errors.textContent = (r.data && r.data.title) || t("网络错误，请重试", "Network error, please retry"); return; }
      form.replaceChildren(title, node("p", "rp-done", t("已收到你的举报，处理结果会通知你。", "Thank you: your report arrived, and we will tell you what came of it.")));
      const close = node("button", "btn-quiet", t("关闭", "Close"));
      close.type = "button";
      close.addEventListener("click", () => dialog.close());
      form.appendChild(close);
    });
    dialog.showModal();
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-report-subject]");
    if (!button) return;
    e.preventDefault();
    const subject = button.dataset.reportSubject;
    const slide = button.closest("[data-video-id]");
    const id = Number(button.dataset.reportId || (subject === "video" && slide ? slide.dataset.videoId : 0));
    if (id) open(subject, id);
  });
})();
