// The one resumable uploader: `xl.upload(file, meta, {onProgress})` sends a file through the media pipeline's
// uploads API and resolves with the completed upload's video (the API's VideoOut). On the embedded store it PUTs
// chunks at the server's offset; on S3 it PUTs presigned parts. A dropped connection is not an error: it asks the
// server where it stands (offset, or the parts S3 holds) and continues from there, with a growing back-off.
// `onProgress(sent, total)` is called with bytes the server has plus bytes of the request in flight.
(function () {
  "use strict";
  const RETRIES = 8;
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));

  async function sha256(file) {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  // XHR rather than fetch: only XHR reports upload progress within a request. Resolves {status, body}; a network
  // failure resolves status 0, so callers treat "no answer" and "wrong answer" alike: ask the server and go on.
  function put(url, body, headers, onSent) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      Object.entries(headers).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      xhr.upload.onprogress = (e) => onSent(e.loaded);
      xhr.onload = () => resolve({status: xhr.status, body: xhr.responseText});
      xhr.onerror = xhr.onabort = xhr.ontimeout = () => resolve({status: 0, body: ""});
      xhr.send(body);
    });
  }

  async function state(id) {
    const r = await xl.api("GET", `/api/v1/uploads/${id}`);
    if (!r.ok) throw r.data || new Error("upload state unavailable");
    return r.data;
  }

  async function sendChunks(up, file, progress) {
    let offset = up.offset, failures = 0;
    while (offset < file.size) {
      const end = Math.min(file.size, offset + up.part_size);
      const r = await put(up.chunk_url, file.slice(offset, end), {
        "Upload-Offset": String(offset), "X-CSRF-Token": csrf(), "Content-Type": "application/octet-stream",
      }, (sent) => progress(offset + sent));
      if (r.status >= 200 && r.status < 300) {
        offset = JSON.parse(r.body).offset;
        failures = 0;
      } else {
        if (++failures > RETRIES) throw new Error("upload failed");
        await pause(Math.min(8000, 250 * 2 ** failures));
        offset = (await state(up.id)).offset;  // resume exactly where the server says it is
      }
      progress(offset);
    }
  }

  async function sendParts(up, file, progress) {
    const total = Math.ceil(file.size / up.part_size);
    const partBytes = (n) => Math.min(file.size, n * up.part_size) - (n - 1) * up.part_size;
    let done = new Set((up.parts || []).map((p) => p.part_number)), failures = 0;
    const stored = () => [...done].reduce((sum, n) => sum + partBytes(n), 0);
    for (;;) {
      const wanted = [];
      for (let n = 1; n <= total; n++) if (!done.has(n)) wanted.push(n);
      if (!wanted.length) return;
      let lost = false;
      for (let i = 0; i < wanted.length && !lost; i += 50) {
        const urls = await xl.api("POST", `/api/v1/uploads/${up.id}/parts`, {part_numbers: wanted.slice(i, i + 50)});
        if (!urls.ok) throw urls.data;
        for (const p of urls.data.parts) {
          const start = (p.part_number - 1) * up.part_size;
          const base = stored();
          const r = await put(p.url, file.slice(start, start + partBytes(p.part_number)), {}, (sent) => progress(base + sent));
          if (r.status >= 200 && r.status < 300) { done.add(p.part_number); progress(stored()); }
          else { lost = true; break; }
        }
      }
      if (lost) {
        if (++failures > RETRIES) throw new Error("upload failed");
        await pause(Math.min(8000, 250 * 2 ** failures));
        done = new Set(((await state(up.id)).parts || []).map((p) => p.part_number));  // what S3 really holds
        progress(stored());
      }
    }
  }

  // meta: the uploads API's fields besides the file's own (title, description, hashtags, publish, visibility,
  // brand_id). Rejects with the API's problem document when the API refuses.
  async function upload(file, meta, opts) {
    const onProgress = (opts && opts.onProgress) || (() => {});
    const onStart = (opts && opts.onStart) || (() => {});
    let high = 0;  // never let the bar run backwards when a chunk in flight is lost
    const progress = (sent) => { high = Math.max(high, Math.min(sent, file.size)); onProgress(high, file.size); };
    const started = await xl.api("POST", "/api/v1/uploads", Object.assign({
      size: file.size,
      // The file is probed whatever it claims; a type the API does not take is sent as plain bytes.
      content_type: /^video\//.test(file.type) ? file.type : "application/octet-stream",
      checksum_sha256: await sha256(file),
      filename: file.name,
    }, meta));
    if (!started.ok) throw started.data;
    const up = started.data;
    onStart(up);
    progress(up.offset);
    await (up.mode === "multipart" ? sendParts(up, file, progress) : sendChunks(up, file, progress));
    const done = await xl.api("POST", `/api/v1/uploads/${up.id}/complete`);
    if (!done.ok) throw done.data;
    onProgress(file.size, file.size);
    return done.data;
  }

  // Poll a video until processing ends: `onUpdate(video)` on every answer; resolves with the ready video, rejects
  // with the failed one (its `failure` says why).
  async function watchProcessing(videoId, onUpdate, opts) {
    const every = (opts && opts.interval) || 1500;
    for (;;) {
      const r = await xl.api("GET", `/api/v1/videos/${videoId}`);
      if (r.ok) {
        (onUpdate || (() => {}))(r.data);
        if (r.data.status === "ready") return r.data;
        if (r.data.status === "failed") throw r.data;
      }
      await pause(every);
    }
  }

  window.xl.upload = upload;
  window.xl.watchProcessing = watchProcessing;
})();
