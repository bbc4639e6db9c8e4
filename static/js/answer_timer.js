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
