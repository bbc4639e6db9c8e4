// Time spent on a matchup page goes with the answers (the server clamps it); nothing else is measured.
// The next matchup may be swapped in place (htmx): each answers form starts its own clock when it arrives.
(function () {
  htmx.onLoad(function (element) {
    var form = element.id === "answers" ? element : element.querySelector && element.querySelector("#answers");
    if (!form || form.dataset.timed) return;
    form.dataset.timed = "1";
    var started = performance.now();
    // In the capture phase: before htmx's own submit listener reads the form's fields.
    form.addEventListener("submit", function () {
      form.elements.elapsed_ms.value = Math.round(performance.now() - started);
    }, true);
  });
})();

// "Best of all" pages: each video has its own controls. How much of each has played is reported to the
// server, and Next / Finish unlock from the server's record, which is what the answer is checked against.
// (Two-video pages do the same through the shared A/B player.)
(function () {
  var root = document.querySelector("[data-watch-player]");
  if (!root) return;
  var videos = Array.prototype.slice.call(root.querySelectorAll("video"));
  var needed = parseFloat(root.dataset.watchNeeded) || 0;
  var buttons = Array.prototype.slice.call(root.querySelectorAll("[data-vote]"));
  var hint = root.querySelector('[data-role="lock-hint"]');
  var sent = "";
  var busy = false;

  function played(video) {
    if (!video.duration || !isFinite(video.duration)) return 0;
    var seen = 0;
    for (var i = 0; i < video.played.length; i++) seen += video.played.end(i) - video.played.start(i);
    return Math.min(1, seen / video.duration);
  }

  function csrfToken() {
    var input = document.querySelector("#answers input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function report() {
    if (busy || needed <= 0) return;
    var body = new URLSearchParams();
    videos.forEach(function (video, index) { body.append("watched_" + index, played(video).toFixed(4)); });
    if (body.toString() === sent) return;
    busy = true;
    fetch(root.dataset.watchUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin",
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (recorded) {
        if (!recorded) return;
        // The server caps what can have played by the time since the page was shown: when it
        // recorded less than was sent, the same numbers go again with the next tick.
        var short = recorded.watched.some(function (fraction, index) { return fraction < played(videos[index]) - 0.001; });
        sent = short ? "" : body.toString();
        for (var i = 0; i < buttons.length; i++) buttons[i].disabled = !!recorded.missing;
        if (hint) {
          hint.textContent = recorded.missing;
          hint.hidden = !recorded.missing;
        }
      })
      .catch(function () { sent = ""; })
      .then(function () { busy = false; });
  }

  videos.forEach(function (video) {
    video.addEventListener("pause", report);
    video.addEventListener("ended", report);
  });
  setInterval(report, 1000);
})();
