// Inside WeChat's browser only: load WeChat's JS-SDK, sign this page through /api/v1/wechat/js-config, and set
// the card a friend or Moments sees when the page is shared (title, description, image, and the viewer's own
// signed share link when signed in). Elsewhere it does nothing and loads nothing.
(function () {
  "use strict";
  var SDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";
  if (!/MicroMessenger/i.test(navigator.userAgent)) return;
  var root = document.documentElement;

  function loadSdk(done) {
    if (window.wx) return done();
    var script = document.createElement("script");
    script.src = SDK;
    script.onload = done;
    script.onerror = function () { root.dataset.wechatShare = "sdk-unavailable"; };
    document.head.appendChild(script);
  }

  function configure(cfg) {
    var wx = window.wx;
    wx.config({
      debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr, signature: cfg.signature,
      jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"]
    });
    wx.ready(function () {
      var card = cfg.share;
      if (!card) return;
      var done = function () { root.dataset.wechatShare = "ready"; };
      wx.updateAppMessageShareData({ title: card.title, desc: card.desc, link: card.link, imgUrl: card.imgUrl || "",
                                     success: done });
      wx.updateTimelineShareData({ title: card.title, link: card.link, imgUrl: card.imgUrl || "" });
    });
    wx.error(function () { root.dataset.wechatShare = "refused"; });
  }

  var url = location.href.split("#")[0];
  fetch("/api/v1/wechat/js-config?url=" + encodeURIComponent(url), {
    credentials: "same-origin", headers: { Accept: "application/json" }
  }).then(function (r) { return r.ok ? r.json() : null; }).then(function (cfg) {
    if (cfg) loadSdk(function () { configure(cfg); });
  }).catch(function () {});
})();
