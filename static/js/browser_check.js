// The participant's first page (templates/studies/participant/instructions.html): before consent, check
// that this browser can play the study's videos (a short synthetic clip, static/studies/browser_check.mp4)
// and that the window is wide enough for two videos side by side. "Continue to consent" appears only once
// both pass; otherwise the page says plainly what is wrong and what to do. The window is checked again
// whenever it is resized, so widening it is enough.
(function () {
  var root = document.querySelector("[data-browser-check]");
  if (!root) return;
  var minWidth = parseInt(root.dataset.minWidth, 10) || 1024;
  var video = root.querySelector("video");
  var proceed = document.querySelector("[data-role=after-check]");
  var videoItem = root.querySelector("[data-check=video]");
  var windowItem = root.querySelector("[data-check=window]");
  var problem = root.querySelector("[data-role=problem]");
  root.querySelector("[data-role=needs-js]").hidden = true;
  var videoState = "pending"; // "pending", "ok" or "failed"
  var timer = null;

  function mark(item, state, text) {
    item.dataset.state = state;
    item.querySelector("[data-role=result]").textContent = text;
  }

  function update() {
    var width = window.innerWidth;
    var wide = width >= minWidth;
    mark(windowItem, wide ? "ok" : "failed",
      wide ? "Your window is wide enough." :
        "Your window is " + width + " pixels wide; the videos need at least " + minWidth + ".");
    var messages = [];
    if (videoState === "failed") {
      messages.push("This browser could not play the test video, so it cannot show the study's videos. " +
        "Please open this link in an up-to-date desktop browser (Chrome, Firefox, Edge or Safari).");
    }
    if (!wide) {
      messages.push("Your browser window is too small to show two videos side by side. Please make the " +
        "window wider (or maximise it): this page checks again by itself. On a phone or a tablet, please " +
        "open this link on a desktop or laptop computer instead.");
    }
    var passed = wide && videoState === "ok";
    root.dataset.result = passed ? "passed" : (videoState === "pending" && wide ? "pending" : "failed");
    problem.hidden = messages.length === 0;
    problem.querySelector("[data-role=problem-text]").textContent = messages.join(" ");
    if (proceed) proceed.hidden = !passed;
  }

  function videoDone(ok) {
    if (videoState !== "pending") return;
    videoState = ok ? "ok" : "failed";
    clearTimeout(timer);
    mark(videoItem, videoState, ok ? "The test video plays." : "The test video could not play.");
    update();
  }

  video.addEventListener("timeupdate", function () { if (video.currentTime > 0.3) videoDone(true); });
  video.addEventListener("ended", function () { videoDone(true); });
  video.addEventListener("error", function () { videoDone(false); });
  timer = setTimeout(function () { videoDone(false); }, 15000);
  var played = video.play();
  if (played && played.catch) played.catch(function (error) {
    if (error && error.name === "NotAllowedError") {
      // This browser waits for a click before any video plays: let the participant start the clip.
      clearTimeout(timer);
      video.controls = true;
      mark(videoItem, "pending", "Press play on the test video.");
    } else {
      videoDone(false);
    }
  });
  window.addEventListener("resize", update);
  update();
})();
